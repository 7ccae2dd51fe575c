'use strict';
// Custom-model training with the official clients: the gRPC client (clarifai-nodejs-grpc) runs
// PostModels → PostModelVersions → poll GetModelVersion → PostModelOutputs; the legacy REST client (clarifai 2.9.1)
// runs models.create → model.train(sync) → model.predict; the Node SDK (clarifai-nodejs 0.4.0) creates a model.
// Photos: Debian's python3-skimage / python3-sklearn sample images, unpacked by tests/photos.sh.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startIris, officialStub, call, ROOT } = require('./iris-server');

const PHOTOS = path.join(ROOT, 'artifacts/photos');
const photo = (name) => fs.readFileSync(path.join(PHOTOS, name));
const APP = { user_id: 'admin', app_id: 'training' };

let iris;
let stub;
let grpc;

before(async () => {
  assert.ok(fs.existsSync(path.join(PHOTOS, '.complete')), 'run tests/photos.sh first (run-tests does)');
  process.env.IRIS_MODELS_DIR = process.env.IRIS_MODELS_DIR || path.join(os.tmpdir(), 'iris-test-models');
  iris = await startIris();
  ({ stub, grpc } = officialStub(iris.grpcTarget));
  const created = await call(stub, 'PostApps', { user_app_id: { user_id: 'me' }, apps: [{ id: APP.app_id }] }, auth());
  assert.equal(created.status.code, 10000, created.status.details);
  // Two photographs per subject, labelled; a rocket labelled negative for both.
  const labelled = [
    ['cat-1', 'chelsea.png', [['cat', 1]]], ['cat-2', 'astronaut.png', [['person', 1]]],
    ['coffee-1', 'coffee.png', [['coffee', 1]]], ['moto-1', 'motorcycle_left.png', [['motorcycle', 1]]],
    ['moto-2', 'motorcycle_right.png', [['motorcycle', 1]]], ['rocket', 'rocket.jpg', [['cat', 0], ['coffee', 0], ['motorcycle', 0]]],
  ];
  const posted = await call(stub, 'PostInputs', {
    user_app_id: APP,
    inputs: labelled.map(([id, file, concepts]) => ({ id, data: { image: { base64: photo(file) }, concepts: concepts.map(([c, v]) => ({ id: c, value: v })) } })),
  }, auth());
  assert.equal(posted.status.code, 10000, posted.status.details);
  for (const [id] of labelled) await waitInput(id);
});

after(async () => {
  stub?.close();
  const result = await iris?.stop();
  assert.equal(result.code, 0, 'iris exits cleanly on SIGTERM');
});

function auth(token) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + (token ?? iris.pat));
  return metadata;
}

