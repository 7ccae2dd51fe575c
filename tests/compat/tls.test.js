'use strict';
// TLS on both ports with a self-signed certificate the test makes (openssl, as docs/deploy.md shows): the official Node
// client's TLS channel (grpc.credentials.createSsl with that certificate as root, what ClarifaiStub.grpc() uses), the
// gRPC-web client and node:https for REST, each trusting only that certificate.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { startIris, call } = require('./iris-server');

let iris;
let dir;
let rootCert;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iris-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=iris-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', path.join(dir, 'iris.key'), '-out', path.join(dir, 'iris.crt')], { stdio: 'ignore' });
  rootCert = fs.readFileSync(path.join(dir, 'iris.crt'));
  iris = await startIris(['--tls-cert', path.join(dir, 'iris.crt'), '--tls-key', path.join(dir, 'iris.key')]);
});

after(async () => {
  await iris?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function tlsStub(target, roots) {
  const { ClarifaiStub, grpc } = require('clarifai-nodejs-grpc');
  const template = ClarifaiStub.insecureGrpc();
  const V2 = template.constructor;
  template.close();
  return { stub: new V2(target, grpc.credentials.createSsl(roots)), grpc };
}

test('the official Node client over TLS (createSsl with the certificate as root) lists apps and reads a status code', async () => {
  assert.equal(iris.scheme, 'https');
  const { stub, grpc } = tlsStub(`localhost:${iris.grpcPort}`, rootCert);
  try {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Key ' + iris.pat);
    const apps = await call(stub, 'ListApps', { user_app_id: { user_id: 'me' } }, metadata);
    assert.equal(apps.status.code, 10000);
    // GetStatusCode answers with the status asked about as its own.
    const code = await call(stub, 'GetStatusCode', { status_code_id: '21200' }, new grpc.Metadata());
    assert.equal(code.status.code, 21200);
    assert.equal(code.status.description, 'Model does not exist');
  } finally {
    stub.close();
  }
});

test('a TLS client that does not trust the certificate cannot call', async () => {
  const { stub, grpc } = tlsStub(`localhost:${iris.grpcPort}`, undefined);
  try {
    await assert.rejects(call(stub, 'ListStatusCodes', {}, new grpc.Metadata()), (e) => e.code === grpc.status.UNAVAILABLE);
  } finally {
    stub.close();
  }
});

function get(port, pathname, ca) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: pathname, ca, servername: 'localhost', headers: { authorization: 'Key ' + iris.pat } }, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('REST over HTTPS with node:https trusting the certificate', async () => {
  const response = await get(iris.httpPort, '/v2/users/me/apps', rootCert);
  assert.equal(response.status, 200);
  assert.equal(JSON.parse(response.body).status.code, 10000);
  await assert.rejects(get(iris.httpPort, '/v2/users/me/apps', undefined), (e) => e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT');
});
