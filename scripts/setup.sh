#!/usr/bin/env bash
# Everything geospike needs on a fresh Debian 12 machine (run as root): system packages, npm packages, the build.
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages: add to this list, never install by hand.
# dataset-fashion-mnist: `geospike import fashion-mnist` and its tests.
# libdnnl-dev (oneDNN), g++, make, python3: node-gyp builds the native backend's addon.
# chromium: the game's browser tests (driven by playwright-core, which never downloads a browser).
# libegl1 libegl-mesa0 libgl1-mesa-dri: Mesa's llvmpipe, the software GPU the webgpu backend's tests run on
#   where there is no GPU (Dawn reaches it through EGL, headless).
# python3-torch python3-pil libopenblas0-pthread: `train --engine torch` on the CPU and its tests, and the PyTorch
#   peer of the benchmarks (OpenBLAS's threaded build, or Debian's torch falls back to the slow reference BLAS).
APT_PACKAGES=(ca-certificates libdnnl-dev g++ make python3 dataset-fashion-mnist chromium libegl1 libegl-mesa0
  libgl1-mesa-dri python3-torch python3-pil libopenblas0-pthread)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
npm ci --no-audit --no-fund
npm run build
