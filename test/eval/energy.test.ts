// The operation counter against counts worked out by hand, and energy from the golden models' firing rates
// (Spikformer's and the Spike-driven Transformer's).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { countEnergy, ENERGY_PRESETS, resolveCosts, sourceRate } from '../../src/eval/energy.js';
import { resolveConfig } from '../../src/models/registry.js';
import { goldenRates as ratesOf, loadGolden, measureGoldenForward } from '../helpers/golden.js';

const golden = loadGolden('spikformer-tiny.safetensors');
const goldenRates = ratesOf(golden);

/** `table[name]`, failing the test when the table has no such entry. */
function entry<T>(table: Record<string, T>, name: string, what: string): T {
  const value = table[name];
  assert.ok(value !== undefined, `no ${what} for '${name}'`);
  return value;
}
const goldenRate = (lif: string) => entry(goldenRates, lif, 'golden firing rate');
// The golden model: dim 32, depth 1, heads 1, T 2, 5 classes, 32x32 input (64 tokens), MLP hidden 128.
const tiny = resolveConfig('spikformer-1-64', { dim: 32, depth: 1, heads: 1, timeSteps: 2, classes: 5, mlpRatio: 4 });

before(async () => {
  await initEngine('cpu');
});

// FLOPs per step by hand: conv = H*W*k*k*Cin*Cout, linear = tokens*in*out, attention product = tokens^2 * dim.
// Both tiny goldens have dim 32, so the same SPS.
const SPS_FLOPS: Record<string, number> = {
  'patch_embed.proj_conv': 32 * 32 * 9 * 3 * 4, //  110,592
  'patch_embed.proj_conv1': 32 * 32 * 9 * 4 * 8, // 294,912
  'patch_embed.proj_conv2': 32 * 32 * 9 * 8 * 16, // 1,179,648
  'patch_embed.proj_conv3': 16 * 16 * 9 * 16 * 32, // 1,179,648
  'patch_embed.rpe_conv': 8 * 8 * 9 * 32 * 32, // 589,824
};
const TINY_FLOPS: Record<string, number> = {
  ...SPS_FLOPS,
  'block.0.attn.q_linear': 64 * 32 * 32,
  'block.0.attn.k_linear': 64 * 32 * 32,
  'block.0.attn.v_linear': 64 * 32 * 32,
  'block.0.attn.qk': 64 * 64 * 32,
  'block.0.attn.av': 64 * 64 * 32,
  'block.0.attn.proj_linear': 64 * 32 * 32,
  'block.0.mlp.fc1_linear': 64 * 32 * 128,
  'block.0.mlp.fc2_linear': 64 * 128 * 32,
  head: 32 * 5,
};

