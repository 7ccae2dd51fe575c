'use strict';
// The official clients' workflow flows: the official gRPC client's PostWorkflows / PostWorkflowResults, the Node SDK's
// Workflow.predictByBytes and predictByUrl, and the legacy JS client's workflow.predict with an app-specific API key.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { startIris, officialStub, call, ROOT } = require('./iris-server');

const METRO = path.join(ROOT, 'node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg');
const FACES = path.join(ROOT, 'node_modules/@vladmandic/human/assets/screenshot-facedetect.jpg');
const MAIN = { user_id: 'clarifai', app_id: 'main' };
const APP = { user_id: 'me', app_id: 'wf-app' };

let iris;
let stub;
let grpc;
let photos;
let photoBase;

before(async () => {
  process.env.IRIS_MODELS_DIR = process.env.IRIS_MODELS_DIR || path.join(os.tmpdir(), 'iris-test-models');
  process.env.IRIS_INGEST_ALLOW_PRIVATE_URLS = '1';
  iris = await startIris();
  ({ stub, grpc } = officialStub(iris.grpcTarget));
  photos = http.createServer((req, res) => {
    const file = { '/metro-north.jpg': METRO, '/faces.jpg': FACES }[req.url];
    if (!file) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    res.end(fs.readFileSync(file));
  });
  await new Promise((resolve) => photos.listen(0, '127.0.0.1', resolve));
  photoBase = `http://127.0.0.1:${photos.address().port}`;
  const created = await call(stub, 'PostApps', { user_app_id: { user_id: 'me' }, apps: [{ id: APP.app_id }] }, auth());
  assert.equal(created.status.code, 10000, created.status.details);
});

after(async () => {
  stub?.close();
  await new Promise((resolve) => (photos ? photos.close(resolve) : resolve()));
  const result = await iris?.stop();
  assert.equal(result.code, 0, 'iris exits cleanly on SIGTERM');
});

function auth(token = iris.pat) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', 'Key ' + token);
  return metadata;
}

test('official client: General in clarifai/main with max_concepts 3, as the SDK tests call it', async () => {
  const response = await call(stub, 'PostWorkflowResults', {
    user_app_id: MAIN, workflow_id: 'General', inputs: [{ data: { image: { base64: fs.readFileSync(METRO) } } }], output_config: { max_concepts: 3 },
  }, auth());
  assert.equal(response.status.code, 10000, response.status.details);
  const [concepts, embedding] = response.results[0].outputs;
  assert.equal(concepts.model.id, 'general-image-recognition');
  assert.equal(concepts.data.concepts.length, 3);
  assert.equal(embedding.model.id, 'general-image-embedding');
  assert.equal(embedding.data.embeddings[0].vector.length, 1280);
});

test('official client: PostWorkflows of a detector feeding classifiers, then PostWorkflowResults by URL', async () => {
  const posted = await call(stub, 'PostWorkflows', {
    user_app_id: APP,
    workflows: [{
      id: 'faces',
      nodes: [
        { id: 'detect', model: { id: 'face-detection', user_id: 'clarifai', app_id: 'main' } },
        { id: 'age', model: { id: 'age-demographics-recognition' }, node_inputs: [{ node_id: 'detect' }] },
        { id: 'gender', model: { id: 'gender-demographics-recognition' }, node_inputs: [{ node_id: 'detect' }] },
      ],
    }],
  }, auth());
  assert.equal(posted.status.code, 10000, posted.status.details);
  assert.match(posted.workflows[0].version.id, /^[0-9a-f]{32}$/);

  const run = await call(stub, 'PostWorkflowResults', { user_app_id: APP, workflow_id: 'faces', inputs: [{ data: { image: { url: photoBase + '/faces.jpg' } } }] }, auth());
  assert.equal(run.status.code, 10000, run.status.details);
  const [faces, age, gender] = run.results[0].outputs;
  assert.equal(faces.data.regions.length, 5);
  assert.equal(age.data.regions.length, 5);
  assert.ok(age.data.regions.every((r) => r.data.concepts.every((c) => c.vocab_id === 'age_appearance')));
  assert.ok(gender.data.regions.every((r) => r.data.concepts.map((c) => c.name).sort().join() === 'feminine,masculine'));
});

