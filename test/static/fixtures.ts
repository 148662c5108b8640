// A Spikformer checkpoint whose output depends on its input. An untrained one is useless for comparing predictions:
// its convs (trunc_normal, std 0.02) barely move the running statistics' BatchNorm, no spike that depends on the
// image reaches the head, and every photo gets the same probabilities. Scaling the BatchNorms and the head fixes that.
import * as tf from '@tensorflow/tfjs-core';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import { saveCheckpoint } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { CITIES } from '../serve/helpers.js';

export async function excitedSpikformer(
  dir: string,
  kind: string,
  seed = 3,
  preset = 'spikformer-1-64',
): Promise<string> {
  const config = resolveConfig(preset, { classes: CITIES.length });
  const model = createModel(config, seed);
  const rng = new Rng(seed + 100);
  const draw = (n: number, f: () => number) => Float32Array.from({ length: n }, f);
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
            draw(v.size, () => 0.3 + 0.5 * rng.normal()),
            v.shape,
          ),
        );
      else if (name === 'head.weight') v.assign(tf.mul(v, 6));
    }
    // Conv outputs here have a spread near 0.1: a running variance of 0.01 brings them to about 1 after the BatchNorm.
    for (const [name, v] of model.store.buffers) if (name.endsWith('running_var')) v.assign(tf.fill(v.shape, 0.01));
    return await saveCheckpoint(dir, kind, model, null, {
      preset,
      model: config,
      classes: CITIES,
      mean: [0.45, 0.47, 0.5],
      std: [0.25, 0.24, 0.26],
      epoch: 0,
      step: 0,
      cursor: { epoch: 0, batch: 0 },
      best: null,
      train: {},
    });
  } finally {
    model.store.dispose();
  }
}
