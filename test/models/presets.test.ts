// Presets: parameter counts against reference.json, MAC counts by hand, the official state-dict key list.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { initEngine } from '../../src/engine/backend.js';
import { describe as describeModel } from '../../src/cli/info.js';
import { createModel, layerGraph, macsPerStep, PRESETS, resolveConfig } from '../../src/models/registry.js';
import { toStateDict } from '../../src/models/state_dict.js';
import { goldenPath } from '../helpers/golden.js';

const reference = JSON.parse(readFileSync(goldenPath('reference.json'), 'utf8')) as {
  param_counts: Record<string, { params_official: number; params_without_unused_layernorms: number }>;
  spikformer_4_384_state_dict_keys: string[];
};

const sdtReference = JSON.parse(readFileSync(goldenPath('sdt-reference.json'), 'utf8')) as {
  param_counts: Record<string, { params_official: number; params_without_unused_talking_heads: number }>;
  sdt_2_512_state_dict_keys: string[];
};

before(async () => {
  await initEngine('cpu');
});

/**
 * Every preset/classes entry's counts, as trained here and as the official model counts them (with its unused modules).
 */
function assertCounts(counts: Record<string, Record<string, number>>, withoutUnused: string, atLeast: number): void {
  const entries = Object.entries(counts);
  assert.ok(entries.length >= atLeast);
  for (const [key, want] of entries) {
    const [preset = '', classes] = key.split('/'); // split yields one part at least
    const info = describeModel(preset, Number(classes));
    assert.equal(info.params, want[withoutUnused], `${key} params`);
    assert.equal(info.paramsOfficial, want.params_official, `${key} official params`);
  }
}

test('parameter counts equal reference.json for every preset listed there', () => {
  assertCounts(reference.param_counts, 'params_without_unused_layernorms', 8);
});

test('SDT parameter counts equal sdt-reference.json, with and without the unused talking_heads', () => {
  assertCounts(sdtReference.param_counts, 'params_without_unused_talking_heads', 6);
});

test('sdt-2-512 exports exactly the official state-dict keys, 1x1 convs as [out, in, 1, 1]', () => {
  const model = createModel(resolveConfig('sdt-2-512'));
  const sd = toStateDict(model.store);
  model.store.dispose();
  assert.deepEqual([...sd.keys()].sort(), [...sdtReference.sdt_2_512_state_dict_keys].sort());
  assert.deepEqual(sd.get('block.0.attn.q_conv.weight')!.shape, [512, 512, 1, 1]);
  assert.deepEqual(sd.get('block.1.mlp.fc1_conv.weight')!.shape, [2048, 512, 1, 1]);
  assert.deepEqual(sd.get('block.0.attn.talking_heads.weight')!.shape, [8, 8, 1]);
  assert.equal(sd.has('block.0.attn.q_conv.bias'), false);
  assert.deepEqual(sd.get('head.weight')!.shape, [5, 512]);
});

test('spikformer-4-384 exports exactly the official state-dict keys', () => {
  const model = createModel(resolveConfig('spikformer-4-384'));
  const keys = [...toStateDict(model.store).keys()].sort();
  model.store.dispose();
  assert.deepEqual(keys, [...reference.spikformer_4_384_state_dict_keys].sort());
});

test('MACs of spikformer-4-384 at 32x32: first conv 1.327 M per step, about 0.934 G in all', () => {
  const c = resolveConfig('spikformer-4-384');
  const layers = layerGraph(c);
  const [first] = layers;
  assert.ok(first, 'some layers');
  assert.equal(first.name, 'patch_embed.proj_conv');
  assert.equal(first.macs, 32 * 32 * 9 * 3 * 48); // 5.31 M over T = 4
  assert.equal(first.macs * 4, 5_308_416);
  // By hand: convs 1.327M + 42.47M + 169.87M + 169.87M + 84.93M;
  // per block 4 x 64*384^2 + 2 x 64*384*1536 + 2 x 64^2*384.
  const convs = 1024 * 9 * (3 * 48 + 48 * 96 + 96 * 192) + 256 * 9 * 192 * 384 + 64 * 9 * 384 * 384;
  const block = 4 * 64 * 384 * 384 + 2 * 64 * 384 * 1536 + 2 * 64 * 64 * 384;
  assert.equal(macsPerStep(c), convs + 4 * block + 384 * 5);
  assert.ok(Math.abs(macsPerStep(c) / 1e9 - 0.934) < 0.001);
});

