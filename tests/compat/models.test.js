'use strict';
// The official Node client predicting with every built-in model by bytes, URL and input id, plus the model reads the
// SDKs make before a predict (GetModel → GetModelType → input_fields).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { startIris, officialStub, call, ROOT } = require('./iris-server');

const METRO = path.join(ROOT, 'node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg');
const FACES = path.join(ROOT, 'node_modules/@vladmandic/human/assets/screenshot-facedetect.jpg');
const VRM = path.join(ROOT, 'node_modules/@vladmandic/human/assets/screenshot-vrm.jpg');
const MAIN = { user_id: 'clarifai', app_id: 'main' };

// What each built-in model must find in its photo.
const MODELS = {
  'general-image-recognition': { photo: METRO, check: (d) => assert.ok(d.concepts.slice(0, 3).some((c) => c.name === 'train')) },
  'general-image-detection': { photo: METRO, check: (d) => assert.ok(d.regions.some((r) => r.data.concepts[0].name === 'train')) },
  'general-image-embedding': { photo: METRO, check: (d) => assert.equal(d.embeddings[0].vector.length, 1280) },
  'nsfw-recognition': { photo: METRO, check: (d) => assert.equal(d.concepts[0].name, 'neutral') },
  'face-detection': { photo: FACES, check: (d) => assert.equal(d.regions.length, 5) },
  'face-attributes': { photo: FACES, check: (d) => assert.ok(d.regions[0].data.concepts.some((c) => c.vocab_id === 'emotion')) },
  'person-segmentation': { photo: FACES, check: (d) => assert.ok(d.regions[0].region_info.mask.image.base64.length > 0) },
  // An avatar on a dark floor grid: one foreground mask the size of the screenshot.
  'image-subject-segmentation': { photo: VRM, check: (d) => {
    assert.equal(d.regions.length, 1);
    assert.equal(d.regions[0].data.concepts[0].name, 'foreground');
    assert.deepEqual([d.regions[0].region_info.mask.image.image_info.width, d.regions[0].region_info.mask.image.image_info.height], [800, 653]);
  } },
  // The screenshot's UI has text; what matters here is the shape: every region carries its text.
  'ocr-scene-english-paddleocr': { photo: FACES, check: (d) => { assert.ok(d.regions.length > 0); for (const r of d.regions) assert.ok(r.data.text.raw.length > 0); } },
};

let iris;
let stub;
let grpc;
let photos;
let photoBase;

before(async () => {
  // Share converted models across runs (conversion happens once per machine).
  process.env.IRIS_MODELS_DIR = path.join(os.tmpdir(), 'iris-test-models');
  // Predict by URL fetches from the photo server below, on loopback: the operator setting that allows private addresses.
  process.env.IRIS_INGEST_ALLOW_PRIVATE_URLS = '1';
  iris = await startIris();
  ({ stub, grpc } = officialStub(iris.grpcTarget));
  photos = http.createServer((req, res) => {
    const file = { '/metro-north.jpg': METRO, '/faces.jpg': FACES, '/vrm.jpg': VRM }[req.url];
    if (!file) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    res.end(fs.readFileSync(file));
  });
  await new Promise((resolve) => photos.listen(0, '127.0.0.1', resolve));
  photoBase = `http://127.0.0.1:${photos.address().port}`;
});

after(async () => {
  stub?.close();
  await new Promise((resolve) => (photos ? photos.close(resolve) : resolve()));
  const result = await iris?.stop();
  assert.equal(result.code, 0, 'iris exits cleanly on SIGTERM');
});

function auth() {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + iris.pat);
  return metadata;
}

