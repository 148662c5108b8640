#!/usr/bin/env bash
# The inner loop: type-check, build the TypeScript, and run the tests that need no browser, no GPU stack, no PyTorch
# and no killed or interrupted processes (every other test runs in `npm test`, as CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
SLOW='/(cli|static|torch|fuzz|bench)/|browser|webgpu|_cli\.test|train\.test|collect|import_table|foreign_files'
SLOW+='|lock_race|slow_clients|study|explain|demo|input_path|label_order|evaluate|golden|native-memory'
mapfile -t files < <(find dist/test -name '*.test.js' | grep -vE "$SLOW" | sort)
GEOSPIKE_TEST_BACKENDS=${GEOSPIKE_TEST_BACKENDS:-cpu,native} node --test "${files[@]}"
