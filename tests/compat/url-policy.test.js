'use strict';
// The official Node client on a default server: predict by URL to loopback, private or link-local addresses answers
// 30106 (as ingestion does) without connecting — a loopback listener on the targeted port never sees a connection.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startIris, officialStub, call } = require('./iris-server');

const MAIN = { user_id: 'clarifai', app_id: 'main' };

let iris;
let stub;
let grpc;
let trap;
let connections = 0;

before(async () => {
  delete process.env.IRIS_INGEST_ALLOW_PRIVATE_URLS;
  iris = await startIris();
  ({ stub, grpc } = officialStub(iris.grpcTarget));
  trap = net.createServer((socket) => { connections++; socket.destroy(); });
  await new Promise((resolve) => trap.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  stub?.close();
  await new Promise((resolve) => (trap ? trap.close(resolve) : resolve()));
  const result = await iris?.stop();
  assert.equal(result.code, 0, 'iris exits cleanly on SIGTERM');
});

function auth() {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + iris.pat);
  return metadata;
}

test('predict by URL to internal addresses answers 30106 per output and at the top, without connecting', async () => {
  const port = trap.address().port;
  const urls = [
    `http://127.0.0.1:${port}/a.jpg`,
    `http://[::ffff:127.0.0.1]:${port}/a.jpg`,
    `http://[::7f00:1]:${port}/a.jpg`,
    `http://[::1]:${port}/a.jpg`,
    'http://10.0.0.1/a.jpg',
    'http://169.254.169.254/latest/meta-data/',
  ];
  const response = await call(stub, 'PostModelOutputs', {
    user_app_id: MAIN, model_id: 'general-image-recognition', inputs: urls.map((url) => ({ data: { image: { url } } })),
  }, auth());
  assert.equal(response.status.code, 30106, response.status.details);
  response.outputs.forEach((output, i) => {
    assert.equal(output.status.code, 30106, `${urls[i]}: ${output.status.details}`);
    assert.match(output.status.details, /internal address/);
  });
  assert.equal(connections, 0);
});
