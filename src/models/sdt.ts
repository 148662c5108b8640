// The Spike-driven Transformer (Yao et al., NeurIPS 2023), V1, the CIFAR variant of the official code
// (BICLab/Spike-Driven-Transformer: model/spikeformer.py, module/sps.py with pooling_stat "0011", module/ms_conv.py),
// in one file. Unlike Spikformer, the stream between blocks stays analog (membrane shortcuts): each weight layer reads
// the spikes of a LIF applied to its input, and self-attention is two masks and a token sum, no matrix product.
// Shapes: images NHWC [B, H, W, C]; inside, time comes first: maps [T*B, H, W, C], tokens [T, B, N, D].
import * as tf from '@tensorflow/tfjs-core';
import { must } from '../util/must.js';
import { Rng } from '../util/rng.js';
import type { ArchitectureSpec } from './architecture.js';
import { BNFold, linearNorm } from './bn_fold.js';
import { BatchNorm, Linear } from './layers.js';
import { lifSpikes, linearLayer, type ComputeLayer, type SpikeWiring } from './layer_graph.js';
import { chain, consume, consumeAll } from './last_use.js';
import { ParamStore } from './params.js';
import type { ForwardOptions, Model } from './model.js';
import {
  checkSpikingConfig,
  convBn,
  convBnLif,
  repeatOverTime,
  SpikingForward,
  spikingPeerArgs,
  spikingPreset,
  spsGraph,
  spsLayers,
  spsPoolId,
  type SpikingConfig,
  type SpsLayers,
} from './spiking.js';

export interface SDTConfig extends SpikingConfig {
  arch: 'sdt';
}

/** The threshold of the LIF on the token sums (official `talking_heads_lif`). */
const KV_THRESHOLD = 0.5;
/** The id a spike mask (a product of two LIFs' spikes) is recorded under: the two LIFs' ids. */
const maskId = (a: string, b: string) => `${a},${b}`;

export class SpikeDrivenTransformer implements Model {
  readonly store: ParamStore;
  private readonly sps: SpsLayers;
  private readonly blocks: Block[] = [];
  private readonly head: Linear;

  constructor(
    readonly config: SDTConfig,
    seed = 0,
  ) {
    checkSpikingConfig('sdt', config);
    this.store = new ParamStore(new Rng(seed));
    this.sps = spsLayers(this.store, config, 'trunc_normal'); // the official init: every Conv2d trunc_normal(0.02)
    for (let i = 0; i < config.depth; i++) this.blocks.push(new Block(this.store, `block.${i}`, config));
    this.head = new Linear(this.store, 'head', config.dim, config.classes, 'torch');
  }

  get tokens(): number {
    return (this.config.imageSize / 4) ** 2;
  }

  forward(images: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    const { timeSteps: T, dim: D } = this.config;
    const B = images.shape[0];
    const ctx = new SpikingForward(this.config, opts);
    const tiled = repeatOverTime(images, T);
    const { stages, rpe } = this.sps;
    const x = chain(tiled, ...stages.slice(0, 3).flatMap((stage) => convBnLif(stage, ctx)), (t) => {
      const p = tf.maxPool(t as tf.Tensor4D, 3, 2, 1);
      ctx.recordInput(spsPoolId(2), p); // pooling raises the rate the next conv sees
      return p;
    });
    tiled.dispose();
    // The fourth stage pools its BN output before any LIF: that analog map is the stream, refined by the rpe conv.
    const stage3 = must(stages[3], 'the SPS has four stages');
    const feat = consume(chain(x, convBn(stage3, ctx)), (t) => tf.maxPool(t as tf.Tensor4D, 3, 2, 1));
    x.dispose();
    const r = chain(feat, (t) => ctx.lif(stage3.lif, t), convBn(rpe, ctx));
    let tokens = consumeAll([feat, r], (f, r) => tf.reshape(tf.add(f, r), [T, B, this.tokens, D]));
    for (const block of this.blocks) tokens = consume(tokens, (t) => block.apply(t, ctx));
    const spikes = consume(tokens, (t) => ctx.lif('head_lif', tf.mean(t, 2))); // [T, B, D]
    return consume(spikes, (t) => tf.mean(this.head.apply(t), 0)) as tf.Tensor2D;
  }
}

