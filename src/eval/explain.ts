// Why the network guessed a class: an evidence map over the image's patches, and the deletion test that checks the
// map is honest. The grid is the spiking models' own tokens: 4x4-pixel patches, 8x8 of them at 32x32.
//   Spikformer, SDT: gradient x input, summed over each patch's pixels and channels (the first-order change of the
//     class's logit when the patch is set to the dataset mean, which is 0 after normalisation). The gradient is taken
//     through the surrogate spike function, the one training uses.
//   ResNet18: Grad-CAM (Selvaraju et al. 2017) on the last feature map: channel weights = spatial mean of the
//     logit's gradient, map = ReLU of the weighted sum, spread over the patches each cell covers.
// Deletion test (Petsiuk et al. 2018): mask the patches in the map's order, most evidence first, and watch the
// predicted class's probability fall; do the same in random orders. The map passes when its curve's area is smaller.
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../models/model.js';
import { architectureOf } from '../models/registry.js';
import { Rng } from '../util/rng.js';
import { must } from '../util/must.js';

export const PATCH = 4;

export interface Maps {
  /** One map of grid x grid values per image, row-major, patches with more evidence for the class higher. */
  maps: Float32Array[];
  grid: number;
  method: string;
}

export function methodOf(arch: string): string {
  const cam = architectureOf({ arch }).gradCam;
  return cam ? `Grad-CAM on the last feature map (${cam.tap})` : 'gradient x input, summed per 4x4-pixel patch';
}

function classScore(logits: tf.Tensor2D, classes: Int32Array): tf.Scalar {
  return tf.sum(tf.mul(logits, tf.oneHot(tf.tensor1d(classes, 'int32'), logits.shape[1])));
}

/** Evidence maps for `classes[i]` on each normalised image of `x` [n, S, S, C]. */
export function evidenceMaps(model: Model, x: Float32Array, n: number, classes: Int32Array): Maps {
  const { imageSize: S, inChannels: C, arch } = model.config;
  if (S % PATCH !== 0) throw new Error(`explanations need an image size divisible by ${PATCH}, got ${S}`);
  const G = S / PATCH;
  const maps = Array.from({ length: n }, () => new Float32Array(G * G));
  const gradCam = architectureOf(model.config).gradCam;
  if (gradCam) {
    let features: tf.Tensor4D | null = null;
    const images = tf.tensor4d(x, [n, S, S, C]);
    try {
      // Grad-CAM needs d logit / d features: a zero tensor added at the tap has exactly that gradient.
      const probe = tf.zeros([n, ...gradCam.shape(model.config)]);
      const grad = tf.grad((delta: tf.Tensor) =>
        classScore(
          model.forward(images, {
            training: false,
            tap: (_, f) => {
              features ??= tf.keep(tf.clone(f));
              return tf.add(f, delta) as tf.Tensor4D;
            },
          }),
          classes,
        ),
      )(probe);
      probe.dispose();
      const cam = tf.tidy(() => {
        const weights = tf.mean(grad, [1, 2], true); // [n, 1, 1, K]
        return tf.relu(tf.sum(tf.mul(weights, features!), 3)); // [n, h, w]
      });
      grad.dispose();
      const [, h, w] = cam.shape as [number, number, number]; // [n, h, w]
      const v = cam.dataSync();
      cam.dispose();
      for (let i = 0; i < n; i++)
        for (let r = 0; r < G; r++)
          for (let c = 0; c < G; c++)
            maps[i]![r * G + c] = v[i * h * w + Math.floor((r * h) / G) * w + Math.floor((c * w) / G)]!;
    } finally {
      images.dispose();
      (features as tf.Tensor | null)?.dispose();
    }
    return { maps, grid: G, method: methodOf(arch) };
  }
  const images = tf.tensor4d(x, [n, S, S, C]);
  const g = tf.grad((img: tf.Tensor) => classScore(model.forward(img as tf.Tensor4D, { training: false }), classes))(
    images,
  );
  const gv = g.dataSync();
  g.dispose();
  images.dispose();
  for (let i = 0; i < n; i++)
    for (let y = 0; y < S; y++)
      for (let xx = 0; xx < S; xx++)
        for (let ch = 0; ch < C; ch++) {
          const k = ((i * S + y) * S + xx) * C + ch;
          maps[i]![Math.floor(y / PATCH) * G + Math.floor(xx / PATCH)]! += gv[k]! * x[k]!;
        }
  return { maps, grid: G, method: methodOf(arch) };
}

/** Softmax probabilities [n, classes] of normalised images. */
export function probabilities(model: Model, x: Float32Array, n: number): Float32Array {
  const { imageSize: S, inChannels: C } = model.config;
  return tf
    .tidy(() => tf.softmax(model.forward(tf.tensor4d(x, [n, S, S, C]), { training: false })))
    .dataSync() as Float32Array;
}

