// Finiteness checks for what training is about to keep: a gradient before it reaches the weights, tensors before
// they reach a checkpoint. A scan of the values costs far less than a step, and a NaN, once in the weights or the
// moments, never leaves.

/** The index of the first NaN or ±Infinity in `data`, or -1. */
export function firstNonFinite(data: ArrayLike<number | bigint>): number {
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (typeof x === 'number' && !Number.isFinite(x)) return i;
  }
  return -1;
}

/** Throws, naming the tensor, the index and the value, when any tensor holds a non-finite value. */
export function assertAllFinite(tensors: Iterable<[string, ArrayLike<number | bigint>]>, what: string): void {
  for (const [name, data] of tensors) {
    const i = firstNonFinite(data);
    if (i >= 0) throw new Error(`${what}: ${name}[${i}] is ${data[i]} (non-finite); nothing was written`);
  }
}

/** Throws, naming the file, the tensor, the value and its index, when a loaded tensor holds a non-finite value. */
export function refuseNonFinite(tensors: Iterable<[string, ArrayLike<number | bigint>]>, file: string): void {
  for (const [name, data] of tensors) {
    const i = firstNonFinite(data);
    if (i >= 0) {
      throw new Error(
        `${file}: tensor '${name}' holds ${data[i]} at index ${i}; the checkpoint is damaged or its run diverged, so ` +
          'its answers would be meaningless: use another checkpoint (such as best.json) or train again',
      );
    }
  }
}