/** A 1x1 convolution (run as a linear layer over tokens) and its BatchNorm: every SDT projection. */
class Conv1x1BN {
  readonly linear: Linear;
  readonly bn: BatchNorm;
  private readonly fold: BNFold;
  constructor(store: ParamStore, prefix: string, inF: number, outF: number, bias: boolean) {
    this.linear = new Linear(store, `${prefix}_conv`, inF, outF, 'trunc_normal', { bias, conv1x1: true });
    this.bn = new BatchNorm(store, `${prefix}_bn`, outF);
    this.fold = new BNFold(store, this.linear.weight, 'first', this.bn, this.linear.bias);
  }
  apply(x: tf.Tensor, ctx: SpikingForward): tf.Tensor {
    return linearNorm(this.linear, this.bn, this.fold, x, ctx.training);
  }
}

class Block {
  private readonly q: Conv1x1BN;
  private readonly k: Conv1x1BN;
  private readonly v: Conv1x1BN;
  private readonly proj: Conv1x1BN;
  private readonly fc1: Conv1x1BN;
  private readonly fc2: Conv1x1BN;

  constructor(
    store: ParamStore,
    private prefix: string,
    config: SDTConfig,
  ) {
    const D = config.dim;
    const hidden = Math.floor(D * config.mlpRatio);
    const a = `${prefix}.attn`;
    this.q = new Conv1x1BN(store, `${a}.q`, D, D, false);
    this.k = new Conv1x1BN(store, `${a}.k`, D, D, false);
    this.v = new Conv1x1BN(store, `${a}.v`, D, D, false);
    // The official attention builds a Conv1d over heads that its forward pass never calls; kept for the state dict.
    store.unused.set(`${a}.talking_heads.weight`, { shape: [config.heads, config.heads, 1], fill: 0 });
    this.proj = new Conv1x1BN(store, `${a}.proj`, D, D, true);
    this.fc1 = new Conv1x1BN(store, `${prefix}.mlp.fc1`, D, hidden, true);
    this.fc2 = new Conv1x1BN(store, `${prefix}.mlp.fc2`, hidden, D, true);
  }

  /** x [T, B, N, D] analog -> [T, B, N, D]: x + SDSA(LIF(x)), then x + MLP(x). */
  apply(x: tf.Tensor, ctx: SpikingForward): tf.Tensor {
    const a = `${this.prefix}.attn`;
    const m = `${this.prefix}.mlp`;
    const s = ctx.lif(`${a}.shortcut_lif`, x);
    const spikes = (p: Conv1x1BN, lif: string) => consume(p.apply(s, ctx), (t) => ctx.lif(lif, t, 1, true));
    const q = spikes(this.q, `${a}.q_lif`),
      k = spikes(this.k, `${a}.k_lif`),
      v = spikes(this.v, `${a}.v_lif`);
    s.dispose();
    // Spike-driven self-attention. Per head the official code sums k*v over tokens and masks q with the result; each
    // channel belongs to one head (channel = head * D/heads + c), so per channel over the whole width is the same.
    const kv = consumeAll([k, v], tf.mul); // a mask: spikes where both fire
    ctx.recordInput(maskId(`${a}.k_lif`, `${a}.v_lif`), kv);
    // [T, B, 1, D]
    const kvSpikes = consume(kv, (t) => ctx.lif(`${a}.talking_heads_lif`, tf.sum(t, 2, true), KV_THRESHOLD));
    const attn = consumeAll([q, kvSpikes], tf.mul); // a mask again
    ctx.recordInput(maskId(`${a}.q_lif`, `${a}.talking_heads_lif`), attn);
    const y = consume(
      consume(attn, (t) => this.proj.apply(t, ctx)),
      (t) => tf.add(x, t),
    );
    const mlp = chain(
      y,
      (t) => ctx.lif(`${m}.fc1_lif`, t), // y, the chain's input, is read again below
      (t) => this.fc1.apply(t, ctx),
      (t) => ctx.lif(`${m}.fc2_lif`, t, 1, true),
      (t) => this.fc2.apply(t, ctx),
    );
    const out = consume(mlp, (t) => tf.add(y, t));
    y.dispose();
    return out;
  }
}

