'use strict';
// Runs a TensorFlow.js model (graph or layers, model.json or nsfwjs-style .min.js bundle) with
// @tensorflow/tfjs on the pure-JavaScript CPU backend, for parity tests and benchmarks.
//
// Usage: node tfjs-run.js <request.json>
// request: {
//   model:   path to model.json or model.min.js
//   input:   { name, file, shape }          raw float32 little-endian tensor
//   outputs: [names]                         graph: tensor names; layers: layer names
//   outDir:  directory for <i>.bin outputs and manifest.json
//   repeat:  extra timed runs after the first (default 0)
// }
// manifest.json: { format, outputs: [{ name, shape, dtype, file }], firstRunMs, timesMs: [...] }
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function loadArtifacts(modelPath) {
  const dir = path.dirname(modelPath);
  const bundled = modelPath.endsWith('.js');
  const model = bundled ? require(path.resolve(modelPath)) : JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const buffers = [];
  const weightSpecs = [];
  for (const group of model.weightsManifest || []) {
    for (const p of group.paths) {
      const plain = path.join(dir, p);
      if (fs.existsSync(plain)) {
        buffers.push(fs.readFileSync(plain));
      } else {
        buffers.push(Buffer.from(require(path.resolve(plain + '.min.js')), 'base64'));
      }
    }
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {
    modelTopology: model.modelTopology,
    format: model.format,
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy,
    signature: model.signature,
    userDefinedMetadata: model.userDefinedMetadata,
    weightSpecs,
    weightData,
  };
}

function isGraph(artifacts) {
  if (artifacts.format === 'graph-model') return true;
  if (artifacts.format === 'layers-model') return false;
  return Array.isArray(artifacts.modelTopology.node);
}

async function main() {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  await tf.setBackend('cpu');
  await tf.ready();
  const artifacts = loadArtifacts(req.model);
  const graph = isGraph(artifacts);
  const handler = tf.io.fromMemory(artifacts);
  const raw = fs.readFileSync(req.input.file);
  const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const input = tf.tensor(data, req.input.shape, 'float32');

  let run;
  if (graph) {
    const model = await tf.loadGraphModel(handler);
    run = () => {
      const r = model.execute({ [req.input.name]: input }, req.outputs);
      return Array.isArray(r) ? r : [r];
    };
  } else {
    const base = await tf.loadLayersModel(handler);
    const model = tf.model({ inputs: base.inputs, outputs: req.outputs.map((n) => base.getLayer(n).output) });
    run = () => {
      const r = model.predict(input);
      return Array.isArray(r) ? r : [r];
    };
  }

  let t0 = process.hrtime.bigint();
  const outputs = run();
  const values = outputs.map((t) => t.dataSync());
  const firstRunMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const timesMs = [];
  for (let i = 0; i < (req.repeat || 0); i++) {
    t0 = process.hrtime.bigint();
    const r = run();
    r.forEach((t) => t.dataSync());
    timesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    r.forEach((t) => t.dispose());
  }

  fs.mkdirSync(req.outDir, { recursive: true });
  const manifest = { format: graph ? 'graph-model' : 'layers-model', firstRunMs, timesMs, outputs: [] };
  outputs.forEach((t, i) => {
    const file = path.join(req.outDir, `${i}.bin`);
    const f32 = Float32Array.from(values[i]);
    fs.writeFileSync(file, Buffer.from(f32.buffer));
    manifest.outputs.push({ name: req.outputs[i], shape: t.shape, dtype: t.dtype, file });
  });
  fs.writeFileSync(path.join(req.outDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
