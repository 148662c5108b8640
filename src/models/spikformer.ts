// Spikformer, the CIFAR variant of the official code (ZK-Zhou/spikformer cifar10/model.py), in one file.
// Shapes: images NHWC [B, H, W, C]; inside, time comes first: maps [T*B, H, W, C], tokens [T, B, N, D].
import * as tf from '@tensorflow/tfjs-core';
import { spikeAttention } from '../ops/spike_attention/op.js';
import { Rng } from '../util/rng.js';
import type { ArchitectureSpec } from './architecture.js';
import { BNFold, linearNorm } from './bn_fold.js';
import { BatchNorm, Linear } from './layers.js';
import { lifSpikes, linearLayer, type ComputeLayer, type SpikeWiring } from './layer_graph.js';
import { chain, consume, consumeAll, type Step } from './last_use.js';
import { ParamStore } from './params.js';
import type { ForwardOptions, Model } from './model.js';
import {
  checkSpikingConfig,
  convBnLif,
  repeatOverTime,
  SpikingForward,
  spikingPeerArgs,
  spikingPreset,
  spsGraph,
  spsLayers,
  spsPooled,
  spsPoolId,
  type SpikingConfig,
  type SpsLayers,
} from './spiking.js';

export interface SpikformerConfig extends SpikingConfig {
  arch: 'spikformer';
}

const ATTN_SCALE = 0.125; // the official constant, whatever the head size
const ATTN_THRESHOLD = 0.5;
const RPE_LIF = 'patch_embed.rpe_lif';
/** The LIF after a projection (Linear + BN) named prefix: SpikingLinear's, and the layer graph's. */
const lifOf = (prefix: string) => `${prefix}_lif`;

export class Spikformer implements Model {
  readonly store: ParamStore;
  private readonly sps: SpsLayers;
  private readonly blocks: Block[] = [];
  private readonly head: Linear;

  constructor(
    readonly config: SpikformerConfig,
    seed = 0,
  ) {
    checkSpikingConfig('spikformer', config);
    this.store = new ParamStore(new Rng(seed));
    this.sps = spsLayers(this.store, config, 'torch');
    for (let i = 0; i < config.depth; i++) this.blocks.push(new Block(this.store, `block.${i}`, config));
    this.head = new Linear(this.store, 'head', config.dim, config.classes, 'trunc_normal');
  }

  get tokens(): number {
    return (this.config.imageSize / 4) ** 2;
  }

  forward(images: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    const { timeSteps: T } = this.config;
    const B = images.shape[0];
    const ctx = new SpikingForward(this.config, opts);
    const tiled = repeatOverTime(images, T);
    const steps: Step[] = [];
    this.sps.stages.forEach((stage, i) => {
      steps.push(...convBnLif(stage, ctx));
      if (i >= 2) {
        steps.push((x) => {
          const p = tf.maxPool(x as tf.Tensor4D, 3, 2, 1); // maxpool2 after the third stage, maxpool3 after the fourth
          ctx.recordInput(spsPoolId(i), p); // pooling raises the rate the next conv sees
          return p;
        });
      }
    });
    const x = chain(tiled, ...steps);
    tiled.dispose();
    const r = chain(x, ...convBnLif({ ...this.sps.rpe, lif: RPE_LIF }, ctx));
    const D = this.config.dim;
    let tokens = consumeAll([x, r], (x, r) => tf.reshape(tf.add(x, r), [T, B, this.tokens, D]));
    for (const block of this.blocks) tokens = consume(tokens, (t) => block.apply(t, ctx));
    return consume(tokens, (t) => this.head.apply(tf.mean(tf.mean(t, 2), 0))) as tf.Tensor2D;
  }
}

/** Linear + BatchNorm1d + LIF, the unit every SSA and MLP projection is made of. */
class SpikingLinear {
  readonly linear: Linear;
  readonly bn: BatchNorm;
  private readonly fold: BNFold;
  constructor(
    store: ParamStore,
    readonly prefix: string,
    inF: number,
    outF: number,
  ) {
    this.linear = new Linear(store, `${prefix}_linear`, inF, outF, 'trunc_normal');
    this.bn = new BatchNorm(store, `${prefix}_bn`, outF);
    this.fold = new BNFold(store, this.linear.weight, 'first', this.bn, this.linear.bias);
  }
  apply(x: tf.Tensor, ctx: SpikingForward): tf.Tensor {
    return chain(
      x,
      (t) => linearNorm(this.linear, this.bn, this.fold, t, ctx.training),
      (t) => ctx.lif(lifOf(this.prefix), t, 1, true),
    );
  }
}

class Block {
  private readonly q: SpikingLinear;
  private readonly k: SpikingLinear;
  private readonly v: SpikingLinear;
  private readonly proj: SpikingLinear;
  private readonly fc1: SpikingLinear;
  private readonly fc2: SpikingLinear;

