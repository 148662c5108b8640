// ResNet18, CIFAR variant: 3x3 stem at stride 1, no max-pool, BasicBlocks 2-2-2-2 at widths w, 2w, 4w, 8w,
// a 1x1 conv + BN shortcut where the shape changes. Names follow the common PyTorch CIFAR ResNet (kuangliu).
import * as tf from '@tensorflow/tfjs-core';
import { must } from '../util/must.js';
import { Rng } from '../util/rng.js';
import type { ArchitectureSpec } from './architecture.js';
import { chain, consume } from './last_use.js';
import { ConvBN } from './conv_bn.js';
import { convLayer, linearLayer, type ComputeLayer } from './layer_graph.js';
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

/** The four stages' widths and first strides, at base width w. */
/** Each stage's output channels and stride. */
const stages = (w: number): [number, number][] => [
  [w, 1],
  [2 * w, 2],
  [4 * w, 2],
  [8 * w, 2],
];

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
      // tfjs's Relu gradient, dy * step(x), as step(x) = step(y)
      const g = tf.mul(dy as tf.Tensor, tf.step(must(out, 'the forward saved its output')));
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

/** The last feature map, before pooling: what Grad-CAM reads (src/eval/explain.ts). */
const GRAD_CAM_TAP = 'layer4';

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
    stages(w).forEach(([outC, stride], i) => {
      this.blocks.push(new BasicBlock(this.store, `layer${i + 1}.0`, inC, outC, stride));
      this.blocks.push(new BasicBlock(this.store, `layer${i + 1}.1`, outC, outC, 1));
      inC = outC;
    });
    this.linear = new Linear(this.store, 'linear', 8 * w, config.classes, 'torch');
  }

  forward(images: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    let x = chain(images, (t) => this.stem.apply(t as tf.Tensor4D, opts.training, true)) as tf.Tensor4D;
    for (const block of this.blocks) x = consume(x, (t) => block.apply(t as tf.Tensor4D, opts.training)) as tf.Tensor4D;
    if (opts.tap) x = opts.tap(GRAD_CAM_TAP, x);
    return consume(x, (t) => this.linear.apply(tf.mean(t, [1, 2]))) as tf.Tensor2D; // global average pool
  }
}

/** ResNet18's compute layers: every one reads analog values (dense MACs, no spikes). */
export function resnetLayers(config: ResNet18Config): ComputeLayer[] {
  const { width: w, imageSize: S, inChannels, classes } = config;
  const analog = (input: string) => ({ input, spikes: null });
  const layers: ComputeLayer[] = [convLayer('conv1', S, 3, inChannels, w, analog('image'))];
  let c = w;
  let hw = S;
  let prev = 'bn1';
  stages(w).forEach(([outC, stride], li) => {
    for (let bi = 0; bi < 2; bi++) {
      const p = `layer${li + 1}.${bi}`;
      const s = bi === 0 ? stride : 1;
      const out = hw / s;
      layers.push(
        convLayer(`${p}.conv1`, out, 3, c, outC, analog(prev), s),
        convLayer(`${p}.conv2`, out, 3, outC, outC, analog(`${p}.bn1`)),
      );
      if (s !== 1 || c !== outC) layers.push(convLayer(`${p}.shortcut.0`, out, 1, c, outC, analog(prev), s));
      c = outC;
      hw = out;
      prev = p;
    }
  });
  layers.push(linearLayer('linear', 1, c, classes, analog('global average pool')));
  return layers;
}

const resnetPreset = (width: number, about: string) => ({
  about,
  config: { arch: 'resnet18' as const, width, classes: 5, imageSize: 32, inChannels: 3 },
});

export const RESNET18: ArchitectureSpec<ResNet18Config> = {
  arch: 'resnet18',
  title: 'ResNet18',
  spiking: false,
  presets: {
    resnet18: resnetPreset(64, "CIFAR ResNet18, the study's baseline"),
    'resnet18-w16': resnetPreset(16, 'CIFAR ResNet18 at a quarter width: trains on a 2-core CPU'),
    'resnet18-w8': resnetPreset(8, "CIFAR ResNet18 at an eighth width (the golden tests' size)"),
  },
  create: (config, seed) => new ResNet18(config, seed),
  layers: resnetLayers,
  head: 'linear',
  peerArgs: (c) => {
    if (c.imageSize !== 32) throw new Error('the PyTorch peer only builds ResNet18 on 32x32 images');
    return ['resnet18', '--width', `${c.width}`];
  },
  demoRole: 'ann',
  // Three stride-2 stages: the last feature map is 8x smaller than the image, with 8x the base width of channels.
  gradCam: { tap: GRAD_CAM_TAP, shape: (c) => [c.imageSize / 8, c.imageSize / 8, 8 * c.width] },
};