test('Node SDK: Workflow.predictByBytes and predictByUrl on Demographics', async () => {
  const { Workflow } = require('clarifai-nodejs');
  const workflow = new Workflow({
    workflowId: 'Demographics',
    authConfig: { pat: iris.pat, userId: 'clarifai', appId: 'main', base: `http://${iris.grpcTarget}` },
  });
  const byBytes = await workflow.predictByBytes(fs.readFileSync(FACES), 'image');
  assert.equal(byBytes.status.code, 10000, byBytes.status.details);
  const outputs = byBytes.resultsList[0].outputsList;
  assert.deepEqual(outputs.map((o) => o.model.id), ['face-detection', 'age-demographics-recognition', 'gender-demographics-recognition']);
  assert.equal(outputs[0].data.regionsList.length, 5);
  const byUrl = await workflow.predictByUrl(photoBase + '/faces.jpg', 'image');
  assert.equal(byUrl.status.code, 10000, byUrl.status.details);
  assert.equal(byUrl.resultsList[0].outputsList[2].data.regionsList.length, 5);
});

test("legacy JS client: workflow.predict with an app-specific API key on its own app's workflow", async () => {
  const posted = await call(stub, 'PostWorkflows', {
    user_app_id: APP,
    workflows: [{ id: 'general-copy', nodes: [{ id: 'concepts', model: { id: 'general-image-recognition' } }] }],
  }, auth());
  assert.equal(posted.status.code, 10000, posted.status.details);
  const keys = await call(stub, 'PostKeys', {
    user_app_id: { user_id: 'me' }, keys: [{ description: 'legacy', scopes: ['All'], apps: [{ id: APP.app_id, user_id: 'admin' }] }],
  }, auth());
  assert.equal(keys.status.code, 10000, keys.status.details);

  const Clarifai = require('clarifai');
  const app = new Clarifai.App({ apiKey: keys.keys[0].id, apiEndpoint: iris.restBase });
  const response = await app.workflow.predict('general-copy', photoBase + '/metro-north.jpg', { maxConcepts: 5 });
  assert.equal(response.status.code, 10000);
  const output = response.results[0].outputs[0];
  assert.equal(output.model.id, 'general-image-recognition');
  assert.equal(output.data.concepts.length, 5);
  assert.ok(output.data.concepts.some((c) => c.name === 'train'));
});

test('Node SDK: App.createWorkflow from a YAML file, then Workflow.predictByUrl in that app', async () => {
  const { App, Workflow } = require('clarifai-nodejs');
  const authConfig = { pat: iris.pat, userId: 'admin', appId: APP.app_id, base: `http://${iris.grpcTarget}` };
  const yaml = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iris-wf-yaml-')), 'workflow.yml');
  fs.writeFileSync(yaml, [
    'workflow:',
    '  id: sdk-faces',
    '  nodes:',
    '    - id: detect',
    '      model:',
    '        modelId: face-detection',
    '        userId: clarifai',
    '        appId: main',
    '    - id: mood',
    '      model:',
    '        modelId: face-sentiment-recognition',
    '        userId: clarifai',
    '        appId: main',
    '      nodeInputs:',
    '        - nodeId: detect',
    '',
  ].join('\n'));
  const created = await new App({ authConfig }).createWorkflow({ configFilePath: yaml, display: false });
  assert.equal(created.id, 'sdk-faces');
  assert.deepEqual(created.nodesList.map((n) => n.id), ['detect', 'mood']);

  const workflow = new Workflow({ workflowId: 'sdk-faces', authConfig });
  const response = await workflow.predictByUrl(photoBase + '/faces.jpg', 'image');
  assert.equal(response.status.code, 10000, response.status.details);
  const [faces, mood] = response.resultsList[0].outputsList;
  assert.equal(faces.data.regionsList.length, 5);
  assert.ok(mood.data.regionsList.every((r) => r.data.conceptsList.length === 7 && r.data.conceptsList.every((c) => c.vocabId === 'emotion')));
});