  constructor(
    store: ParamStore,
    private prefix: string,
    private config: SpikformerConfig,
  ) {
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
  apply(x: tf.Tensor, ctx: SpikingForward): tf.Tensor {
    const q = this.q.apply(x, ctx),
      k = this.k.apply(x, ctx),
      v = this.v.apply(x, ctx);
    // Spiking self-attention: no softmax; spikes make q k^T non-negative already.
    const merged = consumeAll([q, k, v], (q, k, v) => spikeAttention(q, k, v, this.config.heads, ATTN_SCALE));
    const a = consume(merged, (t) => ctx.lif(`${this.prefix}.attn.attn_lif`, t, ATTN_THRESHOLD, true));
    const y = consume(
      consume(a, (t) => this.proj.apply(t, ctx)),
      (t) => tf.add(x, t),
    );
    const mlp = consume(this.fc1.apply(y, ctx), (t) => this.fc2.apply(t, ctx));
    const out = consume(mlp, (t) => tf.add(y, t));
    y.dispose();
    return out;
  }
}

/**
 * Spikformer's compute layers. Every weight layer after the first conv reads spikes; the residual stream is a sum of
 * spike maps (one accumulate per spike of each), and the attention products read spikes times q kᵀ's counts.
 */
export function spikformerLayers(c: SpikformerConfig): ComputeLayer[] {
  const D = c.dim;
  const N = (c.imageSize / 4) ** 2;
  const hidden = Math.floor(D * c.mlpRatio);
  const layers = spsGraph(c, { input: spsPoolId(3), spikes: spsPooled(3), feeds: RPE_LIF });
  let stream: SpikeWiring = { input: `${RPE_LIF}+maxpool3`, spikes: { sum: [{ lif: RPE_LIF }, spsPooled(3)] } };
  for (let i = 0; i < c.depth; i++) {
    const b = `block.${i}`;
    const a = `${b}.attn`;
    const lin = (p: string, inF: number, outF: number, wiring: SpikeWiring) =>
      linearLayer(`${p}_linear`, N, inF, outF, { ...wiring, feeds: lifOf(p) });
    const attnOut: SpikeWiring = {
      input: `${a}+residual`,
      spikes: { sum: [stream.spikes, { lif: lifOf(`${a}.proj`) }] },
    };
    const [q, k, v] = [lifOf(`${a}.q`), lifOf(`${a}.k`), lifOf(`${a}.v`)];
    layers.push(
      lin(`${a}.q`, D, D, stream),
      lin(`${a}.k`, D, D, stream),
      lin(`${a}.v`, D, D, stream),
      {
        name: `${a}.qk`,
        kind: 'matmul',
        macs: N * N * D,
        input: `${q},${k}`,
        spikes: { min: [{ lif: q }, { lif: k }] },
        weights: 0,
        inputs: 2 * N * D,
        outputs: c.heads * N * N,
      },
      {
        // q kᵀ holds counts, not spikes: the product is gated by v's spikes alone.
        name: `${a}.av`,
        kind: 'matmul',
        macs: N * N * D,
        input: `${a}.qk,${v}`,
        spikes: { min: [{ lif: v }] },
        feeds: `${a}.attn_lif`,
        weights: 0,
        inputs: c.heads * N * N + N * D,
        outputs: N * D,
      },
      lin(`${a}.proj`, D, D, lifSpikes(`${a}.attn_lif`)),
      lin(`${b}.mlp.fc1`, D, hidden, attnOut),
      lin(`${b}.mlp.fc2`, hidden, D, lifSpikes(lifOf(`${b}.mlp.fc1`))),
    );
    stream = { input: `${b}+residual`, spikes: { sum: [attnOut.spikes, { lif: lifOf(`${b}.mlp.fc2`) }] } };
  }
  layers.push({
    ...linearLayer('head', 1, D, c.classes, { input: 'mean over tokens and time', spikes: null }),
    once: true,
  });
  return layers;
}

export const SPIKFORMER: ArchitectureSpec<SpikformerConfig> = {
  arch: 'spikformer',
  title: 'Spikformer',
  spiking: true,
  presets: {
    'spikformer-4-384': spikingPreset('spikformer', 4, 384, 12, "the paper's CIFAR model; geospike's default"),
    'spikformer-4-256': spikingPreset('spikformer', 4, 256, 8, "the paper's smaller CIFAR model"),
    'spikformer-2-384': spikingPreset('spikformer', 2, 384, 12, "the paper's shallower CIFAR model"),
    'spikformer-2-128': spikingPreset('spikformer', 2, 128, 4, 'small: trains on a 2-core CPU'),
    'spikformer-1-64': spikingPreset('spikformer', 1, 64, 2, 'tiny: smoke tests and quick demos'),
  },
  create: (config, seed) => new Spikformer(config, seed),
  layers: spikformerLayers,
  head: 'head',
  peerArgs: (c) => spikingPeerArgs(c, 'Spikformer'),
  demoRole: 'snn',
};
