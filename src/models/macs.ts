// Dense multiply-accumulate counts per layer, from the architecture alone (no weights, no data). The energy
// estimate multiplies these by measured firing rates; `info` prints their sums.
import type { ModelConfig } from './registry.js';

export interface LayerMacs {
  name: string;
  kind: 'conv' | 'linear' | 'matmul';
  /** Multiply-accumulates for one image at one time step (the whole pass for ResNet18). */
  macs: number;
  /** What feeds it: 'image' (analog input), or the name of the layer whose output it reads. */
  input: string;
  /** True for the head, which runs once per image on time-averaged features rather than at every step. */
  once?: boolean;
}

const conv = (name: string, hw: number, k: number, inC: number, outC: number, input: string): LayerMacs =>
  ({ name, kind: 'conv', macs: hw * hw * k * k * inC * outC, input });

export function layerMacs(c: ModelConfig): LayerMacs[] {
  if (c.arch === 'resnet18') return resnetMacs(c.width, c.imageSize, c.inChannels, c.classes);
  const D = c.dim;
  const S = c.imageSize;
  const N = (S / 4) ** 2;
  const hidden = Math.floor(D * c.mlpRatio);
  const ch = [c.inChannels, D / 8, D / 4, D / 2, D];
  const pe = 'patch_embed';
  const layers: LayerMacs[] = [
    conv(`${pe}.proj_conv`, S, 3, ch[0], ch[1], 'image'),
    conv(`${pe}.proj_conv1`, S, 3, ch[1], ch[2], `${pe}.proj_lif`),
    conv(`${pe}.proj_conv2`, S, 3, ch[2], ch[3], `${pe}.proj_lif1`),
    conv(`${pe}.proj_conv3`, S / 2, 3, ch[3], ch[4], `${pe}.maxpool2`),
    conv(`${pe}.rpe_conv`, S / 4, 3, D, D, `${pe}.maxpool3`),
  ];
  let blockInput = `${pe}.rpe_lif+maxpool3`;
  for (let i = 0; i < c.depth; i++) {
    const b = `block.${i}`;
    const lin = (n: string, inF: number, outF: number, input: string): LayerMacs =>
      ({ name: `${b}.${n}_linear`, kind: 'linear', macs: N * inF * outF, input });
    layers.push(
      lin('attn.q', D, D, blockInput), lin('attn.k', D, D, blockInput), lin('attn.v', D, D, blockInput),
      { name: `${b}.attn.qk`, kind: 'matmul', macs: N * N * D, input: `${b}.attn.q_lif,${b}.attn.k_lif` },
      { name: `${b}.attn.av`, kind: 'matmul', macs: N * N * D, input: `${b}.attn.qk,${b}.attn.v_lif` },
      lin('attn.proj', D, D, `${b}.attn.attn_lif`),
      lin('mlp.fc1', D, hidden, `${b}.attn+residual`),
      lin('mlp.fc2', hidden, D, `${b}.mlp.fc1_lif`),
    );
    blockInput = `${b}+residual`;
  }
  layers.push({ name: 'head', kind: 'linear', macs: D * c.classes, input: 'mean over tokens and time', once: true });
  return layers;
}

function resnetMacs(w: number, S: number, inC: number, classes: number): LayerMacs[] {
  const layers: LayerMacs[] = [conv('conv1', S, 3, inC, w, 'image')];
  let c = w;
  let hw = S;
  let prev = 'bn1';
  [[w, 1], [2 * w, 2], [4 * w, 2], [8 * w, 2]].forEach(([outC, stride], li) => {
    for (let bi = 0; bi < 2; bi++) {
      const p = `layer${li + 1}.${bi}`;
      const s = bi === 0 ? stride : 1;
      const out = hw / s;
      layers.push(conv(`${p}.conv1`, out, 3, c, outC, prev), conv(`${p}.conv2`, out, 3, outC, outC, `${p}.bn1`));
      if (s !== 1 || c !== outC) layers.push(conv(`${p}.shortcut.0`, out, 1, c, outC, prev));
      c = outC;
      hw = out;
      prev = p;
    }
  });
  layers.push({ name: 'linear', kind: 'linear', macs: c * classes, input: 'global average pool' });
  return layers;
}

/** MACs per image per time step (the head, which runs once per image, included). */
export function macsPerStep(c: ModelConfig): number {
  return layerMacs(c).reduce((sum, l) => sum + l.macs, 0);
}
