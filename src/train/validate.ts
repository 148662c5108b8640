// The model in eval mode over every batch of a split: the one forward loop behind the training loop's per-epoch
// validation and `geospike eval` / `energy` (src/eval/evaluate.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { BatchIterator } from '../data/dataset.js';
import type { Model } from '../models/model.js';
import { argmaxRows } from '../util/argmax.js';
import { crossEntropy } from './loss.js';
import { must } from '../util/must.js';

export interface SplitPassOptions {
  /** Record each LIF layer's mean firing rate (a sync read per layer per batch). */
  rates?: boolean;
  /** Also record the mean of the non-LIF tensors that feed weight layers (the energy counter needs them). */
  inputRates?: boolean;
  /** Called after each batch with images done and the total. */
  progress?: (done: number, total: number) => void;
}

export interface SplitPass {
  /** [n, classes] row-major, and the true labels in the same order. */
  logits: Float32Array;
  labels: Int32Array;
  /** Mean cross-entropy (no label smoothing). */
  loss: number;
  /** Images whose highest logit is the true class. */
  correct: number;
  seconds: number;
  /** Means over images; absent when no layer recorded any (a ResNet, or not asked for). */
  rates?: Record<string, number>;
  inputRates?: Record<string, number>;
}

/** Images the highest logit of which is the label (ties go to the lower class, as argmax does). */
export function countCorrect(logits: tf.Tensor2D, labels: Int32Array): number {
  const pred = tf.tidy(() => tf.argMax(logits, 1));
  const p = pred.dataSync();
  pred.dispose();
  let c = 0;
  for (let i = 0; i < labels.length; i++) if (p[i] === labels[i]) c++;
  return c;
}

export function runSplit(model: Model, it: BatchIterator, opts: SplitPassOptions = {}): SplitPass {
  const n = it.data.n;
  const { imageSize: S, inChannels: C, classes: K } = model.config;
  const logits = new Float32Array(n * K);
  const labels = new Int32Array(n);
  const rateSums = new Map<string, number>();
  const inputSums = new Map<string, number>();
  let lossSum = 0;
  let correct = 0;
  let done = 0;
  const t0 = performance.now();
  for (const batch of it.epoch(0)) {
    const rates = opts.rates ? new Map<string, number>() : undefined;
    const inputRates = opts.inputRates ? new Map<string, number>() : undefined;
    const [out, loss] = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.n, S, S, C]);
      const y = model.forward(x, { training: false, rates, inputRates });
      return [y, crossEntropy(y, batch.y)] as const;
    });
    const scores = out.dataSync();
    logits.set(scores, done * K);
    lossSum += must(loss.dataSync()[0], 'the loss is a scalar') * batch.n;
    correct += argmaxRows(scores, K).reduce((c, p, i) => c + (p === batch.y[i] ? 1 : 0), 0);
    tf.dispose([out, loss]);
    labels.set(batch.y, done);
    // Rates are means over the batch; weight them by its size so the last, smaller batch counts fairly.
    for (const [m, sums] of [
      [rates, rateSums],
      [inputRates, inputSums],
    ] as const) {
      for (const [k, v] of m ?? []) sums.set(k, (sums.get(k) ?? 0) + v * batch.n);
    }
    done += batch.n;
    opts.progress?.(done, n);
  }
  const mean = (sums: Map<string, number>) =>
    sums.size ? Object.fromEntries([...sums].map(([k, v]) => [k, v / n])) : undefined;
  return {
    logits,
    labels,
    loss: lossSum / n,
    correct,
    seconds: (performance.now() - t0) / 1000,
    rates: mean(rateSums),
    inputRates: mean(inputSums),
  };
}
