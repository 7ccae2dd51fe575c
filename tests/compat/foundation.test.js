'use strict';
// The official Node client (clarifai-nodejs-grpc 11.11.0) and plain HTTP, against a real `./iris serve`.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startIris, officialStub, call } = require('./iris-server');

let iris;
let stub;
let grpc;

before(async () => {
  iris = await startIris();
  ({ stub, grpc } = officialStub(iris.grpcTarget));
});

after(async () => {
  stub?.close();
  const result = await iris?.stop();
  assert.equal(result.code, 0, 'iris exits cleanly on SIGTERM');
});

function auth(pat = iris.pat) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + pat);
  return metadata;
}

test('ListStatusCodes needs no key and lists every code', async () => {
  const response = await call(stub, 'ListStatusCodes', {}, new grpc.Metadata());
  assert.equal(response.status.code, 10000);
  assert.equal(response.status.description, 'Ok');
  assert.match(response.status.req_id, /^[0-9a-f]{32}$/);
  assert.ok(response.statuses.length > 300);
  const missing = response.statuses.find((s) => s.code === 21200);
  assert.equal(missing.description, 'Model does not exist');
});

test('GetStatusCode describes one code', async () => {
  const response = await call(stub, 'GetStatusCode', { status_code_id: '11009' }, new grpc.Metadata());
  assert.equal(response.status.code, 11009);
  assert.equal(response.status.description, 'API key not found');
});

test('an RPC not implemented yet answers 10040 naming it', async () => {
  // Compute clusters are a hosted-platform concept Iris does not serve.
  const response = await call(stub, 'ListComputeClusters', { user_app_id: { user_id: 'me' } }, auth());
  assert.equal(response.status.code, 10040);
  assert.equal(response.status.details, 'ListComputeClusters is not implemented in this version of Iris.');
  assert.deepEqual(response.compute_clusters, []);
});

test('a missing key, an unknown key and a malformed key are refused precisely', async () => {
  const none = await call(stub, 'ListModels', { user_app_id: { user_id: 'me', app_id: 'main' } }, new grpc.Metadata());
  assert.equal(none.status.code, 11102);
  assert.equal(none.status.description, 'Invalid request');
  assert.equal(none.status.details, 'Empty or malformed authorization header. Please provide an API key or session token.');

  const unknown = await call(stub, 'ListModels', { user_app_id: { user_id: 'me', app_id: 'main' } }, auth('0123456789abcdef0123456789abcdef'));
  assert.equal(unknown.status.code, 11009);
  assert.equal(unknown.status.description, 'API key not found');

  const malformed = await call(stub, 'ListModels', {}, auth('bad*key'));
  assert.equal(malformed.status.code, 11008);
  assert.equal(malformed.status.description, 'Invalid API key or Invalid API key/application pair');
  assert.equal(malformed.status.details, 'Invalid format of key.');
});

test('REST answers curl-style requests with snake_case JSON and mapped HTTP statuses', async () => {
  const ok = await fetch(`${iris.restBase}/v2/status_codes/21200`);
  assert.equal(ok.status, 200);
  const body = await ok.json();
  assert.deepEqual(Object.keys(body.status), ['code', 'description', 'details', 'req_id']);
  assert.equal(body.status.code, 21200);
  assert.equal(ok.headers.get('x-clarifai-request-id'), body.status.req_id);

  const unauthorized = await fetch(`${iris.restBase}/v2/models`, { headers: { Authorization: 'Key 0123456789abcdef0123456789abcdef' } });
  assert.equal(unauthorized.status, 401);
  assert.equal((await unauthorized.json()).status.code, 11009);

  const notImplemented = await fetch(`${iris.restBase}/v2/users/me/compute_clusters`, {
    method: 'POST',
    headers: { Authorization: `Key ${iris.pat}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ compute_clusters: [{ id: 'c1' }] }),
  });
  assert.equal(notImplemented.status, 501);
  const niBody = await notImplemented.json();
  assert.equal(niBody.status.code, 10040);
  assert.deepEqual(niBody.compute_clusters, []);

  const health = await fetch(`${iris.restBase}/healthz`);
  assert.equal(health.status, 200);
});
