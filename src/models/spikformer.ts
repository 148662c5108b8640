// Spikformer, the CIFAR variant of the official code (ZK-Zhou/spikformer cifar10/model.py), in one file.
// Shapes: images NHWC [B, H, W, C]; inside, time comes first: maps [T*B, H, W, C], tokens [T, B, N, D].
import * as tf from '@tensorflow/tfjs-core';
import { lif } from '../snn/lif.js';
import { surrogate, type SurrogateName } from '../snn/surrogate.js';
import { Rng } from '../util/rng.js';
import { BatchNorm, Conv2d, Linear } from './layers.js';
import { ParamStore } from './params.js';
import type { ForwardOptions, Model } from './model.js';

export interface SpikformerConfig {
  arch: 'spikformer';
  /** Embedding dimension D (384 in the paper's CIFAR model). */
  dim: number;
  /** Number of encoder blocks. */
  depth: number;
  /** Attention heads; D must divide by it. */
  heads: number;
  /** Simulation time steps T; the image is repeated T times. */
  timeSteps: number;
  classes: number;
  /** Square input size; SPS pools twice, so 32 gives 8x8 = 64 tokens. */
  imageSize: number;
  inChannels: number;
  /** MLP hidden size = dim * mlpRatio. */
  mlpRatio: number;
  /** LIF membrane time constant. */
  tau: number;
  surrogate: SurrogateName;
  /** Surrogate sharpness (sigmoid 4, atan 2 by default). */
  alpha: number;
}

const ATTN_SCALE = 0.125; // the official constant, whatever the head size
const ATTN_THRESHOLD = 0.5;

export class Spikformer implements Model {
  readonly store: ParamStore;
  private readonly sps: { conv: Conv2d; bn: BatchNorm; lif: string }[] = [];
  private readonly rpe: { conv: Conv2d; bn: BatchNorm };
  private readonly blocks: Block[] = [];
  private readonly head: Linear;

  constructor(readonly config: SpikformerConfig, seed = 0) {
    const { dim: D, inChannels } = config;
    if (D % 8 !== 0) throw new Error(`spikformer dim must be a multiple of 8, got ${D}`);
    if (D % config.heads !== 0) throw new Error(`spikformer dim ${D} must divide by heads ${config.heads}`);
    if (config.imageSize % 4 !== 0) throw new Error(`image size must be a multiple of 4, got ${config.imageSize}`);
    this.store = new ParamStore(new Rng(seed));
    const ch = [inChannels, D / 8, D / 4, D / 2, D];
    ['', '1', '2', '3'].forEach((s, i) => {
      this.sps.push({
        conv: new Conv2d(this.store, `patch_embed.proj_conv${s}`, ch[i], ch[i + 1], 3),
        bn: new BatchNorm(this.store, `patch_embed.proj_bn${s}`, ch[i + 1]),
        lif: `patch_embed.proj_lif${s}`,
      });
    });
    this.rpe = {
      conv: new Conv2d(this.store, 'patch_embed.rpe_conv', D, D, 3),
      bn: new BatchNorm(this.store, 'patch_embed.rpe_bn', D),
    };
    for (let i = 0; i < config.depth; i++) this.blocks.push(new Block(this.store, `block.${i}`, config));
    this.head = new Linear(this.store, 'head', D, config.classes, 'trunc_normal');
  }

  get tokens(): number {
    return (this.config.imageSize / 4) ** 2;
  }

  forward(images: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    const { timeSteps: T } = this.config;
    const [B, H, W, C] = images.shape;
    const ctx = new Ctx(this.config, opts);
    // Input repeated over time: [T*B, H, W, C], time-major.
    let x: tf.Tensor4D = tf.reshape(tf.tile(tf.expandDims(images, 0), [T, 1, 1, 1, 1]), [T * B, H, W, C]) as tf.Tensor4D;
    this.sps.forEach((stage, i) => {
      x = ctx.lif(stage.lif, stage.bn.apply(stage.conv.apply(x), opts.training)) as tf.Tensor4D;
      if (i >= 2) {
        x = tf.maxPool(x, 3, 2, 1); // maxpool2 after the third stage, maxpool3 after the fourth
        ctx.recordInput(`patch_embed.maxpool${i}`, x); // pooling raises the rate the next conv sees
      }
    });
    const r = ctx.lif('patch_embed.rpe_lif', this.rpe.bn.apply(this.rpe.conv.apply(x), opts.training));
    const D = this.config.dim;
    let tokens = tf.reshape(tf.add(x, r), [T, B, this.tokens, D]);
    // A tidy per block frees its intermediates as soon as it is done (inference memory halves); under a gradient
    // tape the tensors the backward pass needs are kept regardless.
    for (const block of this.blocks) tokens = tf.tidy(() => block.apply(tokens, ctx));
    return this.head.apply(tf.mean(tf.mean(tokens, 2), 0)) as tf.Tensor2D;
  }
}

