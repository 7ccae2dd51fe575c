'use strict';
// Search through the official clients against `./iris serve`: PostInputsSearches by image bytes and by concept with the
// official gRPC client (clarifai-nodejs-grpc), and the Node SDK's Search.query (clarifai-nodejs) with an image rank and
// a label filter, and the legacy REST client's inputs.search (query.ands) with an API key.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startIris, officialStub, call, ROOT } = require('./iris-server');

const METRO = fs.readFileSync(path.join(ROOT, 'node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg'));
const FACES = fs.readFileSync(path.join(ROOT, 'node_modules/@vladmandic/human/assets/screenshot-facedetect.jpg'));
const SAMPLES = fs.readFileSync(path.join(ROOT, 'node_modules/@vladmandic/human/assets/samples.jpg'));
const app = { user_id: 'admin', app_id: 'compat-search' };
let iris;
let stub;
let grpc;

before(async () => {
  process.env.IRIS_MODELS_DIR ??= path.join(os.tmpdir(), 'iris-test-models');
  iris = await startIris();
  ({ stub, grpc } = officialStub(iris.grpcTarget));
  const created = await call(stub, 'PostApps', { user_app_id: { user_id: 'me' }, apps: [{ id: app.app_id }] }, auth());
  assert.equal(created.status.code, 10000);
  const posted = await call(stub, 'PostInputs', {
    user_app_id: app,
    inputs: [
      { id: 'metro', data: { image: { base64: METRO }, concepts: [{ id: 'train', value: 1 }] } },
      { id: 'faces', data: { image: { base64: FACES }, concepts: [{ id: 'people', value: 1 }] } },
      { id: 'samples', data: { image: { base64: SAMPLES } } },
    ],
  }, auth());
  assert.equal(posted.status.code, 10000);
  for (const id of ['metro', 'faces', 'samples']) {
    await waitProcessed(id);
  }
});

after(async () => {
  stub?.close();
  await iris?.stop();
});

function auth() {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + iris.pat);
  return metadata;
}

async function waitProcessed(id) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await call(stub, 'GetInput', { user_app_id: app, input_id: id }, auth());
    assert.equal(response.status.code, 10000);
    if (response.input.status.code === 30000) {
      return;
    }
    assert.ok(response.input.status.code === 30001 || response.input.status.code === 30003, `input ${id}: ${response.input.status.code} ${response.input.status.details}`);
    assert.ok(Date.now() < deadline, `input ${id} still ${response.input.status.code}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('PostInputsSearches by image bytes: the same photo first at about 1, then the others in descending order', async () => {
  const response = await call(stub, 'PostInputsSearches', {
    user_app_id: app,
    searches: [{ query: { ranks: [{ annotation: { data: { image: { base64: METRO } } } }] } }],
    pagination: { page: 1, per_page: 10 },
  }, auth());
  assert.equal(response.status.code, 10000);
  assert.deepEqual(response.hits.map((h) => h.input.id).slice(0, 1), ['metro']);
  assert.equal(response.hits.length, 3);
  assert.ok(response.hits[0].score > 0.99, `score ${response.hits[0].score}`);
  assert.ok(response.hits[0].score > response.hits[1].score && response.hits[1].score >= response.hits[2].score);
  assert.equal(response.hits[0].app_id, app.app_id);
});

test('PostInputsSearches by concept: a predicted-concept rank and a label filter', async () => {
  const ranked = await call(stub, 'PostInputsSearches', {
    user_app_id: app,
    searches: [{ query: { ranks: [{ annotation: { data: { concepts: [{ name: 'train', value: 1 }] } } }] } }],
  }, auth());
  assert.equal(ranked.status.code, 10000);
  assert.equal(ranked.hits[0].input.id, 'metro');

  const filtered = await call(stub, 'PostInputsSearches', {
    user_app_id: app,
    searches: [{ query: { filters: [{ annotation: { data: { concepts: [{ id: 'people', value: 1 }] } } }] } }],
  }, auth());
  assert.equal(filtered.status.code, 10000);
  assert.deepEqual(filtered.hits.map((h) => [h.input.id, h.score]), [['faces', 1]]);
});

test('the Node SDK Search.query: image rank over annotations, and a label filter with an input type', async () => {
  const { Search } = require('clarifai-nodejs');
  const authConfig = { pat: iris.pat, userId: app.user_id, appId: app.app_id, base: `http://127.0.0.1:${iris.grpcPort}` };
  const search = new Search({ authConfig, topK: 2, metric: 'euclidean' });

  const pages = [];
  for await (const page of search.query({ ranks: [{ imageBytes: METRO }] })) {
    pages.push(page);
  }
  assert.equal(pages[0].status.code, 10000);
  assert.deepEqual(pages[0].hitsList.map((h) => h.input.id).slice(0, 1), ['metro']);
  assert.equal(pages[0].hitsList.length, 2);
  assert.equal(pages.at(-1).hitsList.length, 0, 'the SDK pages until an empty page');

  const labelled = [];
  for await (const page of new Search({ authConfig, topK: 10 }).query({ filters: [{ concepts: [{ id: 'train', value: 1 }] }] })) {
    labelled.push(...page.hitsList.map((h) => h.input.id));
  }
  assert.deepEqual(labelled, ['metro']);

  const images = [];
  for await (const page of new Search({ authConfig, topK: 10 }).query({ filters: [{ inputTypes: ['image'] }] })) {
    images.push(...page.hitsList.map((h) => h.input.id));
  }
  assert.deepEqual(images.sort(), ['faces', 'metro', 'samples']);
});

test('the legacy client (clarifai 2.9.1) inputs.search: visual, by input id, by predicted concept, by label', async () => {
  const keys = await call(stub, 'PostKeys', {
    user_app_id: { user_id: 'me' },
    keys: [{ description: 'legacy search', scopes: ['All'], apps: [{ id: app.app_id, user_id: app.user_id }] }],
  }, auth());
  assert.equal(keys.status.code, 10000);
  const Clarifai = require('clarifai');
  // The client rejects with the axios error; its body carries Iris' status, which is what a failure should show.
  const search = (query) => legacyApp.inputs.search(query).catch((e) => { throw new Error(JSON.stringify(e.response?.data ?? e.message)); });
  const legacyApp = new Clarifai.App({ apiKey: keys.keys[0].id, apiEndpoint: iris.restBase });

  const visual = await search({ input: { base64: METRO.toString('base64') } });
  assert.equal(visual.status.code, 10000);
  assert.equal(visual.hits[0].input.id, 'metro');
  assert.ok(visual.hits[0].score > 0.99);

  const similar = await search({ input: { id: 'faces' } });
  assert.equal(similar.hits[0].input.id, 'faces');

  // JSON booleans, as this client's own examples send them (Clarifai reads them as 1/0).
  const predicted = await search({ concept: { name: 'train', value: true } });
  assert.equal(predicted.hits[0].input.id, 'metro');

  const labelled = await search({ concept: { id: 'people', type: 'input', value: true } });
  assert.deepEqual(labelled.hits.map((h) => h.input.id), ['faces']);
});
