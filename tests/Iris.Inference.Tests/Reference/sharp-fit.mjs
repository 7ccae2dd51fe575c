// The letterboxed network input the TensorFlow.js references build with sharp (centernet-reference.mjs at 512,
// blazeface-reference.mjs at 256): the upright image resized to round(W·s) × round(H·s) with sharp's cubic kernel
// (libvips decodes a JPEG shrunk by 2, 4 or 8 on load first) and placed at floor((side − w) / 2), floor((side − h) / 2)
// on black. Usage: node sharp-fit.mjs <image>... → JSON on stdout, per image:
//   { "file", "fits": [{ "side", "rgb": base64 of side × side × 3 bytes }] } for the sides 512 and 256.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const sharp = createRequire(require.resolve('@gutenye/ocr-node'))('sharp')

const results = []
for (const file of process.argv.slice(2)) {
  const upright = sharp(file).rotate().removeAlpha()
  const { width, height } = await upright.clone().toBuffer({ resolveWithObject: true }).then((r) => r.info)
  const fits = []
  for (const side of [512, 256]) {
    const scale = Math.min(side / width, side / height)
    const [w, h] = [Math.round(width * scale), Math.round(height * scale)]
    const [dx, dy] = [Math.floor((side - w) / 2), Math.floor((side - h) / 2)]
    const resized = await upright.clone().resize(w, h, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer()
    const canvas = Buffer.alloc(side * side * 3)
    for (let y = 0; y < h; y++) resized.copy(canvas, ((y + dy) * side + dx) * 3, y * w * 3, (y + 1) * w * 3)
    fits.push({ side, rgb: canvas.toString('base64') })
  }
  results.push({ file, fits })
}
process.stdout.write(JSON.stringify(results))
