// Dense multiply-accumulate counts per layer, from the architecture alone (no weights, no data). The energy
// estimate multiplies these by measured firing rates; `info` prints their sums.
import type { ModelConfig } from './registry.js';
import type { SDTConfig } from './sdt.js';
import type { SpikingConfig } from './spiking.js';

export interface LayerMacs {
  name: string;
  /** 'sum': the SDT's token sum of a spike mask, additions only (its count is in `macs`, and costs accumulates). */
  kind: 'conv' | 'linear' | 'matmul' | 'sum';
  /** Multiply-accumulates for one image at one time step (the whole pass for ResNet18). */
  macs: number;
  /** What feeds it: 'image' (analog input), or the name of the layer whose output it reads. */
  input: string;
  /** True for the head, which runs once per image on time-averaged features rather than at every step. */
  once?: boolean;
  /** Per image and time step, for the memory-access estimate (energy_memory.ts): weights held, input values read
   * (dense), output values made. Products of two activations (matmul, sum) hold no weights. */
  weights: number;
  inputs: number;
  outputs: number;
}

/** A k x k convolution whose output is hw x hw (its input is stride times larger). */
const conv = (
  name: string,
  hw: number,
  k: number,
  inC: number,
  outC: number,
  input: string,
  stride = 1,
): LayerMacs => ({
  name,
  kind: 'conv',
  macs: hw * hw * k * k * inC * outC,
  input,
  weights: k * k * inC * outC,
  inputs: (hw * stride) ** 2 * inC,
  outputs: hw * hw * outC,
});

export function layerMacs(c: ModelConfig): LayerMacs[] {
  if (c.arch === 'resnet18') return resnetMacs(c.width, c.imageSize, c.inChannels, c.classes);
  if (c.arch === 'sdt') return sdtMacs(c);
  const D = c.dim;
  const N = (c.imageSize / 4) ** 2;
  const hidden = Math.floor(D * c.mlpRatio);
  const layers = spsMacs(c, 'patch_embed.maxpool3');
  let blockInput = 'patch_embed.rpe_lif+maxpool3';
  for (let i = 0; i < c.depth; i++) {
    const b = `block.${i}`;
    const lin = (n: string, inF: number, outF: number, input: string): LayerMacs => ({
      name: `${b}.${n}_linear`,
      kind: 'linear',
      macs: N * inF * outF,
      input,
      weights: inF * outF,
      inputs: N * inF,
      outputs: N * outF,
    });
    layers.push(
      lin('attn.q', D, D, blockInput),
      lin('attn.k', D, D, blockInput),
      lin('attn.v', D, D, blockInput),
      {
        name: `${b}.attn.qk`,
        kind: 'matmul',
        macs: N * N * D,
        input: `${b}.attn.q_lif,${b}.attn.k_lif`,
        weights: 0,
        inputs: 2 * N * D,
        outputs: c.heads * N * N,
      },
      {
        name: `${b}.attn.av`,
        kind: 'matmul',
        macs: N * N * D,
        input: `${b}.attn.qk,${b}.attn.v_lif`,
        weights: 0,
        inputs: c.heads * N * N + N * D,
        outputs: N * D,
      },
      lin('attn.proj', D, D, `${b}.attn.attn_lif`),
      lin('mlp.fc1', D, hidden, `${b}.attn+residual`),
      lin('mlp.fc2', hidden, D, `${b}.mlp.fc1_lif`),
    );
    blockInput = `${b}+residual`;
  }
  layers.push({
    name: 'head',
    kind: 'linear',
    macs: D * c.classes,
    input: 'mean over tokens and time',
    once: true,
    weights: D * c.classes,
    inputs: D,
    outputs: c.classes,
  });
  return layers;
}

