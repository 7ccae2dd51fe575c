#!/usr/bin/env bash
# Unpacks the photographs the tests and benchmarks use, from Debian packages, into artifacts/photos (no install, no
# dependencies): python3-skimage's sample images (skimage/data: a cat, a coffee cup, an astronaut, a rocket, a motorcycle
# seen from two sides, a horse silhouette, coins, bricks, grass, gravel, a photographed text-book page, …) and
# python3-sklearn's (sklearn/datasets/images: china.jpg, a temple; flower.jpg) for the custom-model tests and the
# training benchmark; and, into artifacts/photos/opencv, the photographed and scanned text of opencv-doc's examples
# (scene text: signs, a generator plate, cropped words; a scanned book page, upright and rotated) for the OCR quality
# gate and benchmark. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/artifacts/photos"
# Bump when the set of unpacked files changes, so machines holding an older set unpack again.
marker="$dest/.complete-2"
if [ -f "$marker" ]; then exit 0; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
packages=(python3-skimage python3-sklearn opencv-doc)
apt-get download "${packages[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null 2>&1 && apt-get download "${packages[@]}" >/dev/null; }
for deb in python3-skimage_*.deb python3-sklearn_*.deb; do dpkg-deb -x "$deb" unpacked; done
mkdir -p "$dest/opencv"
cp unpacked/usr/lib/python3/dist-packages/skimage/data/*.{png,jpg} "$dest"/
cp unpacked/usr/lib/python3/dist-packages/sklearn/datasets/images/*.jpg "$dest"/
# opencv-doc is large (~95 MB); only its text images are taken from it.
examples=./usr/share/doc/opencv-doc/examples
dpkg-deb --fsys-tarfile opencv-doc_*.deb | tar -x -C "$work" \
  "$examples"/text/scenetext0{1,2,3,4,5,6}.jpg "$examples"/text/scenetext_word0{1,2,3,4}.jpg \
  "$examples"/data/imageTextN.png "$examples"/data/imageTextR.png
cp "$work/$examples"/text/*.jpg "$work/$examples"/data/imageText*.png "$dest/opencv"/
touch "$dest/.complete" "$marker"
echo "photos in $dest"
