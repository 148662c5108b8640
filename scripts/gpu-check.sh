#!/usr/bin/env bash
# The webgpu backend on a machine with a GPU, in under 5 minutes: the adapter's name and limits, the goldens and
# kernel tests on webgpu, exact resume, and `geospike bench` of spikformer-4-384 and resnet18 (batch 64, train and infer) with
# images/s printed beside the study's T4 training figures (213 and 110 images/s). Run after scripts/setup.sh.
# Usage: scripts/gpu-check.sh [--quick]   (--quick: batch 2, one step, for a smoke run on llvmpipe; numbers mean nothing)
set -uo pipefail
cd "$(dirname "$0")/.."
BATCH=64 STEPS=3 WARMUP=1 LIMIT=60
[ "${1:-}" = "--quick" ] && BATCH=2 STEPS=1 WARMUP=0 LIMIT=150
[ -f dist/src/cli/main.js ] || npm run build
status=0

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
timeout 120 node --test --test-reporter=dot dist/test/engine/webgpu-kernels.test.js dist/test/engine/webgpu-errors.test.js \
  dist/test/engine/webgpu-determinism.test.js || status=1
echo "== exact resume on webgpu (a stopped and resumed run equals a straight one, byte for byte)"
timeout 120 node --test --test-reporter=dot --test-name-pattern='on webgpu' dist/test/train/train.test.js || status=1

echo "== bench, batch $BATCH, median of $STEPS after $WARMUP warm-up (study: T4, PyTorch, training)"
printf '  %-18s %-6s %10s %10s %12s %12s  %s\n' preset mode s/batch images/s GFLOP/s 'GPU MB' 'vs T4'
for spec in spikformer-4-384:213 resnet18:110; do
  preset=${spec%%:*}; t4=${spec##*:}
  for mode in train infer; do
    out=$(timeout $LIMIT node dist/src/cli/main.js bench --backend webgpu --model "$preset" --mode "$mode" \
      --batch "$BATCH" --steps $STEPS --warmup $WARMUP --json 2>/dev/null) || { echo "  $preset $mode: failed or over $LIMIT s"; status=1; continue; }
    T4=$t4 MODE=$mode node -e '
      const r = JSON.parse(require("fs").readFileSync(0, "utf8")).geospike;
      const vs = process.env.MODE === "train" ? `${(r.imagesPerSec / +process.env.T4).toFixed(2)}x the T4 (${process.env.T4} images/s)` : "-";
      console.log(`  ${r.model.padEnd(18)} ${r.mode.padEnd(6)} ${r.secPerBatch.toFixed(3).padStart(10)} ${r.imagesPerSec.toFixed(1).padStart(10)} ` +
        `${r.gflops.toFixed(1).padStart(12)} ${String(r.gpu?.peakMB ?? "-").padStart(12)}  ${vs}`);' <<<"$out"
  done
done
exit $status