/** The spiking patch splitting both transformers share: four 3x3 convs (pooled after the third), then the rpe conv. */
function spsMacs(c: SpikingConfig, rpeInput: string): LayerMacs[] {
  const D = c.dim;
  const S = c.imageSize;
  const ch = [c.inChannels, D / 8, D / 4, D / 2, D];
  const pe = 'patch_embed';
  return [
    conv(`${pe}.proj_conv`, S, 3, ch[0], ch[1], 'image'),
    conv(`${pe}.proj_conv1`, S, 3, ch[1], ch[2], `${pe}.proj_lif`),
    conv(`${pe}.proj_conv2`, S, 3, ch[2], ch[3], `${pe}.proj_lif1`),
    conv(`${pe}.proj_conv3`, S / 2, 3, ch[3], ch[4], `${pe}.maxpool2`),
    conv(`${pe}.rpe_conv`, S / 4, 3, D, D, rpeInput),
  ];
}

/**
 * The Spike-driven Transformer: every weight layer reads the spikes of the LIF before it. Its attention has no
 * products: k*v and q*kv are masks (free), the token sum of k*v is one addition per spike of the mask.
 */
function sdtMacs(c: SDTConfig): LayerMacs[] {
  const D = c.dim;
  const N = (c.imageSize / 4) ** 2;
  const hidden = Math.floor(D * c.mlpRatio);
  const layers = spsMacs(c, 'patch_embed.proj_lif3');
  for (let i = 0; i < c.depth; i++) {
    const a = `block.${i}.attn`;
    const m = `block.${i}.mlp`;
    const lin = (n: string, inF: number, outF: number, input: string): LayerMacs => ({
      name: `${n}_conv`,
      kind: 'linear',
      macs: N * inF * outF,
      input,
      weights: inF * outF,
      inputs: N * inF,
      outputs: N * outF,
    });
    layers.push(
      lin(`${a}.q`, D, D, `${a}.shortcut_lif`),
      lin(`${a}.k`, D, D, `${a}.shortcut_lif`),
      lin(`${a}.v`, D, D, `${a}.shortcut_lif`),
      {
        name: `${a}.kv_sum`,
        kind: 'sum',
        macs: N * D,
        input: `${a}.k_lif,${a}.v_lif`,
        weights: 0,
        inputs: 2 * N * D,
        outputs: D,
      },
      lin(`${a}.proj`, D, D, `${a}.q_lif,${a}.talking_heads_lif`),
      lin(`${m}.fc1`, D, hidden, `${m}.fc1_lif`),
      lin(`${m}.fc2`, hidden, D, `${m}.fc2_lif`),
    );
  }
  // The head runs at every step on the head LIF's spikes, then the logits are averaged over time.
  layers.push({
    name: 'head',
    kind: 'linear',
    macs: D * c.classes,
    input: 'head_lif',
    weights: D * c.classes,
    inputs: D,
    outputs: c.classes,
  });
  return layers;
}

function resnetMacs(w: number, S: number, inC: number, classes: number): LayerMacs[] {
  const layers: LayerMacs[] = [conv('conv1', S, 3, inC, w, 'image')];
  let c = w;
  let hw = S;
  let prev = 'bn1';
  [
    [w, 1],
    [2 * w, 2],
    [4 * w, 2],
    [8 * w, 2],
  ].forEach(([outC, stride], li) => {
    for (let bi = 0; bi < 2; bi++) {
      const p = `layer${li + 1}.${bi}`;
      const s = bi === 0 ? stride : 1;
      const out = hw / s;
      layers.push(conv(`${p}.conv1`, out, 3, c, outC, prev, s), conv(`${p}.conv2`, out, 3, outC, outC, `${p}.bn1`));
      if (s !== 1 || c !== outC) layers.push(conv(`${p}.shortcut.0`, out, 1, c, outC, prev, s));
      c = outC;
      hw = out;
      prev = p;
    }
  });
  layers.push({
    name: 'linear',
    kind: 'linear',
    macs: c * classes,
    input: 'global average pool',
    weights: c * classes,
    inputs: c,
    outputs: classes,
  });
  return layers;
}

/** MACs per image per time step (the head, which runs once per image, included). */
export function macsPerStep(c: ModelConfig): number {
  return layerMacs(c).reduce((sum, l) => sum + l.macs, 0);
}