test("tiny golden model: every layer's operations and energy by hand from train_lif_rates", () => {
  const r = goldenRate;
  const T = 2;
  const sps = r('patch_embed.rpe_lif') + r('patch_embed.proj_lif3'); // rpe spikes + pooled spikes (pool rate estimated)
  const attnRes = sps + r('block.0.attn.proj_lif');
  // Input rate of each spike-fed layer: its input LIF, a residual sum, or (q k^T) the sparser of q and k; v gates a v.
  const rate: Record<string, number> = {
    'patch_embed.proj_conv1': r('patch_embed.proj_lif'),
    'patch_embed.proj_conv2': r('patch_embed.proj_lif1'),
    'patch_embed.proj_conv3': r('patch_embed.proj_lif2'),
    'patch_embed.rpe_conv': r('patch_embed.proj_lif3'),
    'block.0.attn.q_linear': sps,
    'block.0.attn.k_linear': sps,
    'block.0.attn.v_linear': sps,
    'block.0.attn.qk': Math.min(r('block.0.attn.q_lif'), r('block.0.attn.k_lif')),
    'block.0.attn.av': r('block.0.attn.v_lif'),
    'block.0.attn.proj_linear': r('block.0.attn.attn_lif'),
    'block.0.mlp.fc1_linear': attnRes,
    'block.0.mlp.fc2_linear': r('block.0.mlp.fc1_lif'),
  };
  const e = countEnergy(tiny, { rates: goldenRates });
  assert.deepEqual(
    e.layers.map((l) => l.name),
    Object.keys(TINY_FLOPS),
  );
  let macs = 0;
  let sops = 0;
  for (const l of e.layers) {
    const flops = entry(TINY_FLOPS, l.name, 'FLOP count');
    if (l.name === 'patch_embed.proj_conv' || l.name === 'head') {
      const steps = l.name === 'head' ? 1 : T; // the head runs once on time-averaged features
      assert.equal(l.inputRate, null, l.name);
      assert.equal(l.macs, flops * steps, l.name);
      assert.equal(l.sops, 0);
      macs += flops * steps;
    } else {
      const want = entry(rate, l.name, 'input rate');
      assert.ok(Math.abs(l.inputRate! - want) < 1e-15, `${l.name} rate ${l.inputRate} vs ${want}`);
      assert.ok(Math.abs(l.sops - want * T * flops) < 1e-6, `${l.name} SOPs`);
      assert.equal(l.macs, 0);
      sops += want * T * flops;
    }
  }
  assert.equal(e.layers[0]?.macs, 221_184);
  assert.equal(e.total.macs, 221_184 + 160);
  assert.ok(Math.abs(e.total.sops - sops) < 1e-6);
  assert.ok(Math.abs(e.total.energy - (4.6 * macs + 0.9 * sops)) < 1e-6);
  // Only the two layers fed by max-pools lack a measured rate here.
  assert.deepEqual(
    e.layers
      .filter((l) => l.estimated)
      .map((l) => l.name)
      .sort(),
    [
      'block.0.attn.k_linear',
      'block.0.attn.q_linear',
      'block.0.attn.v_linear',
      'block.0.mlp.fc1_linear',
      'patch_embed.proj_conv3',
      'patch_embed.rpe_conv',
    ].sort(),
  );
});

test('measured max-pool rates replace the estimate and flow into the residual stream', () => {
  const inputRates = { 'patch_embed.maxpool2': 0.31, 'patch_embed.maxpool3': 0.27 };
  const e = countEnergy(tiny, { rates: goldenRates, inputRates });
  const layer = (n: string) => e.layers.find((l) => l.name === n)!;
  assert.equal(
    layer('patch_embed.proj_conv3').sops,
    0.31 * 2 * entry(TINY_FLOPS, 'patch_embed.proj_conv3', 'FLOP count'),
  );
  assert.equal(layer('block.0.attn.q_linear').inputRate, goldenRate('patch_embed.rpe_lif') + 0.27);
  assert.equal(
    e.layers.some((l) => l.estimated),
    false,
  );
});

/** 3x3 max pooling, stride 2, padding 1, of an NHWC map, computed directly. */
function maxPool3s2(x: Float32Array, shape: number[]): Float32Array {
  assert.equal(shape.length, 4, 'an NHWC shape');
  const [N, H, W, C] = shape as [number, number, number, number];
  const OH = Math.floor((H - 1) / 2) + 1,
    OW = Math.floor((W - 1) / 2) + 1;
  const out = new Float32Array(N * OH * OW * C).fill(-Infinity);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          const o = ((n * OH + oy) * OW + ox) * C + c;
          for (let y = 2 * oy - 1; y <= 2 * oy + 1; y++)
            for (let xx = 2 * ox - 1; xx <= 2 * ox + 1; xx++) {
              if (y >= 0 && y < H && xx >= 0 && xx < W) out[o] = Math.max(out[o]!, x[((n * H + y) * W + xx) * C + c]!);
            }
        }
  return out;
}

