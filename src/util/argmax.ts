// Index of the largest score per row, the first maximum winning as tf.argMax does: shared by the training loop's
// validation and the evaluation metrics.

/** Index of the largest score in each row of `scores` [n, classes], flattened row-major. */
export function argmaxRows(scores: ArrayLike<number>, classes: number): Int32Array {
  const n = scores.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[i * classes + c]! > scores[i * classes + best]!) best = c;
    out[i] = best;
  }
  return out;
}
