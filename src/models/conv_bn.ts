// A convolution followed by batch norm (and maybe ReLU), as ResNet18 stacks them. In eval mode the norm folds into the
// convolution (bn_fold.ts) and the three ops become one fused convolution (bias and ReLU inside it). At batch 1 the
// separate batch-norm and ReLU ops cost about a fifth of a resnet18 forward in dispatch and memory passes.
import type * as tf from '@tensorflow/tfjs-core';
import { BNFold, convNorm } from './bn_fold.js';
import { BatchNorm, Conv2d } from './layers.js';
import type { ParamStore } from './params.js';

export class ConvBN {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;
  private readonly fold: BNFold;

  constructor(
    store: ParamStore,
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
    this.fold = new BNFold(store, this.conv.weight, 'last', this.bn);
  }

  /** bn(conv(x)), then ReLU when relu; training uses (and updates) batch statistics, eval the folded running ones. */
  apply(x: tf.Tensor4D, training: boolean, relu: boolean): tf.Tensor4D {
    return convNorm(this.conv, this.bn, this.fold, x, training, relu);
  }
}
