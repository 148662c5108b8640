// Locates the golden reference files in test/golden (what each holds and how it was made: test/golden/README.md).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, toFloat32, type SafetensorsFile } from '../../src/io/safetensors.js';
import { createModel, type ModelConfig } from '../../src/models/registry.js';
import { loadStateDict } from '../../src/models/state_dict.js';

// Compiled to dist/test/helpers/, so three levels up is the repository root.
export const GOLDEN_DIR = new URL('../../../test/golden/', import.meta.url);

/** Absolute path of a golden file; throws a clear error when it is missing. */
export function goldenPath(name: string): string {
  const dir = fileURLToPath(GOLDEN_DIR);
  if (!existsSync(dir)) {
    throw new Error(`golden folder ${dir} is missing: it is part of the repository (git checkout test/golden)`);
  }
  const path = fileURLToPath(new URL(name, GOLDEN_DIR));
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing (see ${dir}README.md for the list)`);
  return path;
}

export function loadGolden(name: string): SafetensorsFile {
  return readSafetensors(goldenPath(name));
}

/** A golden's firing rates recorded in its metadata (`train_lif_rates`), by official LIF name. */
export function goldenRates(g: SafetensorsFile): Record<string, number> {
  const rates = g.metadata.train_lif_rates;
  if (rates === undefined) throw new Error('this golden has no train_lif_rates in its metadata; regenerate it');
  return JSON.parse(rates) as Record<string, number>;
}

/** The golden model's train forward on the golden input, with every LIF rate and spike-map input rate measured. */
export function measureGoldenForward(
  g: SafetensorsFile,
  config: ModelConfig,
  source: string,
): { rates: Map<string, number>; inputRates: Map<string, number> } {
  const model = createModel(config, 1);
  const params = new Map([...g.tensors].filter(([k]) => k.startsWith('param.')).map(([k, t]) => [k.slice(6), t]));
  loadStateDict(model.store, params, source);
  const rates = new Map<string, number>();
  const inputRates = new Map<string, number>();
  const x = g.tensors.get('input.x')!;
  tf.tidy(() => {
    const images = tf.transpose(tf.tensor4d(toFloat32(x), x.shape as [number, number, number, number]), [0, 2, 3, 1]);
    model.forward(images, { training: true, rates, inputRates });
  });
  model.store.dispose();
  return { rates, inputRates };
}
