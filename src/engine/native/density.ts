// The density check behind the event-driven kernels: the fraction of nonzeros of a spike operand, sampled first
// so that dense operands cost almost nothing, counted in full when the sample says it may be sparse.
import { spikeKernelsEnabled } from '../../ops/spike_kernels.js';
import { addon } from './kernel_util.js';

/** Only products at least this big (multiply-adds) are worth a look at an operand's density. */
const MIN_WORK = 1 << 22;

/** What the density checks decided, for the tests and for measuring firing rates. */
export const sparseStats = { checked: 0, sparse: 0, densities: [] as number[] };

/**
 * True when X's nonzero fraction is below `below`, so the event-driven kernel should run (and spike kernels are on).
 */
export function sparseEnough(X: Float32Array, work: number, below: number): boolean {
  if (work < MIN_WORK || !spikeKernelsEnabled()) return false;
  const ad = addon();
  if (ad.density(X, 4096) > 2 * below) return false; // clearly dense: skip the full count
  const d = ad.density(X, 0);
  sparseStats.checked++;
  if (sparseStats.densities.length < 10000) sparseStats.densities.push(d);
  return d < below;
}
