// Batch norm in eval mode is an affine map per channel, so it folds into the convolution or linear layer before it:
// w' = w k and b' = (b - mean) k + beta per output channel, with k = gamma / sqrt(var + eps). The layer and its norm
// then run as one fused product with a bias (and ReLU), no separate pass over the output: the norm was a quarter of a
// spikformer-4-384 inference step and about a fifth of a resnet18 forward at batch 1.
import * as tf from '@tensorflow/tfjs-core';
import { peekValues } from '../engine/peek.js';
import type { BatchNorm, Conv2d, Linear } from './layers.js';
import { consume } from './last_use.js';
import type { ParamStore } from './params.js';

interface Folded {
  /** The dataIds folded from: a tensor's values never change, so new dataIds mean new values (a step, a load). */
  from: object[];
  weight: tf.Tensor;
  bias: tf.Tensor1D;
}

/** The folded weight and bias of one layer and its norm, recomputed only when a source tensor has new values. */
export class BNFold {
  private folded?: Folded;

  /**
   * outAxis: where the weight keeps its output channel, 'last' for a conv's HWIO, 'first' for a linear's [out, in].
   * layerBias: the layer's own bias, if it has one.
   */
  constructor(
    private readonly store: ParamStore,
    private readonly weight: tf.Variable,
    private readonly outAxis: 'first' | 'last',
    private readonly bn: BatchNorm,
    private readonly layerBias?: tf.Variable,
  ) {}

  get(): { weight: tf.Tensor; bias: tf.Tensor1D } {
    const { bn } = this;
    const sources = [
      this.weight,
      bn.weight,
      bn.bias,
      bn.runningMean,
      bn.runningVar,
      ...(this.layerBias ? [this.layerBias] : []),
    ];
    const from = sources.map((t) => t.dataId);
    if (this.folded && from.every((id, i) => id === this.folded!.from[i])) return this.folded;
    const [w, gamma, beta, mean, variance, b0] = sources.map(peekValues);
    const O = gamma!.length;
    const k = new Float64Array(O),
      b = new Float32Array(O);
    for (let o = 0; o < O; o++) {
      k[o] = gamma![o]! / Math.sqrt(variance![o]! + bn.eps);
      b[o] = ((b0 ? b0[o]! : 0) - mean![o]!) * k[o]! + beta![o]!; // in double, rounded once
    }
    const fw = new Float32Array(w!.length);
    const inner = w!.length / O;
    if (this.outAxis === 'last') for (let i = 0; i < fw.length; i++) fw[i] = w![i]! * k[i % O]!;
    else for (let i = 0; i < fw.length; i++) fw[i] = w![i]! * k[Math.floor(i / inner)]!;
    this.drop();
    this.folded = {
      from,
      weight: tf.keep(tf.tensor(fw, this.weight.shape)),
      bias: tf.keep(tf.tensor1d(b)),
    };
    this.store.derived.add(this.folded.weight).add(this.folded.bias);
    return this.folded;
  }

  private drop(): void {
    if (!this.folded) return;
    for (const t of [this.folded.weight, this.folded.bias]) {
      this.store.derived.delete(t);
      t.dispose();
    }
    this.folded = undefined;
  }
}

/** conv then its eval-mode norm (then ReLU when relu) as one fused convolution. */
export function foldedConv(conv: Conv2d, fold: BNFold, x: tf.Tensor4D, relu = false): tf.Tensor4D {
  const { weight, bias } = fold.get();
  const filter = weight as tf.Tensor4D;
  return tf.fused.conv2d({
    x,
    filter,
    bias,
    strides: conv.stride,
    pad: conv.pad,
    activation: relu ? 'relu' : 'linear',
  });
}

/** linear then its eval-mode norm, x [..., in] -> [..., out], as one fused product. */
export function foldedLinear(linear: Linear, fold: BNFold, x: tf.Tensor): tf.Tensor {
  const { weight, bias } = fold.get();
  return linear.apply(x, { weight, bias });
}

/** bn(conv(x)), then ReLU when relu: with batch statistics (updated) when training, the fold in eval mode. */
export function convNorm(conv: Conv2d, bn: BatchNorm, fold: BNFold, x: tf.Tensor4D, training: boolean, relu = false) {
  if (!training) return foldedConv(conv, fold, x, relu);
  return consume(conv.apply(x), (t) => bn.apply(t, true, relu)) as tf.Tensor4D;
}

/** bn(linear(x)): with batch statistics (updated) when training, the fold in eval mode. */
export function linearNorm(linear: Linear, bn: BatchNorm, fold: BNFold, x: tf.Tensor, training: boolean): tf.Tensor {
  if (!training) return foldedLinear(linear, fold, x);
  return consume(linear.apply(x), (t) => bn.apply(t, true));
}
