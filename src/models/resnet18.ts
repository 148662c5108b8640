// ResNet18, CIFAR variant: 3x3 stem at stride 1, no max-pool, BasicBlocks 2-2-2-2 at widths w, 2w, 4w, 8w,
// a 1x1 conv + BN shortcut where the shape changes. Names follow the common PyTorch CIFAR ResNet (kuangliu).
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';
import { BatchNorm, Conv2d, Linear } from './layers.js';
import { chain, consume } from './last_use.js';
import { ParamStore } from './params.js';
import type { ForwardOptions, Model } from './model.js';

export interface ResNet18Config {
  arch: 'resnet18';
  /** Base width w (64 standard). */
  width: number;
  classes: number;
  imageSize: number;
  inChannels: number;
}

class BasicBlock {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly shortcut?: { conv: Conv2d; bn: BatchNorm };

  constructor(store: ParamStore, prefix: string, inC: number, outC: number, stride: number) {
    this.conv1 = new Conv2d(store, `${prefix}.conv1`, inC, outC, 3, stride, 1);
    this.bn1 = new BatchNorm(store, `${prefix}.bn1`, outC);
    this.conv2 = new Conv2d(store, `${prefix}.conv2`, outC, outC, 3, 1, 1);
    this.bn2 = new BatchNorm(store, `${prefix}.bn2`, outC);
    if (stride !== 1 || inC !== outC) {
      this.shortcut = {
        conv: new Conv2d(store, `${prefix}.shortcut.0`, inC, outC, 1, stride, 0),
        bn: new BatchNorm(store, `${prefix}.shortcut.1`, outC),
      };
    }
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const z = chain(
      x, (t) => this.conv1.apply(t as tf.Tensor4D), (t) => this.bn1.apply(t, training), tf.relu,
      (t) => this.conv2.apply(t as tf.Tensor4D), (t) => this.bn2.apply(t, training),
    );
    const sc = this.shortcut;
    const s = sc ? chain(x, (t) => sc.conv.apply(t as tf.Tensor4D), (t) => sc.bn.apply(t, training)) : x;
    const y = consume(z, (t) => tf.relu(tf.add(t, s))) as tf.Tensor4D;
    if (s !== x) s.dispose();
    return y;
  }
}

export class ResNet18 implements Model {
  readonly store: ParamStore;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly blocks: BasicBlock[] = [];
  private readonly linear: Linear;

  constructor(readonly config: ResNet18Config, seed = 0) {
    const w = config.width;
    this.store = new ParamStore(new Rng(seed));
    this.conv1 = new Conv2d(this.store, 'conv1', config.inChannels, w, 3, 1, 1);
    this.bn1 = new BatchNorm(this.store, 'bn1', w);
    let inC = w;
    [[w, 1], [2 * w, 2], [4 * w, 2], [8 * w, 2]].forEach(([outC, stride], i) => {
      this.blocks.push(new BasicBlock(this.store, `layer${i + 1}.0`, inC, outC, stride));
      this.blocks.push(new BasicBlock(this.store, `layer${i + 1}.1`, outC, outC, 1));
      inC = outC;
    });
    this.linear = new Linear(this.store, 'linear', 8 * w, config.classes, 'torch');
  }

  forward(images: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    // Each intermediate freed after its last use (src/models/last_use.ts).
    let x = chain(images, (t) => this.conv1.apply(t as tf.Tensor4D), (t) => this.bn1.apply(t, opts.training), tf.relu) as tf.Tensor4D;
    for (const block of this.blocks) x = consume(x, (t) => block.apply(t as tf.Tensor4D, opts.training)) as tf.Tensor4D;
    return consume(x, (t) => this.linear.apply(tf.mean(t, [1, 2]))) as tf.Tensor2D; // global average pool
  }
}
