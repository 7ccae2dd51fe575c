'use strict';
// The official gRPC-web client (clarifai-web-grpc, exactly as published) from Node against both Iris ports. The package
// runs in browsers, so Node needs an XMLHttpRequest: xhr2 is installed as the global one, as grpc-web's own Node users do.
// Its V2Client always speaks application/grpc-web-text; the binary mode (application/grpc-web+proto) is the same
// generated stub over grpc-web's GrpcWebClientBase with format 'binary'.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startIris, ROOT } = require('./iris-server');

global.XMLHttpRequest = require('xhr2');
const { ClarifaiStub } = require('clarifai-web-grpc');
const grpcWeb = require('grpc-web');
const svc = require('clarifai-web-grpc/dist/cjs/proto/clarifai/api/service_pb');
const res = require('clarifai-web-grpc/dist/cjs/proto/clarifai/api/resources_pb');

const PHOTO = fs.readFileSync(path.join(ROOT, 'node_modules/clarifai-nodejs-grpc/tests/assets/metro-north.jpg'));
let iris;

before(async () => {
  iris = await startIris();
});

after(async () => {
  await iris?.stop();
});

function client(port, format) {
  const stub = ClarifaiStub.grpc(`http://127.0.0.1:${port}`);
  if (format === 'binary') {
    stub.client_ = new grpcWeb.GrpcWebClientBase({ format: 'binary' });
  }
  return stub;
}

function call(stub, method, request, metadata) {
  return new Promise((resolve, reject) => {
    stub[method](request, metadata, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

const auth = () => ({ authorization: 'Key ' + iris.pat });

function userApp(userId, appId) {
  const ids = new res.UserAppIDSet();
  ids.setUserId(userId);
  if (appId) ids.setAppId(appId);
  return ids;
}

function predictRequest(modelId) {
  const image = new res.Image();
  image.setBase64(new Uint8Array(PHOTO));
  const data = new res.Data();
  data.setImage(image);
  const input = new res.Input();
  input.setData(data);
  const request = new svc.PostModelOutputsRequest();
  request.setUserAppId(userApp('clarifai', 'main'));
  request.setModelId(modelId);
  request.setInputsList([input]);
  return request;
}

const cases = [];
for (const port of ['grpc', 'http']) {
  for (const format of ['text', 'binary']) {
    cases.push({ port, format });
  }
}

for (const { port, format } of cases) {
  const name = `${port} port, grpc-web ${format === 'text' ? 'text' : '(binary)'}`;
  const portOf = () => (port === 'grpc' ? iris.grpcPort : iris.httpPort);

  test(`${name}: predict with general-image-recognition finds a train`, async () => {
    const response = await call(client(portOf(), format), 'postModelOutputs', predictRequest('general-image-recognition'), auth());
    assert.equal(response.getStatus().getCode(), 10000);
    const concepts = response.getOutputsList()[0].getData().getConceptsList();
    assert.ok(concepts.length >= 10, `${concepts.length} concepts`);
    assert.ok(concepts.slice(0, 4).some((c) => c.getName() === 'train'), concepts.slice(0, 4).map((c) => c.getName()).join(','));
    assert.ok(concepts[0].getValue() > 0.4, String(concepts[0].getValue()));
  });

  test(`${name}: PostApps, PostInputs and ListInputs round trip`, async () => {
    const stub = client(portOf(), format);
    const appId = `web-${port}-${format}`;
    const app = new res.App();
    app.setId(appId);
    const postApps = new svc.PostAppsRequest();
    postApps.setUserAppId(userApp('me'));
    postApps.setAppsList([app]);
    const created = await call(stub, 'postApps', postApps, auth());
    assert.equal(created.getStatus().getCode(), 10000, created.getStatus().getDetails());
    assert.equal(created.getAppsList()[0].getId(), appId);

    const inputs = ['one', 'two'].map((id) => {
      const image = new res.Image();
      image.setBase64(new Uint8Array(PHOTO));
      const concept = new res.Concept();
      concept.setId('train');
      concept.setValue(1);
      const data = new res.Data();
      data.setImage(image);
      data.setConceptsList([concept]);
      const input = new res.Input();
      input.setId(id);
      input.setData(data);
      return input;
    });
    const postInputs = new svc.PostInputsRequest();
    postInputs.setUserAppId(userApp('me', appId));
    postInputs.setInputsList(inputs);
    const posted = await call(stub, 'postInputs', postInputs, auth());
    assert.equal(posted.getStatus().getCode(), 10000, posted.getStatus().getDetails());
    assert.deepEqual(posted.getInputsList().map((i) => i.getId()), ['one', 'two']);

    const list = new svc.ListInputsRequest();
    list.setUserAppId(userApp('me', appId));
    list.setPerPage(10);
    const listed = await call(stub, 'listInputs', list, auth());
    assert.equal(listed.getStatus().getCode(), 10000);
    assert.deepEqual(listed.getInputsList().map((i) => i.getId()).sort(), ['one', 'two']);
    for (const input of listed.getInputsList()) {
      assert.deepEqual(input.getData().getConceptsList().map((c) => [c.getId(), c.getValue()]), [['train', 1]]);
    }
  });

  test(`${name}: an unknown model answers 21200 in the response status`, async () => {
    const response = await call(client(portOf(), format), 'postModelOutputs', predictRequest('no-such-model'), auth());
    assert.equal(response.getStatus().getCode(), 21200);
    assert.match(response.getStatus().getDescription(), /model does not exist/i);
  });

  test(`${name}: a key nobody holds answers 11009 in the response status`, async () => {
    const response = await call(client(portOf(), format), 'postModelOutputs', predictRequest('general-image-recognition'), { authorization: 'Key 0123456789abcdef0123456789abcdef' });
    assert.equal(response.getStatus().getCode(), 11009);
    assert.equal(response.getOutputsList().length, 0);
  });
}
