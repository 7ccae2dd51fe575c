#!/usr/bin/env bash
# Installs what the quality benchmark needs beyond the pinned npm packages: Debian's tesseract-ocr (English), the
# third OCR engine measured beside Iris and @gutenye/ocr-node. Run as root (or with sudo) once per machine.
set -euo pipefail
if ! command -v tesseract >/dev/null 2>&1; then
  apt-get update
  apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng
fi
tesseract --version | head -1
