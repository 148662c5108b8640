// The one place 8-bit RGB pixels become model input, for every path that feeds a model: training and evaluation
// batches (BatchIterator) and predict / play / POST /api/predict (serve/predictor.ts), so the same PNG reaches the
// model as the same bits whichever command reads it.

import { must } from '../util/must.js';

/**
 * Per-channel normalisation (v/255 - mean[c]) / std[c] of each 8-bit level v, as a table: table[c * 256 + v]. Computed
 * as one multiply-add of float32 constants rounded to float32 once, then looked up rather than computed per value.
 */
export function normalisationTable(mean: readonly number[], std: readonly number[]): Float32Array {
  if (mean.length !== 3 || std.length !== 3 || std.some((s) => !(s > 0)) || mean.some((m) => !Number.isFinite(m))) {
    throw new Error(`normalisation must be 3 finite means and 3 positive stds, got mean [${mean}] std [${std}]`);
  }
  const scale = Float32Array.from(std, (s) => 1 / (255 * s));
  const shift = Float32Array.from(mean, (m, c) => -m / must(std[c], 'std has 3 entries, checked above'));
  return Float32Array.from({ length: 768 }, (_, i) => (i & 255) * scale[i >> 8]! + shift[i >> 8]!);
}

/** Writes the model input of HWC RGB `pixels` (length a multiple of 3) into `out` from `offset`, through `table`. */
export function writeModelInput(pixels: Uint8Array, table: Float32Array, out: Float32Array, offset = 0): void {
  for (let j = 0; j < pixels.length; j += 3) {
    out[offset + j] = table[pixels[j]!]!;
    out[offset + j + 1] = table[256 + pixels[j + 1]!]!;
    out[offset + j + 2] = table[512 + pixels[j + 2]!]!;
  }
}
