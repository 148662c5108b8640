#!/usr/bin/env bash
# The webgpu backend on a machine with a GPU, in under 5 minutes: the adapter's name and limits, the goldens and
# kernel tests on webgpu, exact resume, and `geospike bench` of spikformer-4-384 and resnet18 (batch 64, train and
# infer) with images/s printed beside the study's T4 training figures (213 and 110 images/s). Run after
# scripts/setup.sh.
# Then the torch engine on CUDA (skipped, saying why, when torch sees no CUDA device): `geospike info --engines`,
# spikformer-4-384 training steps at batch 64 in float32 and with --amp bf16 / fp16 (images/s; goal 1,000, the study's
# T4 did 213), and a short `train --engine torch --device cuda` whose checkpoint TypeScript `eval` reads.
# Usage: scripts/gpu-check.sh [--quick] [--torch-only]   (--quick: batch 2, one step, for a smoke run on llvmpipe;
#   numbers mean nothing. --torch-only: only the torch engine part)
set -uo pipefail
cd "$(dirname "$0")/.."
BATCH=64 STEPS=3 WARMUP=1 LIMIT=60 TORCH_ONLY=0
for arg in "$@"; do
  case $arg in
    --quick) BATCH=2 STEPS=1 WARMUP=0 LIMIT=150 ;;
    --torch-only) TORCH_ONLY=1 ;;
  esac
done
[ -f dist/src/cli/main.js ] || npm run build
status=0

torch_check() {
  echo "== torch engine"
  node dist/src/cli/main.js info --engines || { status=1; return; }
  local py=${GEOSPIKE_PYTHON:-/usr/bin/python3}
  local has_cuda='import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'
  if ! PYTHONPATH=torch_engine "$py" -c "$has_cuda" 2>/dev/null; then
    echo "  no CUDA device visible to torch: the torch CUDA figures are skipped" \
      "(docs/torch-engine.md: bringing a CUDA build)"
    return
  fi
  local preset
  preset=$(node --input-type=module -e "import('./dist/src/models/registry.js')
    .then((r) => console.log(JSON.stringify(r.resolveConfig('spikformer-4-384'))))")
  echo "  spikformer-4-384 training steps, batch 64, median of 10 after 3 warm-up" \
    "(goal 1,000 images/s; T4 in the study: 213)"
  for amp in none bf16 fp16; do
    local flag=(); [ $amp != none ] && flag=(--amp $amp)
    PYTHONPATH=torch_engine timeout 300 "$py" -m geospike_torch.bench --preset-json "$preset" --batch 64 --steps 10 \
      --warmup 3 --device cuda "${flag[@]}" || { echo "  amp $amp: failed"; status=1; }
  done
  echo "  train --engine torch --device cuda, 1 epoch on a small Fashion-MNIST import, then TypeScript eval of it"
  local tmp; tmp=$(mktemp -d)
  node dist/src/cli/main.js import fashion-mnist --out "$tmp/data" --per-class 64 --val-per-class 16 >/dev/null &&
    timeout 300 node dist/src/cli/main.js train --engine torch --device cuda --data "$tmp/data" --out "$tmp/run" \
      --model spikformer-2-128 --epochs 1 --warmup-epochs 0.5 --batch 64 &&
    node dist/src/cli/main.js eval --checkpoint "$tmp/run/checkpoints/best.json" --no-save | head -3 || status=1
  rm -rf "$tmp"
}
if [ $TORCH_ONLY = 1 ]; then torch_check; exit $status; fi

echo "== adapter"
timeout 60 node --input-type=module -e "
import { acquireDevice } from './dist/src/engine/webgpu/device.js';
const a = await acquireDevice(false);
console.log(a.label + (a.software ? '  (SOFTWARE: correctness only, no speed figures)' : ''));
for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'maxStorageBuffersPerShaderStage'])
  console.log('  ' + k.padEnd(36) + a.device.limits[k]);
a.device.destroy();
" || { echo "no WebGPU adapter: see the message above"; exit 1; }

echo "== goldens and kernels on webgpu"
timeout 150 node --test --test-reporter=dot --test-name-pattern=webgpu \
  dist/test/models/golden.test.js dist/test/snn/lif.test.js || status=1
timeout 120 node --test --test-reporter=dot dist/test/engine/webgpu-kernels.test.js \
  dist/test/engine/webgpu-errors.test.js dist/test/engine/webgpu-determinism.test.js || status=1
echo "== exact resume on webgpu (a stopped and resumed run equals a straight one, byte for byte)"
timeout 120 node --test --test-reporter=dot --test-name-pattern='on webgpu' dist/test/train/train.test.js || status=1

echo "== bench, batch $BATCH, median of $STEPS after $WARMUP warm-up (study: T4, PyTorch, training)"
printf '  %-18s %-6s %10s %10s %12s %12s  %s\n' preset mode s/batch images/s GFLOP/s 'GPU MB' 'vs T4'
for spec in spikformer-4-384:213 resnet18:110; do
  preset=${spec%%:*}; t4=${spec##*:}
  for mode in train infer; do
    out=$(timeout $LIMIT node dist/src/cli/main.js bench --backend webgpu --model "$preset" --mode "$mode" \
      --batch "$BATCH" --steps $STEPS --warmup $WARMUP --json 2>/dev/null) ||
      { echo "  $preset $mode: failed or over $LIMIT s"; status=1; continue; }
    T4=$t4 MODE=$mode node -e '
      const r = JSON.parse(require("fs").readFileSync(0, "utf8")).geospike;
      const t4 = +process.env.T4;
      const vs = process.env.MODE === "train"
        ? `${(r.imagesPerSec / t4).toFixed(2)}x the T4 (${process.env.T4} images/s)` : "-";
      console.log(`  ${r.model.padEnd(18)} ${r.mode.padEnd(6)} ` +
        `${r.secPerBatch.toFixed(3).padStart(10)} ${r.imagesPerSec.toFixed(1).padStart(10)} ` +
        `${r.gflops.toFixed(1).padStart(12)} ${String(r.gpu?.peakMB ?? "-").padStart(12)}  ${vs}`);' <<<"$out"
  done
done
torch_check
exit $status