/** A spike mask's rate: recorded by the forward pass when asked, else bounded by the sparser of its two LIFs. */
function maskSpikes(a: string, b: string): SpikeWiring {
  const id = maskId(a, b);
  return { input: id, spikes: { recorded: id, otherwise: { min: [{ lif: a }, { lif: b }] }, estimated: false } };
}

/**
 * The Spike-driven Transformer's compute layers: every weight layer reads the spikes of the LIF before it. Its
 * attention has no products: k*v and q*kv are masks (free), the token sum of k*v is one addition per spike of the mask.
 */
export function sdtLayers(c: SDTConfig): ComputeLayer[] {
  const D = c.dim;
  const N = (c.imageSize / 4) ** 2;
  const hidden = Math.floor(D * c.mlpRatio);
  const layers = spsGraph(c, lifSpikes('patch_embed.proj_lif3')); // its output joins the analog stream: no LIF
  for (let i = 0; i < c.depth; i++) {
    const a = `block.${i}.attn`;
    const m = `block.${i}.mlp`;
    const lin = (p: string, inF: number, outF: number, wiring: SpikeWiring, feeds?: string) =>
      linearLayer(`${p}_conv`, N, inF, outF, feeds ? { ...wiring, feeds } : wiring);
    layers.push(
      lin(`${a}.q`, D, D, lifSpikes(`${a}.shortcut_lif`), `${a}.q_lif`),
      lin(`${a}.k`, D, D, lifSpikes(`${a}.shortcut_lif`), `${a}.k_lif`),
      lin(`${a}.v`, D, D, lifSpikes(`${a}.shortcut_lif`), `${a}.v_lif`),
      {
        name: `${a}.kv_sum`,
        kind: 'sum',
        macs: N * D,
        ...maskSpikes(`${a}.k_lif`, `${a}.v_lif`),
        feeds: `${a}.talking_heads_lif`,
        weights: 0,
        inputs: 2 * N * D,
        outputs: D,
      },
      // proj and fc2 add to the analog stream; fc1's output goes to fc2's LIF.
      lin(`${a}.proj`, D, D, maskSpikes(`${a}.q_lif`, `${a}.talking_heads_lif`)),
      lin(`${m}.fc1`, D, hidden, lifSpikes(`${m}.fc1_lif`), `${m}.fc2_lif`),
      lin(`${m}.fc2`, hidden, D, lifSpikes(`${m}.fc2_lif`)),
    );
  }
  // The head runs at every step on the head LIF's spikes, then the logits are averaged over time.
  layers.push(linearLayer('head', 1, D, c.classes, lifSpikes('head_lif')));
  return layers;
}

export const SDT: ArchitectureSpec<SDTConfig> = {
  arch: 'sdt',
  title: 'Spike-driven Transformer',
  spiking: true,
  presets: {
    'sdt-2-512': spikingPreset('sdt', 2, 512, 8, "Spike-driven Transformer, the paper's CIFAR model"),
    'sdt-4-384': spikingPreset('sdt', 4, 384, 8, "Spike-driven Transformer in spikformer-4-384's shape"),
    'sdt-2-256': spikingPreset('sdt', 2, 256, 8, 'Spike-driven Transformer, smaller'),
    'sdt-2-128': spikingPreset('sdt', 2, 128, 8, 'Spike-driven Transformer, small: trains on a 2-core CPU'),
  },
  create: (config, seed) => new SpikeDrivenTransformer(config, seed),
  layers: sdtLayers,
  head: 'head',
  peerArgs: (c) => spikingPeerArgs(c, 'Spike-driven Transformer'),
  demoRole: 'sdt',
};
