'use strict';
// The upload → poll → list → patch → delete flow of the official Node client (clarifai-nodejs-grpc) against `./iris serve`.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { startIris, officialStub, call, ROOT } = require('./iris-server');

const PHOTO = fs.readFileSync(path.join(ROOT, 'node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg'));
let iris;
let stub;
let grpc;
let web;
let webBase;

before(async () => {
  // URL inputs come from a local server; the operator setting lets ingestion fetch from loopback.
  process.env.IRIS_INGEST_ALLOW_PRIVATE_URLS = '1';
  web = http.createServer((req, res) => {
    if (req.url === '/metro.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(PHOTO);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
  webBase = `http://127.0.0.1:${web.address().port}`;
  iris = await startIris();
  ({ stub, grpc } = officialStub(iris.grpcTarget));
});

after(async () => {
  stub?.close();
  web?.close();
  await iris?.stop();
});

function auth() {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + iris.pat);
  return metadata;
}

const app = { user_id: 'me', app_id: 'compat-inputs' };

async function waitProcessed(id) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await call(stub, 'GetInput', { user_app_id: app, input_id: id }, auth());
    assert.equal(response.status.code, 10000);
    const code = response.input.status.code;
    if (code !== 30001 && code !== 30003) {
      return response.input;
    }
    assert.ok(Date.now() < deadline, `input ${id} still ${code}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('upload by bytes and URL, poll to 30000, list, patch, delete', async () => {
  await call(stub, 'PostApps', { user_app_id: { user_id: 'me' }, apps: [{ id: app.app_id }] }, auth());
  const posted = await call(stub, 'PostInputs', {
    user_app_id: app,
    inputs: [
      { id: 'bytes', data: { image: { base64: PHOTO }, concepts: [{ id: 'train', value: 1 }, { id: 'dog' }], metadata: { fields: { key1: { numberValue: 123 } } } } },
      { id: 'url', data: { image: { url: `${webBase}/metro.jpg`, allow_duplicate_url: true } } },
    ],
  }, auth());
  assert.equal(posted.status.code, 10000);
  assert.deepEqual(posted.inputs.map((i) => i.status.code), [30001, 30001]);

  const bytes = await waitProcessed('bytes');
  assert.equal(bytes.status.code, 30000);
  assert.equal(bytes.data.image.image_info.width, 512);
  assert.equal(bytes.data.image.image_info.height, 384);
  assert.deepEqual(bytes.data.image.hosted.sizes, ['orig', 'small']);
  // "We didn't set any concept value, so it should be set to 0 by default" (the official client's own test).
  assert.equal(bytes.data.concepts.find((c) => c.id === 'dog').value, 0);
  assert.equal(bytes.data.metadata.fields.key1.numberValue, 123);
  const url = await waitProcessed('url');
  assert.equal(url.status.code, 30000);
  assert.equal(url.data.image.url, `${webBase}/metro.jpg`);

  // The hosted copy is served to the same credentials over REST.
  const hosted = bytes.data.image.hosted;
  const res = await fetch(`${hosted.prefix}/orig/${hosted.suffix}`, { headers: { authorization: 'Key ' + iris.pat } });
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), PHOTO);

  const listed = await call(stub, 'ListInputs', { user_app_id: app, per_page: 10, status: { code: 30000 } }, auth());
  assert.deepEqual(listed.inputs.map((i) => i.id).sort(), ['bytes', 'url']);
  const counts = await call(stub, 'GetInputCount', { user_app_id: app }, auth());
  assert.equal(counts.counts.processed, 2);

  const merged = await call(stub, 'PatchInputs', {
    user_app_id: app,
    action: 'merge',
    inputs: [{ id: 'bytes', data: { concepts: [{ id: 'another-positive-concept', value: 1 }], metadata: { fields: { 'new-key': { stringValue: 'new-value' } } } } }],
  }, auth());
  assert.equal(merged.status.code, 10000);
  assert.deepEqual(merged.inputs[0].data.concepts.map((c) => c.id), ['train', 'dog', 'another-positive-concept']);
  assert.equal(merged.inputs[0].data.metadata.fields.key1.numberValue, 123);
  assert.equal(merged.inputs[0].data.metadata.fields['new-key'].stringValue, 'new-value');

  const removed = await call(stub, 'PatchInputs', { user_app_id: app, action: 'remove', inputs: [{ id: 'bytes', data: { concepts: [{ id: 'dog' }] } }] }, auth());
  assert.deepEqual(removed.inputs[0].data.concepts.map((c) => c.id), ['train', 'another-positive-concept']);

  const deleted = await call(stub, 'DeleteInputs', { user_app_id: app, ids: ['bytes', 'url'] }, auth());
  assert.equal(deleted.status.code, 10000);
  for (const id of ['bytes', 'url']) {
    const gone = await call(stub, 'GetInput', { user_app_id: app, input_id: id }, auth());
    assert.equal(gone.status.code, 11101);
  }
});

test('a duplicate id fails with the text the SDK matches, and an add job tracks progress', async () => {
  const first = await call(stub, 'PostInputs', { user_app_id: app, inputs_add_job_id: 'upload-1', inputs: [{ id: 'dup', data: { text: { raw: 'hello' } } }] }, auth());
  assert.equal(first.inputs_add_job.id, 'upload-1');
  const second = await call(stub, 'PostInputs', { user_app_id: app, inputs: [{ id: 'dup', data: { text: { raw: 'hello' } } }] }, auth());
  assert.equal(second.status.code, 10020);
  assert.equal(second.inputs[0].status.details, 'Input has a duplicate ID.');

  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await call(stub, 'GetInputsAddJob', { user_app_id: app, id: 'upload-1' }, auth());
    const p = job.inputs_add_job.progress;
    if (Number(p.pending_count) === 0 && Number(p.in_progress_count) === 0) {
      assert.equal(Number(p.success_count), 1);
      break;
    }
    assert.ok(Date.now() < deadline);
    await new Promise((r) => setTimeout(r, 50));
  }
});
