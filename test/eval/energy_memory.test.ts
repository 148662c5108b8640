// Memory accesses (Lemaire et al. 2022) on a two-layer model small enough to count by hand, and on real presets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countMemory, countMemoryOfLayers, SRAM_45NM } from '../../src/eval/energy_memory.js';
import type { ComputeLayer } from '../../src/models/layer_graph.js';
import { layerGraph, resolveConfig } from '../../src/models/registry.js';

// conv 3x3, 1 -> 2 channels, 4x4 image (288 MACs, 18 weights, 16 inputs, 32 outputs), its LIF, then a linear 32 -> 3.
const tiny: ComputeLayer[] = [
  {
    name: 'proj_conv',
    kind: 'conv',
    macs: 288,
    input: 'image',
    spikes: null,
    feeds: 'proj_lif',
    weights: 18,
    inputs: 16,
    outputs: 32,
  },
  {
    name: 'fc_linear',
    kind: 'linear',
    macs: 96,
    input: 'proj_lif',
    spikes: { lif: 'proj_lif' },
    weights: 96,
    inputs: 32,
    outputs: 3,
  },
];

test('memory counts of a tiny spiking model, worked out by hand (T = 2, LIF rate 0.25)', () => {
  const r = countMemoryOfLayers(tiny, true, 2, { rates: { proj_lif: 0.25 } }, 8);
  const [conv, fc] = r.layers;
  assert.ok(conv && fc, 'two layers');
  // conv, analog input: 16 pixels x 2 steps read; 288 x 2 = 576 weight reads + 32 biases; the LIF after it: 576 + 32
  // potential writes and 0.25 x 32 x 2 = 16 spikes written.
  assert.deepEqual(conv.reads, { weights: 608, potentials: 0, activations: 32 });
  assert.deepEqual(conv.writes, { weights: 0, potentials: 608, activations: 16 });
  // linear, spike input: 0.25 x 32 x 2 = 16 spikes read, each reading 3 weights (48) + 3 biases; no LIF after it, so
  // its 3 outputs are written as values at both steps.
  assert.deepEqual(fc.reads, { weights: 51, potentials: 0, activations: 16 });
  assert.deepEqual(fc.writes, { weights: 0, potentials: 0, activations: 6 });
  assert.equal(r.total.reads, 707);
  assert.equal(r.total.writes, 630);
  // Energy: each access to an SRAM holding n 8-bit words costs 1.09e-5 x 8n + 13.2 pJ.
  const e = (n: number) => 1.09e-5 * 8 * n + 13.2;
  assert.ok(Math.abs(fc.energy.weights - (48 * e(96) + 3 * e(3))) < 1e-9);
  assert.ok(Math.abs(conv.energy.potentials - 608 * e(32)) < 1e-9);
  assert.ok(Math.abs(r.total.pJ - (conv.total + fc.total)) < 1e-9);
});

test('memory counts of the same layers as an ANN: every MAC reads a weight; conv inputs per MAC, linear once', () => {
  const r = countMemoryOfLayers(tiny, false, 1, null, 32);
  const [conv, fc] = r.layers;
  assert.ok(conv && fc, 'two layers');
  assert.deepEqual(conv.reads, { weights: 288 + 32, potentials: 0, activations: 288 });
  assert.deepEqual(conv.writes, { weights: 0, potentials: 0, activations: 32 });
  assert.deepEqual(fc.reads, { weights: 96 + 3, potentials: 0, activations: 32 });
  assert.equal(SRAM_45NM.perAccess(8192 / 4, 32) > 13.2, true);
});

test('every preset family: memory counted for each layer; each layer names the LIF its output goes to', () => {
  const snn = resolveConfig('spikformer-1-64', { classes: 5 });
  const rates: Record<string, number> = {};
  for (const n of ['proj_lif', 'proj_lif1', 'proj_lif2', 'proj_lif3', 'rpe_lif']) rates[`patch_embed.${n}`] = 0.1;
  for (const n of ['q', 'k', 'v', 'attn', 'proj']) rates[`block.0.attn.${n}_lif`] = 0.1;
  for (const n of ['fc1', 'fc2']) rates[`block.0.mlp.${n}_lif`] = 0.1;
  const r = countMemory(snn, { rates });
  assert.ok(r.total.pJ > 0);
  const feeds = (config: typeof snn) => Object.fromEntries(layerGraph(config).map((l) => [l.name, l.feeds ?? null]));
  const s = feeds(snn);
  assert.equal(s['block.0.attn.q_linear'], 'block.0.attn.q_lif');
  assert.equal(s['patch_embed.proj_conv3'], 'patch_embed.proj_lif3');
  assert.equal(s['block.0.attn.av'], 'block.0.attn.attn_lif');
  assert.equal(s['block.0.attn.qk'], null);
  assert.equal(s.head, null);
  // The SDT's LIFs come before its layers: fc1 feeds fc2's LIF, and fc2 and proj add to the analog stream.
  const d = feeds(resolveConfig('sdt-2-128'));
  assert.equal(d['block.0.mlp.fc1_conv'], 'block.0.mlp.fc2_lif');
  assert.equal(d['block.0.mlp.fc2_conv'], null);
  assert.equal(d['block.0.attn.proj_conv'], null);
  assert.equal(d['block.0.attn.kv_sum'], 'block.0.attn.talking_heads_lif');
  assert.equal(d['patch_embed.rpe_conv'], null);
  const ann = countMemory(resolveConfig('resnet18-w8', { classes: 5 }), null);
  assert.equal(ann.total.energy.potentials, 0);
  assert.throws(() => countMemory(snn, null), /firing rates/);
});
