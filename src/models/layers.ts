// The few layers both models are built from, each owning its parameters in a ParamStore under an official name.
// Inputs are channels-last: images NHWC, token features [..., C].
import * as tf from '@tensorflow/tfjs-core';
import {
  BN_GRAD,
  BN_RELU_GRAD,
  BN_RELU_TRAIN,
  BN_RUNNING_STATS,
  BN_TRAIN,
  type BNAttrs,
  type BNRunningStatsAttrs,
} from '../ops/index.js';
import { must } from '../util/must.js';
import { consume } from './last_use.js';
import { type ParamStore, torchDefaultUniform, truncNormal } from './params.js';

export class Conv2d {
  readonly weight: tf.Variable;
  constructor(
    store: ParamStore,
    readonly name: string,
    inC: number,
    outC: number,
    readonly kernel: number,
    readonly stride = 1,
    readonly padding = 1,
    /** PyTorch's default, or trunc_normal(std 0.02) as the Spike-driven Transformer initialises its convs. */
    init: 'torch' | 'trunc_normal' = 'torch',
  ) {
    const n = kernel * kernel * inC * outC;
    // Drawn in PyTorch's OIHW order, then stored HWIO, so a seed gives the same weights as the torch layout would.
    const w =
      init === 'torch' ? torchDefaultUniform(store.rng, n, inC * kernel * kernel) : truncNormal(store.rng, n, 0.02);
    const oihw = tf.tensor4d(w, [outC, inC, kernel, kernel]);
    const hwio = tf.transpose(oihw, [2, 3, 1, 0]);
    this.weight = store.param(`${name}.weight`, hwio.dataSync() as Float32Array, hwio.shape, 'conv', oihw.shape);
    tf.dispose([oihw, hwio]);
  }

  /** Explicit padding: TF's 'same' pads asymmetrically at stride 2, PyTorch pads both sides. */
  get pad(): [[number, number], [number, number], [number, number], [number, number]] {
    const p = this.padding;
    return [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ];
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return tf.conv2d(x, this.weight as tf.Tensor4D, this.stride, this.pad);
  }
}

export interface LinearOptions {
  /** False for the official layers built with bias=False (the SDT's q/k/v convolutions). */
  bias?: boolean;
  /** A 1x1 convolution run as a linear layer over tokens: PyTorch keeps the weight as [out, in, 1, 1]. */
  conv1x1?: boolean;
}

export class Linear {
  readonly weight: tf.Variable; // [out, in], as PyTorch
  readonly bias?: tf.Variable;
  constructor(
    store: ParamStore,
    readonly name: string,
    readonly inF: number,
    readonly outF: number,
    init: 'trunc_normal' | 'torch',
    opts: LinearOptions = {},
  ) {
    const w =
      init === 'trunc_normal'
        ? truncNormal(store.rng, inF * outF, 0.02)
        : torchDefaultUniform(store.rng, inF * outF, inF);
    this.weight = opts.conv1x1
      ? store.param(`${name}.weight`, w, [outF, inF], 'flat', [outF, inF, 1, 1])
      : store.param(`${name}.weight`, w, [outF, inF]);
    if (opts.bias === false) return;
    const b = init === 'trunc_normal' ? new Float32Array(outF) : torchDefaultUniform(store.rng, outF, inF);
    this.bias = store.param(`${name}.bias`, b, [outF]);
  }

  /** x [..., in] -> [..., out]; `folded` replaces the weight and bias (an eval-mode norm folded in, bn_fold.ts). */
  apply(x: tf.Tensor, folded?: { weight: tf.Tensor; bias: tf.Tensor }): tf.Tensor {
    const lead = x.shape.slice(0, -1);
    // One fused product with the bias (one pass over the output, and the event-driven kernel adds it as it stores).
    const a = tf.reshape(x, [-1, this.inF]) as tf.Tensor2D;
    const b = (folded?.weight ?? this.weight) as tf.Tensor2D;
    const y = tf.fused.matMul({ a, b, transposeB: true, bias: folded?.bias ?? this.bias });
    return tf.reshape(y, [...lead, this.outF]);
  }
}

export interface BatchNormOptions {
  momentum?: number;
  eps?: number;
}