/** Sets the listed patches of one normalised image [S, S, C] to 0 (the dataset mean), in place. */
export function maskPatches(img: Float32Array, S: number, C: number, patches: ArrayLike<number>): void {
  const G = S / PATCH;
  for (let k = 0; k < patches.length; k++) {
    const r = Math.floor(patches[k]! / G);
    const c = patches[k]! % G;
    for (let y = r * PATCH; y < (r + 1) * PATCH; y++)
      img.fill(0, (y * S + c * PATCH) * C, (y * S + (c + 1) * PATCH) * C);
  }
}

/** Patch indices by decreasing evidence (ties by index, so the order is deterministic). */
export function rankPatches(map: Float32Array): number[] {
  return Array.from(map.keys()).sort((a, b) => map[b]! - map[a]! || a - b);
}

/** Area under a curve sampled at `xs` (trapezoids). */
export function area(xs: number[], ys: number[]): number {
  let a = 0;
  for (let i = 1; i < xs.length; i++) a += ((xs[i]! - xs[i - 1]!) * (ys[i]! + ys[i - 1]!)) / 2;
  return a;
}

export interface Deletion {
  /** Share of patches masked at each point. */
  fractions: number[];
  /** Mean probability of the class predicted on the whole image, masking by the map / in random orders. */
  map: number[];
  random: number[];
  areaMap: number;
  areaRandom: number;
  /** True when masking by the map lowers the probability faster (a smaller area) than random masking. */
  passed: boolean;
  images: number;
  randomOrders: number;
}

export interface DeletionOptions {
  steps?: number;
  randomOrders?: number;
  seed?: number;
  progress?: (done: number, total: number) => void;
}

/** The deletion test over n images with their maps; `predicted[i]` is the class whose probability is followed. */
export function deletionTest(
  model: Model,
  x: Float32Array,
  n: number,
  maps: Float32Array[],
  predicted: Int32Array,
  opts: DeletionOptions = {},
): Deletion {
  const { imageSize: S, inChannels: C, classes: K } = model.config;
  const steps = opts.steps ?? 10;
  const R = opts.randomOrders ?? 3;
  const rng = new Rng(opts.seed ?? 0);
  const per = S * S * C;
  const P = (S / PATCH) ** 2;
  const fractions = Array.from({ length: steps + 1 }, (_, k) => k / steps);
  const counts = fractions.map((f) => Math.round(f * P));
  const sumMap = new Array<number>(steps + 1).fill(0);
  const sumRandom = new Array<number>(steps + 1).fill(0);
  for (let i = 0; i < n; i++) {
    const orders = [rankPatches(must(maps[i], 'one map per image'))];
    for (let r = 0; r < R; r++) {
      const o = Array.from({ length: P }, (_, k) => k);
      for (let k = P - 1; k > 0; k--) {
        const j = rng.int(k + 1);
        [o[k], o[j]] = [o[j]!, o[k]!];
      }
      orders.push(o);
    }
    // Every masked version of this image in one batch: (1 + R) orders x (steps + 1) fractions.
    const batch = new Float32Array(orders.length * counts.length * per);
    orders.forEach((o, oi) => {
      counts.forEach((m, si) => {
        const img = batch.subarray((oi * counts.length + si) * per, (oi * counts.length + si + 1) * per);
        img.set(x.subarray(i * per, (i + 1) * per));
        maskPatches(img, S, C, o.slice(0, m));
      });
    });
    const p = probabilities(model, batch, orders.length * counts.length);
    counts.forEach((_, si) => {
      sumMap[si]! += p[si * K + predicted[i]!]!;
      for (let oi = 1; oi < orders.length; oi++)
        sumRandom[si]! += p[(oi * counts.length + si) * K + predicted[i]!]! / R;
    });
    opts.progress?.(i + 1, n);
  }
  const map = sumMap.map((v) => v / n);
  const random = sumRandom.map((v) => v / n);
  const areaMap = area(fractions, map);
  const areaRandom = area(fractions, random);
  return { fractions, map, random, areaMap, areaRandom, passed: areaMap < areaRandom, images: n, randomOrders: R };
}

/**
 * The average map of each class over the images it got right, each map first scaled to its largest positive value
 * (negative evidence counted as 0) so that every image weighs the same.
 */
export function perClassMaps(
  maps: Float32Array[],
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: string[],
): { class: string; images: number; map: number[] }[] {
  const G2 = maps[0]?.length ?? 0;
  return classes.map((name, c) => {
    const sum = new Array<number>(G2).fill(0);
    let k = 0;
    maps.forEach((m, i) => {
      if (labels[i] !== c || predicted[i] !== c) return;
      const top = Math.max(...m);
      if (!(top > 0)) return;
      for (let j = 0; j < G2; j++) sum[j]! += Math.max(0, m[j]!) / top;
      k++;
    });
    return { class: name, images: k, map: sum.map((v) => (k ? v / k : 0)) };
  });
}
