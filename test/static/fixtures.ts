// Fixtures for comparing predictions: checkpoints and photos that make a model's answer depend on the photo. Untrained
// models are useless for that: a Spikformer's convs (trunc_normal, std 0.02) barely move its running-statistics
// BatchNorms, so no spike that depends on the image reaches the head, and an untrained ResNet18 gives every photo the
// same top class. Random BatchNorm scales and shifts over a small running variance fix both; the head is then scaled so
// that the probabilities are neither uniform (Spikformer: larger) nor all 0 and 1 (ResNet18: its features grow through
// eight such blocks, so much smaller).
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { createModel, isSpiking, resolveConfig } from '../../src/models/registry.js';
import { saveCheckpoint, untrainedMeta } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { CITIES } from '../serve/helpers.js';

export async function excitedCheckpoint(dir: string, kind: string, preset: string, seed = 3): Promise<string> {
  const config = resolveConfig(preset, { classes: CITIES.length });
  const model = createModel(config, seed);
  const rng = new Rng(seed + 100);
  const draw = (n: number, f: () => number) => Float32Array.from({ length: n }, f);
  const spiking = isSpiking(config);
  try {
    for (const [name, v] of model.store.params) {
      if (/bn\d*\.weight$/.test(name))
        v.assign(
          tf.tensor(
            draw(v.size, () => 0.5 + 2.5 * rng.uniform()),
            v.shape,
          ),
        );
      else if (/bn\d*\.bias$/.test(name))
        v.assign(
          tf.tensor(
            draw(v.size, () => (spiking ? 0.3 : 0) + 0.5 * rng.normal()),
            v.shape,
          ),
        );
      else if (name === 'head.weight' || name === 'linear.weight') v.assign(tf.mul(v, spiking ? 6 : 5e-4));
    }
    // Conv outputs here spread about 0.1 (Spikformer) to 0.3: these variances bring them near 1 after the BatchNorm.
    const runningVar = spiking ? 0.01 : 0.1;
    for (const [name, v] of model.store.buffers)
      if (name.endsWith('running_var')) v.assign(tf.fill(v.shape, runningVar));
    return await saveCheckpoint(
      dir,
      kind,
      model,
      null,
      untrainedMeta(preset, config, CITIES, { mean: [0.45, 0.47, 0.5], std: [0.25, 0.24, 0.26] }),
    );
  } finally {
    model.store.dispose();
  }
}

/** A w x h PNG of a random colour with random stripes: photos that differ enough to change the models' top class. */
export async function variedPhoto(seed: number, w: number, h: number): Promise<Buffer> {
  const rng = new Rng(500 + seed);
  const px = Buffer.alloc(w * h * 3);
  const base = [rng.int(256), rng.int(256), rng.int(256)];
  const f = 1 + rng.int(8);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++)
        px[(y * w + x) * 3 + c] = (base[c]! + ((((x * f) >> 3) + ((y * (c + 1)) >> 2)) % 2) * rng.int(128)) % 256;
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}
