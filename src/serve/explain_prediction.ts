// A predictor's guess explained: the evidence map of the guessed class (src/eval/explain.ts) drawn over the model's
// 32x32 input as a PNG, for `predict --explain` and the game's reveal. Kept apart from predictor.ts, which the static
// game bundles for the browser, where PNG encoding (Node's Buffer and zlib) does not exist.
import { decodeRgb, processImage } from '../data/images.js';
import { evidenceMaps } from '../eval/explain.js';
import { overlayPng } from '../eval/explain_image.js';
import type { Prediction, Predictor } from './predictor.js';
import { must } from '../util/must.js';

/** Which patches drove the guess of `label` on one imageSize x imageSize RGB image, and that map over it as a PNG. */
export function explainPixels(
  p: Predictor,
  pixels: Uint8Array,
  label: number,
): { map: Float32Array; grid: number; method: string; png: Buffer } {
  const m = evidenceMaps(p.model, p.modelInput([pixels]), 1, Int32Array.of(label));
  const map = must(m.maps[0], 'one map per image');
  return { map, grid: m.grid, method: m.method, png: overlayPng(pixels, p.imageSize, map, m.grid) };
}

/** An imageSize x imageSize image (a dataset's 32x32 PNG): the evidence map of the guess drawn over it, as PNG. */
export async function explainSquare(p: Predictor, input: Buffer | string): Promise<Buffer> {
  const { data, width, height } = await decodeRgb(input);
  if (width !== p.imageSize || height !== p.imageSize)
    throw new Error(`expected a ${p.imageSize}x${p.imageSize} image, got ${width}x${height}`);
  return explainPixels(p, data, p.predictOne(data).label).png;
}

/** A photo of any size: its prediction and the evidence map of the predicted class over the 32x32 input. */
export async function explainImage(
  p: Predictor,
  input: Buffer,
): Promise<{ prediction: Prediction; png: Buffer; method: string }> {
  const { pixels } = await processImage(input, { cropBottom: p.cropBottom, size: p.imageSize });
  const prediction = p.predictOne(pixels);
  const { png, method } = explainPixels(p, pixels, prediction.label);
  return { prediction, png, method };
}
