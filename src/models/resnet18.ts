// ResNet18, CIFAR variant: 3x3 stem at stride 1, no max-pool, BasicBlocks 2-2-2-2 at widths w, 2w, 4w, 8w,
// a 1x1 conv + BN shortcut where the shape changes. Names follow the common PyTorch CIFAR ResNet (kuangliu).
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/rng.js';
import { chain, consume } from './last_use.js';
import { ConvBN } from './conv_bn.js';
import { Linear } from './layers.js';
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

/**
 * relu(a + b), as tf.relu(tf.add(a, b)) computes it, but its gradient reads the output (which the next block keeps
 * anyway) instead of the sum: tfjs's Relu saves its input, a whole feature map per block held until backward.
 */
const addRelu = tf.customGrad((a, b, save) => {
  const y = tf.tidy(() => tf.relu(tf.add(a as tf.Tensor, b as tf.Tensor)));
  (save as tf.GradSaveFunc)([y]);
  return {
    value: y,
    gradFunc: (dy, [out]) => {
      const g = tf.mul(dy as tf.Tensor, tf.step(out)); // tfjs's Relu gradient, dy * step(x), as step(x) = step(y)
      return [g, tf.clone(g)];
    },
  };
});

class BasicBlock {
  private readonly branch1: ConvBN;
  private readonly branch2: ConvBN;
  private readonly shortcut?: ConvBN;

  constructor(store: ParamStore, prefix: string, inC: number, outC: number, stride: number) {
    this.branch1 = new ConvBN(store, `${prefix}.conv1`, `${prefix}.bn1`, inC, outC, 3, stride, 1);
    this.branch2 = new ConvBN(store, `${prefix}.conv2`, `${prefix}.bn2`, outC, outC, 3, 1, 1);
    if (stride !== 1 || inC !== outC) {
      this.shortcut = new ConvBN(store, `${prefix}.shortcut.0`, `${prefix}.shortcut.1`, inC, outC, 1, stride, 0);
    }
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    // Each intermediate freed after its last use (src/models/last_use.ts).
    const z = chain(
      x,
      (t) => this.branch1.apply(t as tf.Tensor4D, training, true),
      (t) => this.branch2.apply(t as tf.Tensor4D, training, false),
    );
    const sc = this.shortcut;
    const s = sc ? tf.tidy(() => sc.apply(x, training, false)) : x;
    const y = consume(z, (t) => addRelu(t, s)) as tf.Tensor4D;
    if (s !== x) s.dispose();
    return y;
  }
}

export class ResNet18 implements Model {
  readonly store: ParamStore;
  private readonly stem: ConvBN;
  private readonly blocks: BasicBlock[] = [];
  private readonly linear: Linear;

  constructor(
    readonly config: ResNet18Config,
    seed = 0,
  ) {
    const w = config.width;
    this.store = new ParamStore(new Rng(seed));
    this.stem = new ConvBN(this.store, 'conv1', 'bn1', config.inChannels, w, 3, 1, 1);
    let inC = w;
    [
      [w, 1],
      [2 * w, 2],
      [4 * w, 2],
      [8 * w, 2],
    ].forEach(([outC, stride], i) => {
      this.blocks.push(new BasicBlock(this.store, `layer${i + 1}.0`, inC, outC, stride));
      this.blocks.push(new BasicBlock(this.store, `layer${i + 1}.1`, outC, outC, 1));
      inC = outC;
    });
    this.linear = new Linear(this.store, 'linear', 8 * w, config.classes, 'torch');
  }

  forward(images: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    let x = chain(images, (t) => this.stem.apply(t as tf.Tensor4D, opts.training, true)) as tf.Tensor4D;
    for (const block of this.blocks) x = consume(x, (t) => block.apply(t as tf.Tensor4D, opts.training)) as tf.Tensor4D;
    if (opts.tap) x = opts.tap('layer4', x);
    return consume(x, (t) => this.linear.apply(tf.mean(t, [1, 2]))) as tf.Tensor2D; // global average pool
  }
}