test('the golden model measures its max-pool rates on a real forward', () => {
  let rates = new Map<string, number>();
  let inputRates = new Map<string, number>();
  // Watch the max-pool kernel: what it was given and what it returned, for a check by direct computation.
  const pools: { input: Float32Array; shape: number[]; output: Float32Array }[] = [];
  const original = tf.getKernel('MaxPool', 'cpu')!;
  tf.unregisterKernel('MaxPool', 'cpu');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const out = original.kernelFunc(args) as tf.TensorInfo;
      const cpu = args.backend as unknown as { readSync(id: object): Float32Array };
      const input = args.inputs.x as tf.TensorInfo;
      pools.push({
        input: cpu.readSync(input.dataId).slice(),
        shape: input.shape,
        output: cpu.readSync(out.dataId).slice(),
      });
      return out;
    },
  });
  try {
    ({ rates, inputRates } = measureGoldenForward(golden, tiny, 'spikformer-tiny'));
  } finally {
    tf.unregisterKernel('MaxPool', 'cpu');
    tf.registerKernel(original);
  }
  for (const [k, v] of Object.entries(goldenRates)) assert.ok(Math.abs(rates.get(k)! - v) < 1e-7, k);
  assert.deepEqual([...inputRates.keys()].sort(), ['patch_embed.maxpool2', 'patch_embed.maxpool3']);
  assert.equal(pools.length, 2, 'one max-pool after each of the last two stages');
  // A max over 3x3 windows of a spike map is a spike map, and fires wherever a spike lies in its window: its rate
  // is that of the windows holding a spike, computed here from the LIF output the pool was given.
  for (const [i, { input, shape, output }] of pools.entries()) {
    const name = `patch_embed.maxpool${i + 2}`,
      lif = `patch_embed.proj_lif${i + 2}`;
    assert.ok(
      input.every((v) => v === 0 || v === 1),
      `${name} is fed spikes`,
    );
    assert.ok(
      Math.abs(input.reduce((a, v) => a + v, 0) / input.length - goldenRate(lif)) < 1e-7,
      `${name} is fed ${lif}`,
    );
    const expected = maxPool3s2(input, shape);
    assert.deepEqual(output, expected, `${name}: output is the 3x3 window max`);
    const rate = expected.reduce((a, v) => a + v, 0) / expected.length;
    assert.ok(rate > 0 && rate < 1, `${name} rate ${rate}`);
    assert.ok(
      Math.abs(inputRates.get(name)! - rate) < 1e-7,
      `${name} measured ${inputRates.get(name)}, windows with a spike ${rate}`,
    );
  }
  const e = countEnergy(tiny, { rates: Object.fromEntries(rates), inputRates: Object.fromEntries(inputRates) });
  const conv3 = e.layers.find((l) => l.name === 'patch_embed.proj_conv3')!;
  assert.equal(conv3.inputRate, inputRates.get('patch_embed.maxpool2'));
  assert.ok(Number.isFinite(e.total.energy) && e.total.energy > 0);
});

test('spikformer-4-384 at 32x32: 0.934 G MAC per step dense, first conv 5.31 M MAC over T = 4', () => {
  const c = resolveConfig('spikformer-4-384');
  // With every input firing at rate 1, SOPs equal dense MACs: the counter's totals are the architecture's.
  const ones: Record<string, number> = {};
  for (const l of ['proj_lif', 'proj_lif1', 'proj_lif2', 'proj_lif3', 'rpe_lif']) ones[`patch_embed.${l}`] = 1;
  for (let b = 0; b < 4; b++) for (const l of ['q', 'k', 'v', 'attn', 'proj']) ones[`block.${b}.attn.${l}_lif`] = 1;
  for (let b = 0; b < 4; b++) for (const l of ['fc1', 'fc2']) ones[`block.${b}.mlp.${l}_lif`] = 1;
  const e = countEnergy(c, { rates: ones, inputRates: { 'patch_embed.maxpool2': 1, 'patch_embed.maxpool3': 1 } });
  const [first] = e.layers;
  assert.ok(first, 'some layers');
  assert.equal(first.name, 'patch_embed.proj_conv');
  assert.equal(first.macs, 5_308_416);
  assert.ok(Math.abs(first.macs / 1e6 - 5.31) < 0.005);
  const perStep = e.layers.reduce((a, l) => a + l.denseMacs / (l.name === 'head' ? 1 : 4), 0);
  assert.ok(Math.abs(perStep / 1e9 - 0.934) < 0.0005, `${perStep}`);
  // SOPs on layers past the first conv: the rest of the dense count (the residual inputs fire at 2, 3, ...; excluded).
  const spikeFed = e.layers.filter((l) => l.inputRate === 1);
  for (const l of spikeFed) assert.equal(l.sops, l.denseMacs);
  assert.ok(
    e.layers.filter((l) => l.inputRate !== null && l.inputRate > 1).every((l) => l.sops === l.denseMacs * l.inputRate!),
  );
});

