'use strict';
// Starts a real `./iris serve` on free loopback ports with a fresh data directory, for the compatibility tests.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const PAT = 'compat0bootstrap0pat000000000001';

async function startIris(extraArgs = []) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iris-compat-'));
  const child = spawn(path.join(ROOT, 'iris'), ['serve', '--data-dir', dataDir, '--http-port', '0', '--grpc-port', '0', ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, IRIS_BOOTSTRAP_PAT: PAT, IRIS_BOOTSTRAP_USER: 'admin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('iris did not start within 240 s:\n' + output)); }, 240_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const m = /REST on (https?):\/\/([^:]+):(\d+) and gRPC on [^:]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ scheme: m[1], host: m[2], httpPort: Number(m[3]), grpcPort: Number(m[4]) });
      }
    });
    child.stderr.on('data', (chunk) => { output += chunk; });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`iris exited with ${code}:\n${output}`)); });
  });
  const info = await ready;
  return {
    ...info,
    pat: PAT,
    dataDir,
    restBase: `${info.scheme}://${info.host}:${info.httpPort}`,
    grpcTarget: `${info.host}:${info.grpcPort}`,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      const result = await exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
      return result;
    },
  };
}

// The official client: clarifai-nodejs-grpc, exactly as published. Its grpc() factory always uses TLS and its
// insecureGrpc() factory a fixed host, so the stub class it builds is taken from the latter and pointed at Iris.
function officialStub(target) {
  const { ClarifaiStub, grpc } = require('clarifai-nodejs-grpc');
  const template = ClarifaiStub.insecureGrpc();
  const V2 = template.constructor;
  template.close();
  const stub = new V2(target, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 1024 * 1024 * 1024,
    'grpc.max_send_message_length': 1024 * 1024 * 1024,
  });
  return { stub, grpc };
}

function call(stub, method, request, metadata) {
  return new Promise((resolve, reject) => {
    stub[method](request, metadata, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

module.exports = { startIris, officialStub, call, ROOT };
