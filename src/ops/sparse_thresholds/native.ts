// The fraction of nonzeros below which each event-driven kernel runs instead of the dense one, for this CPU: the
// addon's table by vector ISA (src/engine/native/cc/sparse.cc, with the measurements behind each row), read once.
import type { NativeAddon } from '../../engine/native/addon.js';
import { addon } from '../../engine/native/kernel_util.js';

/** X W^T forward (matmul), the weight gradient dY^T X (matmulTA), conv forward (conv) and filter gradient. */
export type SparseKernel = 'matmul' | 'matmulTA' | 'conv' | 'convFilter';

let table: ReturnType<NativeAddon['sparseThresholds']> | undefined;
const thresholds = () => (table ??= addon().sparseThresholds());

/** The density threshold of one event-driven kernel on this CPU. */
export function sparseBelow(kernel: SparseKernel): number {
  return thresholds()[kernel];
}

/** The row of the table this CPU uses ('avx512', 'avx512-amd' or 'avx2'), for reports. */
export function sparseIsa(): string {
  return thresholds().isa;
}