test('ResNet18 costs its dense MACs at E_MAC, with no rates needed', () => {
  const c = resolveConfig('resnet18');
  const e = countEnergy(c, null);
  assert.equal(e.total.sops, 0);
  assert.equal(e.total.macs, e.total.denseMacs);
  assert.ok(Math.abs(e.total.macs / 1e6 - 555.42) < 0.5);
  assert.ok(Math.abs(e.total.energy - e.total.macs * 4.6) < 1e-3);
});

test('energy presets and overrides; bad costs and missing rates are refused', () => {
  assert.equal(resolveCosts().eMac, 4.6);
  assert.equal(resolveCosts().eAc, 0.9);
  assert.deepEqual(
    [resolveCosts('45nm-int8').eMac, resolveCosts('45nm-int8').eAc],
    [ENERGY_PRESETS['45nm-int8']?.eMac, 0.03],
  );
  assert.equal(resolveCosts('45nm-fp32', undefined, 0.5).eAc, 0.5);
  assert.throws(() => resolveCosts('7nm'), /unknown energy preset '7nm'/);
  assert.throws(() => resolveCosts('45nm-fp32', -1), /--e-mac must be a positive/);
  assert.throws(() => countEnergy(tiny, null), /firing rates/);
  assert.throws(
    () => sourceRate({ lif: 'block.0.attn.q_lif' }, { rates: {} }),
    /no firing rate measured for 'block.0.attn.q_lif'/,
  );
});

// The Spike-driven Transformer's golden: dim 32, depth 1, heads 2, T 2, 5 classes, 64 tokens, MLP hidden 128. No
// attention products (k*v and q*kv are masks), the token sum of k*v as accumulates, every spike-fed layer at its rate.
const sdtGolden = loadGolden('sdt-tiny.safetensors');
const sdtRates = ratesOf(sdtGolden);
const sdtRate = (lif: string) => entry(sdtRates, lif, 'golden firing rate');
const sdtTiny = resolveConfig('sdt-2-128', { dim: 32, depth: 1, heads: 2, timeSteps: 2, classes: 5, mlpRatio: 4 });
// 1x1 conv = tokens*in*out, token sum = tokens*dim additions.
const SDT_FLOPS: Record<string, number> = {
  ...SPS_FLOPS,
  'block.0.attn.q_conv': 64 * 32 * 32,
  'block.0.attn.k_conv': 64 * 32 * 32,
  'block.0.attn.v_conv': 64 * 32 * 32,
  'block.0.attn.kv_sum': 64 * 32,
  'block.0.attn.proj_conv': 64 * 32 * 32,
  'block.0.mlp.fc1_conv': 64 * 32 * 128,
  'block.0.mlp.fc2_conv': 64 * 128 * 32,
  head: 32 * 5,
};

