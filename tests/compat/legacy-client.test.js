'use strict';
// What the legacy REST client `clarifai` 2.9.1 sends and reads, as it is: concept values as JSON booleans
// (inputs.create), and models.getOutputInfo reading the older model.output_info.data.concepts.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startIris, officialStub, call, ROOT } = require('./iris-server');

const METRO = fs.readFileSync(path.join(ROOT, 'node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg'));
const APP = { user_id: 'me', app_id: 'legacy' };
let iris;
let stub;
let grpc;
let legacy;

before(async () => {
  iris = await startIris();
  ({ stub, grpc } = officialStub(iris.grpcTarget));
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + iris.pat);
  const apps = await call(stub, 'PostApps', { user_app_id: { user_id: 'me' }, apps: [{ id: APP.app_id }] }, metadata);
  assert.equal(apps.status.code, 10000, apps.status.details);
  const keys = await call(stub, 'PostKeys', {
    user_app_id: { user_id: 'me' }, keys: [{ description: 'legacy', scopes: ['All'], apps: [{ id: APP.app_id, user_id: 'admin' }] }],
  }, metadata);
  assert.equal(keys.status.code, 10000, keys.status.details);
  const Clarifai = require('clarifai');
  legacy = new Clarifai.App({ apiKey: keys.keys[0].id, apiEndpoint: iris.restBase });
});

after(async () => {
  stub?.close();
  await iris?.stop();
});

const failure = (e) => { throw new Error(JSON.stringify(e.response?.data ?? e.message)); };

test('models.getOutputInfo of a built-in model reads its concepts from model.output_info', async () => {
  const model = await legacy.models.getOutputInfo('general-image-recognition').catch(failure);
  assert.equal(model.id, 'general-image-recognition');
  const concepts = model.outputInfo.data.concepts;
  assert.equal(concepts.length, 80);
  assert.ok(concepts.some((c) => c.id === 'ai_HLmqFqBf' && c.name === 'train'));

  // With a version: the versions/{version_id}/output_info route.
  const versioned = await legacy.models.getOutputInfo({ id: 'general-image-recognition', version: model.modelVersion.id }).catch(failure);
  assert.equal(versioned.outputInfo.data.concepts.length, 80);
});

test('inputs.create sends concept values as JSON booleans; they are stored as 1 and 0', async () => {
  const created = await legacy.inputs.create({
    base64: METRO.toString('base64'),
    id: 'metro',
    concepts: [{ id: 'train', value: true }, { id: 'dog', value: false }],
  }).catch(failure);
  assert.equal(created[0].id, 'metro');

  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + iris.pat);
  const annotations = await call(stub, 'ListAnnotations', { user_app_id: APP, input_ids: ['metro'] }, metadata);
  assert.equal(annotations.status.code, 10000);
  const values = Object.fromEntries(annotations.annotations[0].data.concepts.map((c) => [c.id, c.value]));
  assert.deepEqual(values, { train: 1, dog: 0 });
});
