'use strict';
// Identity and access with the official Node client (clarifai-nodejs-grpc 11.11.0) against a real `./iris serve`:
// the quickstart flow (app + API key, then each credential used as Clarifai's rules allow), and users made by the
// operator with `iris users` while the server runs.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startIris, officialStub, call, ROOT } = require('./iris-server');

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

function auth(token) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + token);
  return metadata;
}

function cli(...args) {
  return execFileSync(path.join(ROOT, 'iris'), [...args, '--data-dir', iris.dataDir], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('an app and an API key: the key works on its app on the short routes, never elsewhere', async () => {
  const created = await call(stub, 'PostApps', { user_app_id: { user_id: 'me' }, apps: [{ id: 'compat-app', default_language: 'en' }] }, auth(iris.pat));
  assert.equal(created.status.code, 10000);
  assert.equal(created.apps[0].id, 'compat-app');
  assert.equal(created.apps[0].user_id, 'admin');

  const keys = await call(stub, 'PostKeys', {
    user_app_id: { user_id: 'me' },
    keys: [{ description: 'compat', scopes: ['All'], apps: [{ id: 'compat-app', user_id: 'admin' }] }],
  }, auth(iris.pat));
  assert.equal(keys.status.code, 10000);
  const key = keys.keys[0].id;
  assert.match(key, /^[0-9a-f]{32}$/);

  const own = await call(stub, 'GetApp', {}, auth(key));
  assert.equal(own.status.code, 10000);
  assert.equal(own.app.id, 'compat-app');

  const scopes = await call(stub, 'MyScopes', {}, auth(key));
  assert.deepEqual(scopes.scopes, ['All']);
  assert.equal(scopes.app.id, 'compat-app');

  const main = await call(stub, 'GetApp', { user_app_id: { user_id: 'clarifai', app_id: 'main' } }, auth(key));
  assert.equal(main.status.code, 11008);
  assert.equal(main.status.description, 'Invalid API key or Invalid API key/application pair');
  assert.equal(main.status.details, "An app-specific API key reaches only its own app; use a personal access token to reach app 'main' of user 'clarifai'.");

  const patOnly = await call(stub, 'ListApps', {}, auth(key));
  assert.equal(patOnly.status.code, 11008);
  assert.equal(patOnly.status.details, 'ListApps takes a personal access token; an app-specific API key cannot call it.');
});

test('a PAT names the owner and app: its own apps, and clarifai/main read-only', async () => {
  const noApp = await call(stub, 'GetApp', {}, auth(iris.pat));
  assert.equal(noApp.status.code, 11008);
  assert.equal(noApp.status.details, 'Must provide app external ID in API authorizer');

  const main = await call(stub, 'GetApp', { user_app_id: { user_id: 'clarifai', app_id: 'main' } }, auth(iris.pat));
  assert.equal(main.status.code, 10000);
  assert.equal(main.app.visibility.gettable, 50);

  const write = await call(stub, 'PatchApp', { user_app_id: { user_id: 'clarifai', app_id: 'main' }, app: { description: 'mine now' }, action: 'overwrite' }, auth(iris.pat));
  assert.equal(write.status.code, 11101);
  assert.equal(write.status.description, 'Resource does not exist');
});

test('users and tokens made with `iris users` while the server runs work at once; deleted ones stop at once', async () => {
  cli('users', 'create', 'dana', '--first-name', 'Dana');
  const token = cli('users', 'token', 'dana').trim();
  assert.match(token, /^[0-9a-f]{32}$/);
  assert.match(cli('users', 'list'), /^dana\tDana\t\t1\t/m);

  const me = await call(stub, 'GetUser', { user_app_id: { user_id: 'me' } }, auth(token));
  assert.equal(me.status.code, 10000);
  assert.equal(me.user.id, 'dana');

  // Dana is a stranger to admin's private app: it answers as if it did not exist.
  const hidden = await call(stub, 'GetApp', { user_app_id: { user_id: 'admin', app_id: 'compat-app' } }, auth(token));
  assert.equal(hidden.status.code, 11101);
  assert.equal(hidden.status.details, "App 'compat-app' of user 'admin' does not exist.");

  cli('users', 'delete', 'dana');
  const gone = await call(stub, 'GetUser', { user_app_id: { user_id: 'me' } }, auth(token));
  assert.equal(gone.status.code, 11009);
});