for (const [modelId, { photo, check }] of Object.entries(MODELS)) {
  test(`${modelId}: the SDK's reads, then predict by bytes and by URL`, async () => {
    const model = await call(stub, 'GetModel', { user_app_id: MAIN, model_id: modelId }, auth());
    assert.equal(model.status.code, 10000);
    const type = await call(stub, 'GetModelType', { user_app_id: MAIN, model_type_id: model.model.model_type_id }, auth());
    assert.equal(type.model_type.input_fields[0], 'image');

    const bytes = await call(stub, 'PostModelOutputs', {
      user_app_id: MAIN, model_id: modelId, inputs: [{ data: { image: { base64: fs.readFileSync(photo) } } }],
    }, auth());
    assert.equal(bytes.status.code, 10000, bytes.status.details);
    assert.equal(bytes.outputs[0].model.id, modelId);
    check(bytes.outputs[0].data);

    const url = photoBase + { [METRO]: '/metro-north.jpg', [FACES]: '/faces.jpg', [VRM]: '/vrm.jpg' }[photo];
    const byUrl = await call(stub, 'PostModelOutputs', {
      user_app_id: MAIN, model_id: modelId, version_id: model.model.model_version.id, inputs: [{ data: { image: { url } } }],
    }, auth());
    assert.equal(byUrl.status.code, 10000, byUrl.status.details);
    assert.equal(byUrl.outputs[0].input.data.image.url, url);
    check(byUrl.outputs[0].data);
  });
}

test('predict by input id: every built-in model on stored inputs, an unknown id answers 30102', async () => {
  const APP = { user_id: 'me', app_id: 'my-app' };
  const created = await call(stub, 'PostApps', { user_app_id: { user_id: 'me' }, apps: [{ id: 'my-app' }] }, auth());
  assert.equal(created.status.code, 10000, created.status.details);
  const stored = { [METRO]: 'metro', [FACES]: 'faces', [VRM]: 'vrm' };
  const posted = await call(stub, 'PostInputs', {
    user_app_id: APP, inputs: Object.entries(stored).map(([file, id]) => ({ id, data: { image: { base64: fs.readFileSync(file) } } })),
  }, auth());
  assert.equal(posted.status.code, 10000, posted.status.details);
  const deadline = Date.now() + 120_000;
  for (const id of Object.values(stored)) {
    for (;;) {
      const got = await call(stub, 'GetInput', { user_app_id: APP, input_id: id }, auth());
      if (got.input.status.code === 30000) break;
      assert.ok([30001, 30003].includes(got.input.status.code), `input ${id} failed: ${got.input.status.code} ${got.input.status.details}`);
      assert.ok(Date.now() < deadline, `input ${id} not processed within 120 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  for (const [modelId, { photo, check }] of Object.entries(MODELS)) {
    const response = await call(stub, 'PostModelOutputs', { user_app_id: APP, model_id: modelId, inputs: [{ id: stored[photo] }] }, auth());
    assert.equal(response.status.code, 10000, `${modelId}: ${response.status.details}`);
    assert.equal(response.outputs[0].input.id, stored[photo]);
    check(response.outputs[0].data);
  }

  const mixed = await call(stub, 'PostModelOutputs', {
    user_app_id: APP, model_id: 'general-image-recognition', inputs: [{ id: 'metro' }, { id: 'not-there' }],
  }, auth());
  assert.equal(mixed.status.code, 10010);
  assert.equal(mixed.outputs[0].status.code, 10000);
  assert.equal(mixed.outputs[1].status.code, 30102);
  assert.equal(mixed.outputs[1].status.details, "Input 'not-there' does not exist in app 'admin/my-app'.");
});

test('a broken URL fails with 30002 and an unknown model with 21200', async () => {
  const broken = await call(stub, 'PostModelOutputs', {
    user_app_id: MAIN, model_id: 'general-image-recognition', inputs: [{ data: { image: { url: photoBase + '/nothing.jpg' } } }],
  }, auth());
  assert.equal(broken.status.code, 30002);
  assert.equal(broken.outputs[0].status.code, 30002);

  const unknown = await call(stub, 'PostModelOutputs', { user_app_id: MAIN, model_id: 'no-such-model', inputs: [] }, auth());
  assert.equal(unknown.status.code, 21200);
  assert.equal(unknown.status.description, 'Model does not exist');
});

test('ListModels pages and filters by model type', async () => {
  const page = await call(stub, 'ListModels', { user_app_id: MAIN, per_page: 2 }, auth());
  assert.equal(page.models.length, 2);
  const detectors = await call(stub, 'ListModels', { user_app_id: MAIN, model_type_id: 'visual-detector' }, auth());
  assert.deepEqual(detectors.models.map((m) => m.id).sort(), ['face-attributes', 'face-detection', 'general-image-detection', 'ocr-scene-english-paddleocr']);
});
