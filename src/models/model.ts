// What every model offers the rest of geospike: a forward pass over NHWC images and its tensors in a ParamStore.
import type * as tf from '@tensorflow/tfjs-core';
import type { ParamStore } from './params.js';

export interface ForwardOptions {
  /** Train mode: BatchNorm uses batch statistics and updates its running statistics. */
  training: boolean;
  /** When given, spiking models record each LIF layer's mean firing rate here (costs a sync read per layer). */
  rates?: Map<string, number>;
  /**
   * When given, spiking models also record the mean of each tensor that feeds a weight layer but is not a LIF
   * output (the SPS max-pools, the SDT's masks), under the ids their layer graph's `recorded` sources name.
   */
  inputRates?: Map<string, number>;
  /**
   * When given, ResNet18 passes its last feature map (named 'layer4', before pooling) through this and goes on with
   * what it returns: how Grad-CAM (src/eval/explain.ts) reads the features and their gradient.
   */
  tap?: (name: string, x: tf.Tensor4D) => tf.Tensor4D;
}

export interface Model {
  readonly config: { arch: string; classes: number; imageSize: number; inChannels: number };
  readonly store: ParamStore;
  /** images [B, H, W, C] -> logits [B, classes] */
  forward(images: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D;
}