test('MACs of sdt-2-512 at 32x32 by hand: no attention products, the token sum as N*D additions', () => {
  const c = resolveConfig('sdt-2-512');
  const D = 512;
  const convs = 1024 * 9 * (3 * 64 + 64 * 128 + 128 * 256) + 256 * 9 * 256 * 512 + 64 * 9 * 512 * 512;
  const block = 4 * 64 * D * D + 2 * 64 * D * 4 * D + 64 * D;
  assert.equal(macsPerStep(c), convs + 2 * block + D * 5);
  const layers = layerGraph(c);
  assert.deepEqual(
    layers.filter((l) => l.kind === 'matmul'),
    [],
  );
  const sum = layers.find((l) => l.name === 'block.1.attn.kv_sum')!;
  assert.deepEqual([sum.kind, sum.macs, sum.input], ['sum', 64 * D, 'block.1.attn.k_lif,block.1.attn.v_lif']);
  assert.equal(layers.find((l) => l.name === 'patch_embed.rpe_conv')!.input, 'patch_embed.proj_lif3');
  assert.equal(layers.at(-1)!.once, undefined); // the SDT's head runs at every step
});

test('MACs of the CIFAR ResNet18 by hand', () => {
  const c = resolveConfig('resnet18', { classes: 10 });
  const w = 64;
  const stage = (hw: number, inC: number, outC: number, down: boolean) =>
    hw * hw * 9 * (inC * outC + outC * outC) + hw * hw * 9 * 2 * outC * outC + (down ? hw * hw * inC * outC : 0);
  const want =
    1024 * 27 * w +
    stage(32, w, w, false) +
    stage(16, w, 2 * w, true) +
    stage(8, 2 * w, 4 * w, true) +
    stage(4, 4 * w, 8 * w, true) +
    512 * 10;
  assert.equal(macsPerStep(c), want);
  assert.ok(Math.abs(want / 1e6 - 555.42) < 0.5, `${want}`); // the widely quoted 0.56 G (555.42 M) for CIFAR ResNet18
});

test('presets resolve, overrides are checked', () => {
  for (const p of Object.keys(PRESETS)) assert.equal(resolveConfig(p).classes, 5);
  assert.equal(resolveConfig('spikformer-2-128', { timeSteps: 8 }).arch, 'spikformer');
  assert.throws(
    () => resolveConfig('spikformer-9-9'),
    /unknown model preset 'spikformer-9-9'; known presets: spikformer-4-384/,
  );
  assert.throws(() => resolveConfig('resnet18', { dim: 3 }), /'dim' is not a setting of resnet18/);
  assert.throws(() => resolveConfig('resnet18', { classes: 0 }), /classes must be a positive number/);
  assert.throws(() => createModel(resolveConfig('spikformer-2-128', { heads: 5 })), /must divide by heads 5/);
  assert.equal(resolveConfig('sdt-2-128', { timeSteps: 2 }).arch, 'sdt');
  assert.throws(() => createModel(resolveConfig('sdt-2-128', { heads: 3 })), /sdt dim 128 must divide by heads 3/);
});

test("initialisation as the official code: SDT convs trunc_normal(0.02), Spikformer's PyTorch's default", () => {
  const std = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length);
  const sdt = createModel(resolveConfig('sdt-2-128'), 3);
  const spik = createModel(resolveConfig('spikformer-2-128'), 3);
  for (const name of [
    'patch_embed.proj_conv.weight',
    'patch_embed.rpe_conv.weight',
    'block.0.attn.q_conv.weight',
    'block.1.mlp.fc2_conv.weight',
  ]) {
    const s = std(sdt.store.params.get(name)!.dataSync() as Float32Array);
    assert.ok(Math.abs(s - 0.02) < 0.002, `${name} std ${s}`);
  }
  assert.deepEqual(Array.from(sdt.store.params.get('block.0.mlp.fc1_conv.bias')!.dataSync()), new Array(512).fill(0));
  // U(-1/sqrt(27), 1/sqrt(27)) has std 1/sqrt(81) = 0.111 for the first conv (fan-in 3*3*3).
  const first = std(spik.store.params.get('patch_embed.proj_conv.weight')!.dataSync() as Float32Array);
  assert.ok(Math.abs(first - 1 / 9) < 0.02, `${first}`);
  sdt.store.dispose();
  spik.store.dispose();
});
