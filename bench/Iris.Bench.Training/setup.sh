#!/usr/bin/env bash
# The training benchmark embeds real photographs from Debian's python3-skimage / python3-sklearn packages.
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/photos.sh"