/** Per-forward context: the mode, the LIF settings and the optional firing-rate probe. */
class Ctx {
  private readonly sg;
  constructor(private config: SpikformerConfig, readonly opts: ForwardOptions) {
    this.sg = surrogate(config.surrogate, config.alpha);
  }
  get training(): boolean {
    return this.opts.training;
  }
  /** x is [T*B, ...] or [T, B, ...]; the LIF runs over the leading time axis and returns x's shape. */
  lif(name: string, x: tf.Tensor, vThreshold = 1): tf.Tensor {
    const T = this.config.timeSteps;
    const s = lif(tf.reshape(x, [T, -1]), { tau: this.config.tau, vThreshold, surrogate: this.sg });
    if (this.opts.rates) this.opts.rates.set(name, tf.tidy(() => tf.mean(s).dataSync()[0]));
    return tf.reshape(s, x.shape);
  }
  recordInput(name: string, x: tf.Tensor): void {
    if (this.opts.inputRates) this.opts.inputRates.set(name, tf.tidy(() => tf.mean(x).dataSync()[0]));
  }
}

/** Linear + BatchNorm1d + LIF, the unit every SSA and MLP projection is made of. */
class SpikingLinear {
  readonly linear: Linear;
  readonly bn: BatchNorm;
  constructor(store: ParamStore, readonly prefix: string, inF: number, outF: number) {
    this.linear = new Linear(store, `${prefix}_linear`, inF, outF, 'trunc_normal');
    this.bn = new BatchNorm(store, `${prefix}_bn`, outF);
  }
  apply(x: tf.Tensor, ctx: Ctx): tf.Tensor {
    return ctx.lif(`${this.prefix}_lif`, this.bn.apply(this.linear.apply(x), ctx.training));
  }
}

class Block {
  private readonly q: SpikingLinear;
  private readonly k: SpikingLinear;
  private readonly v: SpikingLinear;
  private readonly proj: SpikingLinear;
  private readonly fc1: SpikingLinear;
  private readonly fc2: SpikingLinear;

  constructor(store: ParamStore, private prefix: string, private config: SpikformerConfig) {
    const D = config.dim;
    const hidden = Math.floor(D * config.mlpRatio);
    // The official block builds LayerNorms it never applies; kept only so state dicts match (identity on export).
    store.unused.set(`${prefix}.norm1.weight`, { shape: [D], fill: 1 });
    store.unused.set(`${prefix}.norm1.bias`, { shape: [D], fill: 0 });
    this.q = new SpikingLinear(store, `${prefix}.attn.q`, D, D);
    this.k = new SpikingLinear(store, `${prefix}.attn.k`, D, D);
    this.v = new SpikingLinear(store, `${prefix}.attn.v`, D, D);
    this.proj = new SpikingLinear(store, `${prefix}.attn.proj`, D, D);
    store.unused.set(`${prefix}.norm2.weight`, { shape: [D], fill: 1 });
    store.unused.set(`${prefix}.norm2.bias`, { shape: [D], fill: 0 });
    this.fc1 = new SpikingLinear(store, `${prefix}.mlp.fc1`, D, hidden);
    this.fc2 = new SpikingLinear(store, `${prefix}.mlp.fc2`, hidden, D);
  }

  /** x [T, B, N, D] -> [T, B, N, D]: x + SSA(x), then x + MLP(x). */
  apply(x: tf.Tensor, ctx: Ctx): tf.Tensor {
    const [T, B, N, D] = x.shape;
    const h = this.config.heads;
    const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [T, B, N, h, D / h]), [0, 1, 3, 2, 4]);
    const q = split(this.q.apply(x, ctx));
    const k = split(this.k.apply(x, ctx));
    const v = split(this.v.apply(x, ctx));
    // Spiking self-attention: no softmax; spikes make q k^T non-negative already.
    const attn = tf.mul(tf.matMul(q, k, false, true), ATTN_SCALE);
    const merged = tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 1, 3, 2, 4]), [T, B, N, D]);
    const a = ctx.lif(`${this.prefix}.attn.attn_lif`, merged, ATTN_THRESHOLD);
    x = tf.add(x, this.proj.apply(a, ctx));
    return tf.add(x, this.fc2.apply(this.fc1.apply(x, ctx), ctx));
  }
}