async function waitInput(id) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const got = await call(stub, 'GetInput', { user_app_id: APP, input_id: id }, auth());
    if (got.input.status.code === 30000) return;
    assert.ok([30001, 30003].includes(got.input.status.code), `input ${id}: ${got.input.status.code} ${got.input.status.details}`);
    assert.ok(Date.now() < deadline, `input ${id} not processed within 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitTrained(modelId, versionId) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const got = await call(stub, 'GetModelVersion', { user_app_id: APP, model_id: modelId, version_id: versionId }, auth());
    assert.equal(got.status.code, 10000, got.status.details);
    if (![21103, 21101].includes(got.model_version.status.code)) return got.model_version;
    assert.ok(Date.now() < deadline, `version ${versionId} still training after 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('gRPC client: PostModels creates no version, PostModelVersions trains, PostModelOutputs predicts the trained concepts', async () => {
  const created = await call(stub, 'PostModels', { user_app_id: APP, models: [{ id: 'vehicles', model_type_id: 'embedding-classifier' }] }, auth());
  assert.equal(created.status.code, 10000, created.status.details);
  assert.equal(created.model.model_type_id, 'embedding-classifier');
  assert.equal(created.model.model_version, null);

  const version = await call(stub, 'PostModelVersions', {
    user_app_id: APP, model_id: 'vehicles',
    model_versions: [{
      output_info: { data: { concepts: [{ id: 'motorcycle' }, { id: 'coffee' }] }, output_config: { concepts_mutually_exclusive: false } },
      train_info: { params: { fields: { enrich_dataset: { stringValue: 'Automatic' } } } },
    }],
  }, auth());
  assert.equal(version.status.code, 10000, version.status.details);
  const versionId = version.model.model_version.id;
  assert.match(versionId, /^[0-9a-f]{32}$/);
  assert.ok([21103, 21101].includes(version.model.model_version.status.code));
  const trained = await waitTrained('vehicles', versionId);
  assert.equal(trained.status.code, 21100, trained.status.details);

  const predicted = await call(stub, 'PostModelOutputs', {
    user_app_id: APP, model_id: 'vehicles', version_id: versionId, inputs: [{ data: { image: { base64: photo('motorcycle_right.png') } } }],
  }, auth());
  assert.equal(predicted.status.code, 10000, predicted.status.details);
  const concepts = predicted.outputs[0].data.concepts;
  assert.deepEqual(concepts.map((c) => c.id).sort(), ['coffee', 'motorcycle']);
  assert.equal(concepts[0].id, 'motorcycle');
  assert.equal(concepts[0].app_id, 'training');
  assert.equal(predicted.outputs[0].model.model_version.id, versionId);

  const types = await call(stub, 'ListModelTypes', { user_app_id: APP }, auth());
  const classifier = types.model_types.find((t) => t.id === 'embedding-classifier');
  assert.equal(classifier.trainable, true);
  const enrich = classifier.model_type_fields.find((f) => f.path === 'train_info.params.enrich_dataset');
  assert.deepEqual(enrich.model_type_enum_options.map((o) => o.id), ['Automatic', 'Disabled']);
});

test('legacy REST client: models.create, model.train(sync), model.predict, models.search', async () => {
  const keys = await call(stub, 'PostKeys', {
    user_app_id: { user_id: 'me' }, keys: [{ description: 'legacy', scopes: ['All'], apps: [{ id: APP.app_id, user_id: 'admin' }] }],
  }, auth());
  assert.equal(keys.status.code, 10000, keys.status.details);
  const Clarifai = require('clarifai');
  const app = new Clarifai.App({ apiKey: keys.keys[0].id, apiEndpoint: iris.restBase });

  const model = await app.models.create('pets', [{ id: 'cat' }, { id: 'coffee' }]);
  assert.equal(model.id, 'pets');
  const trained = await model.train(true);
  assert.equal(trained.modelVersion.status.code, 21100);
  assert.deepEqual(trained.outputInfo.data.concepts.map((c) => c.id), ['cat', 'coffee']);

  const response = await trained.predict({ base64: photo('coffee.png').toString('base64') });
  assert.equal(response.status.code, 10000);
  assert.equal(response.outputs[0].data.concepts[0].id, 'coffee');

  const found = await app.models.search('pet*');
  assert.deepEqual(found.rawData.map((m) => m.id), ['pets']);
});

test('Node SDK: App.createModel, Model.createVersion, poll, Model.predictByBytes', async () => {
  const { App, Model } = require('clarifai-nodejs');
  const authConfig = { pat: iris.pat, userId: 'admin', appId: APP.app_id, base: `http://${iris.grpcTarget}` };
  const app = new App({ authConfig });
  const created = await app.createModel({ modelId: 'sdk-model', params: { modelTypeId: 'embedding-classifier' } });
  assert.equal(created.id, 'sdk-model');
  assert.equal(created.modelTypeId, 'embedding-classifier');

  const model = new Model({ modelId: 'sdk-model', authConfig });
  await model.loadInfo();
  const { ModelVersion, OutputInfo, Data, Concept } = require('clarifai-nodejs-grpc/proto/clarifai/api/resources_pb');
  const data = new Data();
  data.setConceptsList(['motorcycle', 'cat'].map((id) => { const c = new Concept(); c.setId(id); return c; }));
  const info = new OutputInfo();
  info.setData(data);
  const version = new ModelVersion();
  version.setOutputInfo(info);
  const withVersion = await model.createVersion(version);
  const versionId = withVersion.modelVersion.id;
  assert.equal((await waitTrained('sdk-model', versionId)).status.code, 21100);

  const trained = new Model({ modelId: 'sdk-model', modelVersion: { id: versionId }, authConfig });
  const outputs = await trained.predictByBytes({ inputBytes: photo('chelsea.png'), inputType: 'image' });
  assert.equal(outputs[0].data.conceptsList[0].id, 'cat');
  assert.equal(outputs[0].model.modelVersion.id, versionId);
});
