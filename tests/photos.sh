#!/usr/bin/env bash
# Unpacks the photographs the custom-model tests and the training benchmark use, from two Debian packages, into
# artifacts/photos (no install, no dependencies): python3-skimage's sample images (skimage/data: a cat, a coffee cup, an
# astronaut, a rocket, a motorcycle seen from two sides, a horse silhouette, coins, bricks, grass, gravel, …) and
# python3-sklearn's (sklearn/datasets/images: china.jpg, a temple; flower.jpg). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/artifacts/photos"
if [ -f "$dest/.complete" ]; then exit 0; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download python3-skimage python3-sklearn >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null 2>&1 && apt-get download python3-skimage python3-sklearn >/dev/null; }
for deb in *.deb; do dpkg-deb -x "$deb" unpacked; done
mkdir -p "$dest"
cp unpacked/usr/lib/python3/dist-packages/skimage/data/*.{png,jpg} "$dest"/
cp unpacked/usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg "$dest"/
touch "$dest/.complete"
echo "photos in $dest"