test("tiny SDT golden: every layer's operations and energy by hand from train_lif_rates", () => {
  const r = sdtRate;
  const T = 2;
  const shortcut = r('block.0.attn.shortcut_lif');
  // Each layer reads one LIF's spikes (the stream is analog, so no residual sums here); the masks are bounded by
  // the sparser of their two spike maps; the pooled spikes take the rate of the LIF before the pool (an estimate).
  const rate: Record<string, number> = {
    'patch_embed.proj_conv1': r('patch_embed.proj_lif'),
    'patch_embed.proj_conv2': r('patch_embed.proj_lif1'),
    'patch_embed.proj_conv3': r('patch_embed.proj_lif2'),
    'patch_embed.rpe_conv': r('patch_embed.proj_lif3'),
    'block.0.attn.q_conv': shortcut,
    'block.0.attn.k_conv': shortcut,
    'block.0.attn.v_conv': shortcut,
    'block.0.attn.kv_sum': Math.min(r('block.0.attn.k_lif'), r('block.0.attn.v_lif')),
    'block.0.attn.proj_conv': Math.min(r('block.0.attn.q_lif'), r('block.0.attn.talking_heads_lif')),
    'block.0.mlp.fc1_conv': r('block.0.mlp.fc1_lif'),
    'block.0.mlp.fc2_conv': r('block.0.mlp.fc2_lif'),
    head: r('head_lif'),
  };
  const e = countEnergy(sdtTiny, { rates: sdtRates });
  assert.deepEqual(
    e.layers.map((l) => l.name),
    Object.keys(SDT_FLOPS),
  );
  assert.equal(e.timeSteps, 2);
  let sops = 0;
  for (const l of e.layers) {
    const flops = entry(SDT_FLOPS, l.name, 'FLOP count');
    assert.equal(l.flops, flops, l.name);
    if (l.name === 'patch_embed.proj_conv') {
      assert.equal(l.inputRate, null);
      assert.equal(l.macs, flops * T);
      assert.equal(l.sops, 0);
    } else {
      const want = entry(rate, l.name, 'input rate');
      assert.ok(Math.abs(l.inputRate! - want) < 1e-15, `${l.name} rate ${l.inputRate} vs ${want}`);
      assert.ok(Math.abs(l.sops - want * T * flops) < 1e-6, `${l.name} SOPs`);
      assert.equal(l.macs, 0, `${l.name}: spike input costs no MACs`);
      sops += want * T * flops;
    }
  }
  // Only the first conv multiplies: 110,592 x 2 steps. The head, unlike Spikformer's, reads spikes at every step.
  assert.equal(e.total.macs, 221_184);
  assert.ok(Math.abs(e.total.sops - sops) < 1e-6);
  assert.ok(Math.abs(e.total.energy - (4.6 * 221_184 + 0.9 * sops)) < 1e-6);
  // kv_sum: min(0.08935546875, 0.083984375) x 2 x 2048 = 344.0 accumulates; the head 0.609375 x 2 x 160 = 195.0.
  assert.equal(e.layers.find((l) => l.name === 'block.0.attn.kv_sum')!.sops, 344);
  assert.equal(e.layers.find((l) => l.name === 'head')!.sops, 195);
  assert.deepEqual(
    e.layers.filter((l) => l.estimated).map((l) => l.name),
    ['patch_embed.proj_conv3'],
  );
});

test('a real forward measures the pool and both masks; the masks fire no more than the sparser of their inputs', () => {
  const { rates, inputRates } = measureGoldenForward(sdtGolden, sdtTiny, 'sdt-tiny');
  const r = sdtRate;
  for (const [k, v] of Object.entries(sdtRates)) assert.ok(Math.abs(rates.get(k)! - v) < 1e-7, k);
  const kv = 'block.0.attn.k_lif,block.0.attn.v_lif';
  const qkv = 'block.0.attn.q_lif,block.0.attn.talking_heads_lif';
  assert.deepEqual([...inputRates.keys()].sort(), [kv, qkv, 'patch_embed.maxpool2'].sort());
  assert.ok(
    inputRates.get(kv)! > 0 && inputRates.get(kv)! <= Math.min(r('block.0.attn.k_lif'), r('block.0.attn.v_lif')),
  );
  assert.ok(inputRates.get(qkv)! <= Math.min(r('block.0.attn.q_lif'), r('block.0.attn.talking_heads_lif')));
  const e = countEnergy(sdtTiny, { rates: Object.fromEntries(rates), inputRates: Object.fromEntries(inputRates) });
  const sum = e.layers.find((l) => l.name === 'block.0.attn.kv_sum')!;
  assert.equal(sum.inputRate, inputRates.get(kv));
  assert.equal(sum.sops, inputRates.get(kv)! * 2 * 64 * 32);
  assert.equal(
    e.layers.some((l) => l.estimated),
    false,
  );
});

test('sdt-2-512 with every input at rate 1: SOPs are the dense count, and only the first conv is MACs', () => {
  const c = resolveConfig('sdt-2-512');
  const ones: Record<string, number> = { head_lif: 1 };
  for (const l of ['proj_lif', 'proj_lif1', 'proj_lif2', 'proj_lif3']) ones[`patch_embed.${l}`] = 1;
  for (let b = 0; b < 2; b++) {
    for (const l of ['shortcut', 'q', 'k', 'v', 'talking_heads']) ones[`block.${b}.attn.${l}_lif`] = 1;
    for (const l of ['fc1', 'fc2']) ones[`block.${b}.mlp.${l}_lif`] = 1;
  }
  const e = countEnergy(c, { rates: ones, inputRates: { 'patch_embed.maxpool2': 1 } });
  assert.equal(e.total.macs, 32 * 32 * 9 * 3 * 64 * 4);
  assert.equal(e.total.macs + e.total.sops, e.total.denseMacs);
});
