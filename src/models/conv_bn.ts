// A convolution followed by batch norm (and maybe ReLU), as ResNet18 stacks them. In eval mode the norm is an affine
// map per output channel, so it folds into the convolution: w' = w k, b' = beta - mean k with
// k = gamma / sqrt(var + eps), and the three ops become one fused convolution (bias and ReLU inside it). At batch 1
// the separate batch-norm and ReLU ops cost about a fifth of a resnet18 forward in dispatch and memory passes.
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm, Conv2d } from './layers.js';
import { consume } from './last_use.js';
import type { ParamStore } from './params.js';

interface Folded {
  /** The dataIds folded from: a tensor's values never change, so new dataIds mean new values (a step, a load). */
  from: object[];
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

export class ConvBN {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;
  private folded?: Folded;

  constructor(
    private readonly store: ParamStore,
    convName: string,
    bnName: string,
    inC: number,
    outC: number,
    kernel: number,
    stride: number,
    padding: number,
  ) {
    this.conv = new Conv2d(store, convName, inC, outC, kernel, stride, padding);
    this.bn = new BatchNorm(store, bnName, outC);
  }

  /** bn(conv(x)), then ReLU when relu; training uses (and updates) batch statistics, eval the folded running ones. */
  apply(x: tf.Tensor4D, training: boolean, relu: boolean): tf.Tensor4D {
    if (training) return consume(this.conv.apply(x), (t) => this.bn.apply(t, true, relu)) as tf.Tensor4D;
    const { filter, bias } = this.fold();
    const p = this.conv.padding;
    return tf.fused.conv2d({
      x,
      filter,
      bias,
      strides: this.conv.stride,
      pad: [
        [0, 0],
        [p, p],
        [p, p],
        [0, 0],
      ],
      activation: relu ? 'relu' : 'linear',
    });
  }

  /** The folded filter and bias, recomputed (in double, rounded once) when any source tensor has new values. */
  private fold(): Folded {
    const sources = [this.conv.weight, this.bn.weight, this.bn.bias, this.bn.runningMean, this.bn.runningVar];
    const from = sources.map((t) => t.dataId);
    if (this.folded && from.every((id, i) => id === this.folded!.from[i])) return this.folded;
    const data = (t: tf.Tensor) => t.dataSync() as Float32Array;
    const w = data(this.conv.weight),
      gamma = data(this.bn.weight),
      beta = data(this.bn.bias),
      mean = data(this.bn.runningMean),
      variance = data(this.bn.runningVar);
    const O = gamma.length;
    const k = new Float64Array(O),
      b = new Float32Array(O);
    for (let o = 0; o < O; o++) {
      k[o] = gamma[o]! / Math.sqrt(variance[o]! + this.bn.eps);
      b[o] = beta[o]! - mean[o]! * k[o]!;
    }
    const fw = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) fw[i] = w[i]! * k[i % O]!; // HWIO: the output channel is the last axis
    if (this.folded) this.drop(this.folded);
    this.folded = {
      from,
      filter: tf.keep(tf.tensor4d(fw, this.conv.weight.shape as [number, number, number, number])),
      bias: tf.keep(tf.tensor1d(b)),
    };
    this.store.derived.add(this.folded.filter).add(this.folded.bias);
    return this.folded;
  }

  private drop(f: Folded): void {
    for (const t of [f.filter, f.bias]) {
      this.store.derived.delete(t);
      t.dispose();
    }
  }
}