/** BatchNorm over the last axis (BatchNorm2d on NHWC maps, BatchNorm1d on [..., C] features). */
export class BatchNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly momentum: number;
  readonly eps: number;

  constructor(
    private store: ParamStore,
    readonly name: string,
    readonly channels: number,
    opts: BatchNormOptions = {},
  ) {
    this.momentum = opts.momentum ?? 0.1;
    this.eps = opts.eps ?? 1e-5;
    this.weight = store.param(`${name}.weight`, new Float32Array(channels).fill(1), [channels]);
    this.bias = store.param(`${name}.bias`, new Float32Array(channels), [channels]);
    this.runningMean = store.buffer(`${name}.running_mean`, new Float32Array(channels));
    this.runningVar = store.buffer(`${name}.running_var`, new Float32Array(channels).fill(1));
    store.counters.set(`${name}.num_batches_tracked`, 0);
  }

  /**
   * Train mode normalises with batch statistics and updates the running ones; eval mode uses the running ones.
   * relu: ReLU after it, fused into the train-mode kernels where the backend has them.
   */
  apply(x: tf.Tensor, training: boolean, relu = false): tf.Tensor {
    const C = this.channels;
    if (x.shape[x.rank - 1] !== C) throw new Error(`${this.name}: expected ${C} channels last, got shape [${x.shape}]`);
    if (!training) {
      const y = tf.batchNorm(x, this.runningMean, this.runningVar, this.bias, this.weight, this.eps);
      return relu ? consume(y, tf.relu) : y;
    }
    const fused = relu && tf.getKernel(BN_RELU_TRAIN, tf.getBackend()) !== undefined;
    // The kernels read any shape as [M, C], channels last. A tf.reshape here would cost memory, not time: tfjs's
    // Reshape saves its input for the backward pass, so the output of a norm without ReLU (its view's input) stayed
    // alive until then, a feature map per residual block (74 MB in a resnet18 step at batch 64).
    const M = x.size / C;
    const attrs: BNAttrs = { eps: this.eps };
    let stats: tf.Tensor[] = [];
    const fn = tf.customGrad((xi, gamma, beta, save) => {
      const [y, mean, variance] = tf
        .engine()
        .runKernel(
          fused ? BN_RELU_TRAIN : BN_TRAIN,
          { x: xi as tf.Tensor, gamma: gamma as tf.Tensor, beta: beta as tf.Tensor },
          attrs,
        ) as [tf.Tensor, tf.Tensor, tf.Tensor];
      stats = [tf.keep(mean), tf.keep(variance)];
      // Fused, the ReLU's gradient needs its output, which the next layer keeps anyway (no pre-ReLU map held).
      (save as tf.GradSaveFunc)([xi as tf.Tensor, gamma as tf.Tensor, mean, variance, ...(fused ? [y] : [])]);
      return {
        value: y,
        gradFunc: (dy, saved) => {
          const [sx, sg, sm, sv, sy] = saved;
          const inputs = {
            dy: dy as tf.Tensor,
            x: must(sx, 'x saved by the forward'),
            gamma: must(sg, 'gamma saved by the forward'),
            mean: must(sm, 'mean saved by the forward'),
            variance: must(sv, 'variance saved by the forward'),
            ...(fused ? { y: must(sy, 'y saved by the fused forward') } : {}),
          };
          return tf.engine().runKernel(fused ? BN_RELU_GRAD : BN_GRAD, inputs, attrs) as tf.Tensor[];
        },
      };
    });
    const y = fn(x, this.weight, this.bias);
    const [mean, variance] = stats;
    this.updateRunningStats(must(mean, 'the forward kept the mean'), must(variance, 'and the variance'), M);
    tf.dispose(stats);
    return relu && !fused ? consume(y, tf.relu) : y;
  }

  private updateRunningStats(mean: tf.Tensor, variance: tf.Tensor, M: number): void {
    const m = this.momentum;
    if (tf.getKernel(BN_RUNNING_STATS, tf.getBackend())) {
      // One kernel on the CPU backends (the same bits as the ops below): seven tiny ops per norm were a few percent
      // of a small model's step in dispatch alone.
      const attrs: BNRunningStatsAttrs = { momentum: m, count: M };
      const inputs = { runningMean: this.runningMean, runningVar: this.runningVar, mean, variance };
      const [rm, rv] = tf.engine().runKernel(BN_RUNNING_STATS, inputs, attrs) as [tf.Tensor, tf.Tensor];
      this.runningMean.assign(rm);
      this.runningVar.assign(rv);
      tf.dispose([rm, rv]);
    } else {
      tf.tidy(() => {
        // PyTorch keeps the unbiased variance in running_var.
        const unbiased = tf.mul(variance, M / Math.max(M - 1, 1));
        this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
        this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(unbiased, m)));
      });
    }
    const key = `${this.name}.num_batches_tracked`;
    this.store.counters.set(key, (this.store.counters.get(key) ?? 0) + 1);
  }
}
