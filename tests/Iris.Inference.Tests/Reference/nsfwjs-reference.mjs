// The NSFW and embedding reference for Iris' quality gate and benchmark: nsfwjs 4.3.0 itself (pinned), its MobileNet v2
// loaded by nsfwjs.load('MobileNetV2') and run by @tensorflow/tfjs in Node through nsfwjs' own code path
// (dist/cjs/core.js NSFWJS.infer, as classify calls it: pixels ÷ 255, tf.image.resizeBilinear to 224 × 224 with
// alignCorners true, stretched). The photo is decoded by sharp at full size (upright, RGB), as a browser or
// tf.node.decodeImage would hand it over. classify(img, 5) gives the five probabilities; infer(img,
// 'average_pooling2d_1') the 1280 pooled features Iris serves as general-image-embedding.
// Usage: node nsfwjs-reference.mjs <image>...  → JSON on stdout, per image:
//   { "file", "probabilities": [drawing, hentai, neutral, porn, sexy], "embedding": [1280 numbers] }
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const tf = require('@tensorflow/tfjs')
const nsfwjs = require('nsfwjs')
// sharp 0.33 with its prebuilt libvips, as @gutenye/ocr-node pins it (the top-level sharp needs an install script).
const sharp = createRequire(require.resolve('@gutenye/ocr-node'))('sharp')

// nsfwjs announces the model it loads with console.info; stdout carries only the JSON.
console.info = (...args) => console.error(...args)
const model = await nsfwjs.load('MobileNetV2')
const CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']

const results = []
for (const file of process.argv.slice(2)) {
  const { data, info } = await sharp(file).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const image = tf.tensor3d(new Int32Array(data), [info.height, info.width, 3], 'int32')
  const classes = await model.classify(image, CLASSES.length)
  const probabilities = CLASSES.map((name) => classes.find((c) => c.className === name).probability)
  const pooled = model.infer(image, 'average_pooling2d_1')
  const embedding = Array.from(await pooled.data())
  tf.dispose([image, pooled])
  results.push({ file, probabilities, embedding })
}
process.stdout.write(JSON.stringify(results))
