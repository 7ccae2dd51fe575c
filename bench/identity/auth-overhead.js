'use strict';
// Cost of authentication and app access per request, measured in one run against a real `./iris serve`:
// GetStatusCode (NoAuth: no key look-up) vs GetApp with an API key (key hash look-up + scope check + app look-up) vs
// GetApp with a PAT naming the app. Sequential calls over one gRPC channel with the official Node client.
// Usage: node bench/identity/auth-overhead.js   (starts its own server; N=3000 calls per kind, after 300 warm-up calls)
const { startIris, officialStub, call } = require('../../tests/compat/iris-server');

const N = Number(process.env.N || 3000);

async function time(label, fn) {
  for (let i = 0; i < 300; i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await fn();
  const us = Number(process.hrtime.bigint() - start) / 1000 / N;
  console.log(`${label.padEnd(34)} ${us.toFixed(1)} µs/call`);
  return us;
}

(async () => {
  const iris = await startIris();
  const { stub, grpc } = officialStub(iris.grpcTarget);
  const auth = (t) => { const m = new grpc.Metadata(); m.set('authorization', 'Key ' + t); return m; };
  try {
    const pat = auth(iris.pat);
    await call(stub, 'PostApps', { user_app_id: { user_id: 'me' }, apps: [{ id: 'bench' }] }, pat);
    const keys = await call(stub, 'PostKeys', { user_app_id: { user_id: 'me' }, keys: [{ scopes: ['All'], apps: [{ id: 'bench' }] }] }, pat);
    const key = auth(keys.keys[0].id);
    const none = new grpc.Metadata();
    // Two rounds; the second is reported (the first lets tiered JIT settle on every path).
    let base; let k; let p;
    for (const round of [1, 2]) {
      console.log(`round ${round}`);
      base = await time('GetStatusCode (no auth)', () => call(stub, 'GetStatusCode', { status_code_id: '10000' }, none));
      k = await time('GetApp, API key (short route)', () => call(stub, 'GetApp', {}, key));
      p = await time('GetApp, PAT naming the app', () => call(stub, 'GetApp', { user_app_id: { user_id: 'me', app_id: 'bench' } }, pat));
    }
    console.log(`ratio API key / no auth: ${(k / base).toFixed(2)}; PAT / no auth: ${(p / base).toFixed(2)}`);
  } finally {
    stub.close();
    await iris.stop();
  }
})();
