#!/usr/bin/env bash
# Installs the peers the search benchmark measures beside Iris: Debian's python3-hnswlib and python3-faiss (with numpy).
# Run as root (or with sudo) once per machine; the benchmark calls /usr/bin/python3, Debian's interpreter.
set -euo pipefail
if ! /usr/bin/python3 -c 'import hnswlib, faiss, numpy' >/dev/null 2>&1; then
  apt-get update
  apt-get install -y --no-install-recommends python3-hnswlib python3-faiss python3-numpy
fi
/usr/bin/python3 -c 'import faiss, numpy; print("faiss", faiss.__version__, "numpy", numpy.__version__)'
