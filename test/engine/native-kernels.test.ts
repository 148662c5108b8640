// Randomized agreement tests: every native kernel against the pure-JS kernel of the same name, on random shapes,
// strides, paddings, dilations and transposes, odd sizes and batch 1 included. A fixed seed keeps runs repeatable;
// each failure message carries the case so it can be replayed.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import {
  BN_GRAD,
  BN_RELU_GRAD,
  BN_RELU_TRAIN,
  BN_RUNNING_STATS,
  BN_TRAIN,
  LIF,
  LIF_GRAD,
  LIF_SPIKES,
} from '../../src/ops/index.js';
import { fallbacks } from '../../src/engine/native/kernel_util.js';
import { SMALL } from '../../src/ops/elementwise/native.js';
import { adamwUpdate } from '../../src/ops/index.js';
import { packStats } from '../../src/ops/conv2d/native.js';
import { sparseStats } from '../../src/ops/matmul/native.js';
import { sparseBelow } from '../../src/ops/sparse_thresholds/native.js';
import { must } from '../../src/util/must.js';
import { addon } from '../../src/engine/native/kernel_util.js';
import { readFileSync } from 'node:fs';
import { rng } from '../helpers/rng.js';
import { assertCloseToScale, worstDifference } from '../helpers/compare.js';

type Output = { shape: number[]; values: Float32Array };
type Inputs = Record<string, Output>;

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Runs one kernel on a backend and returns its outputs' values. */
async function run(backend: string, kernel: string, inputs: Inputs, attrs: object): Promise<Output[]> {
  await tf.setBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.values, v.shape, 'float32');
  const res = tf.engine().runKernel(kernel, ts as unknown as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as
    | tf.Tensor
    | tf.Tensor[];
  const outs = (Array.isArray(res) ? res : [res]).map((t) => ({
    shape: t.shape,
    values: t.dataSync() as Float32Array,
  }));
  tf.dispose([...Object.values(ts), ...(Array.isArray(res) ? res : [res])]);
  return outs;
}

/** Grows random axes of `shape` by 1 to `by` until it holds SMALL elements: big enough for the native path. */
function growToSmall(r: ReturnType<typeof rng>, shape: number[], by: number): void {
  while (prod(shape) < SMALL) {
    const k = r.int(0, shape.length - 1);
    shape[k] = must(shape[k], 'k < rank') + r.int(1, by);
  }
}

/** Output `i` of a kernel run, failing the test when the kernel returned fewer. */
function nth(outs: Output[], i: number, what: string): Output {
  const o = outs[i];
  assert.ok(o, `${what}: no output ${i} among ${outs.length}`);
  return o;
}

/** The one output of a kernel run on the cpu backend (the reference). */
async function refOutput(kernel: string, inputs: Inputs, attrs: object): Promise<Output> {
  return nth(await run('cpu', kernel, inputs, attrs), 0, kernel);
}

/**
 * Native and JS outputs agree: same shapes, and values within a tolerance scaled to the largest finite reference
 * value (at least 1); NaN only where the reference is NaN, and with `signedZero` the sign of every zero kept.
 */
async function agree(
  kernel: string,
  inputs: Inputs,
  attrs: object,
  what: string,
  rtol = 2e-5,
  native = true,
  signedZero = false,
): Promise<void> {
  const ref = await run('cpu', kernel, inputs, attrs);
  const before = fallbacks.get(kernel) ?? 0;
  const got = await run('native', kernel, inputs, attrs);
  const fellBack = (fallbacks.get(kernel) ?? 0) > before;
  assert.equal(fellBack, !native, `${what}: ${native ? 'fell back to the JS kernel' : 'expected the JS fallback'}`);
  assert.equal(got.length, ref.length, `${what}: number of outputs`);
  for (const [o, want] of ref.entries()) {
    const out = nth(got, o, what);
    assert.deepEqual(out.shape, want.shape, `${what}: output ${o} shape`);
    // floor = rtol: the tolerance is rtol * max(1, scale)
    assertCloseToScale(out.values, want.values, rtol, `${what}: output ${o}`, { floor: rtol, signedZero });
  }
}

before(async () => {
  assert.equal(await initEngine('native'), 'native');
});

test('Conv2D and both gradients match the JS kernels on random geometries', async () => {
  const r = rng(1234);
  for (let i = 0; i < 40; i++) {
    const N = r.pick([1, 1, 2, 3]),
      H = r.int(1, 11),
      W = r.int(1, 11),
      C = r.int(1, 6),
      O = r.int(1, 9);
    const s: [number, number] = [r.int(1, 3), r.int(1, 3)];
    // tfjs allows dilation > 1 only with stride 1, and its conv gradients only at dilation 1.
    const d: [number, number] = i % 4 === 0 && s[0] === 1 && s[1] === 1 ? [r.int(1, 2), r.int(1, 2)] : [1, 1];
    const padKind = r.pick(['same', 'valid', 'explicit'] as const);
    const pads: [number, number, number, number] = [r.int(0, 2), r.int(0, 2), r.int(0, 2), r.int(0, 2)];
    const pad =
      padKind === 'explicit'
        ? [
            [0, 0],
            [pads[0], pads[1]],
            [pads[2], pads[3]],
            [0, 0],
          ]
        : padKind;
    const extra: [number, number] =
      padKind === 'explicit' ? [pads[0] + pads[1], pads[2] + pads[3]] : padKind === 'same' ? [99, 99] : [0, 0];
    // kernel no larger than the padded input, so at least one output row exists
    const KH = r.int(1, Math.max(1, Math.min(4, Math.floor((H + extra[0] - 1) / d[0]) + 1)));
    const KW = r.int(1, Math.max(1, Math.min(4, Math.floor((W + extra[1] - 1) / d[1]) + 1)));
    const x = { shape: [N, H, W, C], values: r.normal(N * H * W * C) };
    const filter = { shape: [KH, KW, C, O], values: r.normal(KH * KW * C * O) };
    const what =
      `conv case ${i}: x ${x.shape} filter ${filter.shape} ` + `strides ${s} dilations ${d} pad ${JSON.stringify(pad)}`;
    const attrs = { strides: s, pad, dataFormat: 'NHWC', dilations: d, dimRoundingMode: undefined };
    await agree('Conv2D', { x, filter }, attrs, what);
    if (d[0] !== 1 || d[1] !== 1) continue;
    const y = await refOutput('Conv2D', { x, filter }, attrs);
    const dy = { shape: y.shape, values: r.normal(y.values.length) };
    await agree(
      'Conv2DBackpropInput',
      { dy, filter },
      { inputShape: x.shape, strides: s, pad, dataFormat: 'NHWC' },
      `${what} (dx)`,
    );
    await agree(
      'Conv2DBackpropFilter',
      { x, dy },
      { filterShape: filter.shape, strides: s, pad, dataFormat: 'NHWC' },
      `${what} (dw)`,
    );
  }
});

test('Conv2D matches at the model layers’ widths, where oneDNN picks blocked filter layouts', async () => {
  const r = rng(77);
  // [1, 32, 8, 16, 1, 2]: the strided 1x1 case that oneDNN 2.6 mishandles (overruns its scratchpad) and we route around
  for (const [N, H, C, O, K, s] of [
    [2, 8, 16, 32, 3, 1],
    [2, 8, 16, 16, 3, 1], // one 16-channel block each way: on AVX-512 read and written in place, no reorder
    [1, 9, 32, 48, 3, 2],
    [3, 6, 24, 64, 1, 2],
    [1, 4, 64, 64, 3, 1],
    [1, 32, 8, 16, 1, 2],
    [2, 16, 3, 8, 1, 2],
  ] as const) {
    const x = { shape: [N, H, H, C], values: r.spikes(N * H * H * C, 0.2) };
    const filter = { shape: [K, K, C, O], values: r.normal(K * K * C * O, 0.1) };
    const attrs = { strides: [s, s], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] };
    const what = `conv ${N}x${H}x${H}x${C} -> ${O}, k${K} s${s}`;
    await agree('Conv2D', { x, filter }, attrs, what);
    const y = await refOutput('Conv2D', { x, filter }, attrs);
    const dy = { shape: y.shape, values: r.normal(y.values.length) };
    await agree(
      'Conv2DBackpropInput',
      { dy, filter },
      { inputShape: x.shape, strides: [s, s], pad: 'same', dataFormat: 'NHWC' },
      `${what} (dx)`,
    );
    await agree(
      'Conv2DBackpropFilter',
      { x, dy },
      { filterShape: filter.shape, strides: [s, s], pad: 'same', dataFormat: 'NHWC' },
      `${what} (dw)`,
    );
  }
});

/** oneDNN 2.6 has Winograd convolutions for AVX-512 (avx512_core: F, BW, VL and DQ) only. */
function hasAvx512Core(): boolean {
  const flags =
    readFileSync('/proc/cpuinfo', 'utf8')
      .match(/^flags\s*:(.*)$/m)?.[1]
      ?.split(/\s+/) ?? [];
  return ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every((f) => flags.includes(f));
}

test('3x3 stride-1 convolutions that pay for it run Winograd on AVX-512, and match the JS kernels', async () => {
  const r = rng(99);
  const wino = hasAvx512Core();
  // [N, H, C, O, Winograd for forward / input gradient / filter gradient where it exists]: 512 output pixels and 32
  // channels each way are the bar; a 4x4 output takes it for the filter gradient only, below 512 channels
  const Y = [true, true, true] as const,
    NO = [false, false, false] as const;
  for (const [N, H, C, O, pays] of [
    [2, 16, 32, 32, Y],
    [1, 32, 32, 64, Y],
    [8, 8, 48, 64, Y],
    [32, 4, 64, 64, [false, false, true]],
    [1, 16, 32, 32, NO], // 256 pixels
    [4, 16, 16, 32, NO], // 16 channels in
    [2, 16, 40, 32, NO], // not a multiple of 16
  ] as const) {
    const x = { shape: [N, H, H, C], values: r.normal(N * H * H * C) };
    const filter = { shape: [3, 3, C, O], values: r.normal(9 * C * O, 0.1) };
    const what = `conv ${N}x${H}x${H}x${C} -> ${O}, k3 s1`;
    const params = Int32Array.from([N, H, H, C, O, 3, 3, H, H, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
    for (const op of [0, 1, 2] as const) {
      const want = wino && pays[op] ? 'winograd' : 'direct';
      assert.equal(addon().conv2dAlgorithm(params, op), want, `${what}: op ${op}`);
    }
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] };
    await agree('Conv2D', { x, filter }, attrs, what);
    const y = await refOutput('Conv2D', { x, filter }, attrs);
    const dy = { shape: y.shape, values: r.normal(y.values.length) };
    const grad = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' };
    await agree('Conv2DBackpropInput', { dy, filter }, { ...grad, inputShape: x.shape }, `${what} (dx)`);
    await agree('Conv2DBackpropFilter', { x, dy }, { ...grad, filterShape: filter.shape }, `${what} (dw)`);
  }
});

test('a Winograd plan whose scratchpad would pass 64 MB stays direct (a 512-channel filter gradient)', async () => {
  const wino = hasAvx512Core();
  // batch 64 at 4x4, 512 channels: forward and input gradient need about 54 MB, the filter gradient 93-131 MB
  const params = Int32Array.from([64, 4, 4, 512, 512, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  assert.equal(addon().conv2dAlgorithm(params, 0), wino ? 'winograd' : 'direct', 'forward');
  assert.equal(addon().conv2dAlgorithm(params, 1), wino ? 'winograd' : 'direct', 'input gradient');
  assert.equal(addon().conv2dAlgorithm(params, 2), 'direct', 'filter gradient');
});

test('Conv2D falls back to the JS kernel, with the same result, where oneDNN cannot express the rounding', async () => {
  const r = rng(5);
  // explicit pads with ceil rounding: tfjs's output is one row longer than oneDNN's formula allows
  const x = { shape: [1, 6, 6, 2], values: r.normal(72) };
  const filter = { shape: [3, 3, 2, 3], values: r.normal(54) };
  await agree(
    'Conv2D',
    { x, filter },
    {
      strides: [2, 2],
      pad: [
        [0, 0],
        [0, 0],
        [0, 0],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [1, 1],
      dimRoundingMode: 'ceil',
    },
    'ceil',
    2e-5,
    false,
  );
});

test(
  'FusedConv2D with bias and ReLU (or neither) matches, ' + 'blocked tiny outputs included; PReLU falls back',
  async () => {
    const r = rng(41);
    // [1, 4, 64, 64, 3, 1]: a 4x4 output, where the primitive runs on blocked activations
    for (const [N, H, C, O, K, s] of [
      [1, 32, 3, 16, 3, 1],
      [2, 8, 16, 32, 3, 2],
      [1, 4, 64, 64, 3, 1],
      [1, 8, 32, 64, 1, 2],
      [3, 5, 4, 7, 3, 1],
    ] as const) {
      for (const [activation, withBias] of [
        ['relu', true],
        ['linear', true],
        ['relu', false],
      ] as const) {
        const x = { shape: [N, H, H, C], values: r.normal(N * H * H * C) };
        const filter = { shape: [K, K, C, O], values: r.normal(K * K * C * O, 0.2) };
        const bias = { shape: [O], values: r.normal(O) };
        const attrs = {
          strides: [s, s],
          pad: [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [1, 1],
          activation,
        };
        await agree(
          'FusedConv2D',
          withBias ? { x, filter, bias } : { x, filter },
          attrs,
          `fused conv ${N}x${H}x${H}x${C} -> ${O} k${K} s${s} ${activation} bias ${withBias}`,
        );
      }
    }
    const x = { shape: [1, 5, 5, 2], values: r.normal(50) },
      filter = { shape: [3, 3, 2, 4], values: r.normal(72) };
    // tfjs's ReLU keeps NaN (a NaN running statistic must reach the loss) and -0; a max with 0 would not
    const nan = { shape: [1, 5, 5, 2], values: x.values.map((v, i) => (i === 7 ? NaN : v)) };
    const zeros = { shape: [1, 5, 5, 2], values: new Float32Array(50).fill(-0) };
    for (const input of [nan, zeros]) {
      await agree(
        'FusedConv2D',
        { x: input, filter, bias: { shape: [4], values: Float32Array.from([-0, 1, -1, NaN]) } },
        { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' },
        'fused conv relu, NaN and -0',
        2e-5,
        true,
        true,
      );
    }
    const alpha = { shape: [4], values: r.normal(4) };
    await agree(
      'FusedConv2D',
      { x, filter, preluActivationWeights: alpha },
      { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'prelu' },
      'fused conv prelu',
      2e-5,
      false,
    );
  },
);

test(
  'a filter used again runs from its packed copy, packed once; ' + 'new values (an assigned variable) pack anew',
  async () => {
    const r = rng(8);
    const x = { shape: [1, 4, 4, 64], values: r.normal(1024) };
    const w1 = { shape: [3, 3, 64, 64], values: r.normal(36864, 0.05) },
      w2 = { shape: [3, 3, 64, 64], values: r.normal(36864, 0.05) };
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] };
    const want1 = await refOutput('Conv2D', { x, filter: w1 }, attrs);
    const want2 = await refOutput('Conv2D', { x, filter: w2 }, attrs);
    assert.ok(worstDifference(want1.values, want2.values).worst > 0.1, 'the two filters give different outputs');
    await tf.setBackend('native');
    const X = tf.tensor4d(x.values, [1, 4, 4, 64]),
      v = tf.variable(tf.tensor4d(w1.values, [3, 3, 64, 64]));
    const conv = (what: string, want: Float32Array) => {
      const y = tf.conv2d(X, v as tf.Tensor4D, 1, 'same');
      assertCloseToScale(y, want, 2e-5, what, { floor: 2e-5 });
      y.dispose();
    };
    const packs = packStats.packs;
    conv('first use', want1.values);
    assert.equal(packStats.packs, packs, 'a filter seen once is not packed');
    conv('second use', want1.values);
    conv('third use', want1.values);
    assert.equal(packStats.packs, packs + 1, 'packed on its second use only');
    v.assign(tf.tensor4d(w2.values, [3, 3, 64, 64]));
    conv('after assign', want2.values);
    conv('after assign, again', want2.values);
    conv('after assign, packed', want2.values);
    assert.equal(packStats.packs, packs + 2, 'the new value packed once');
    tf.dispose([X, v]);
  },
);

test('BatchMatMul matches for every transpose, batch broadcast and odd size', async () => {
  const r = rng(99);
  for (let i = 0; i < 48; i++) {
    const tA = (i & 1) === 1,
      tB = (i & 2) === 2;
    const M = r.pick([1, r.int(1, 40)]),
      N = r.pick([1, r.int(1, 40)]),
      K = r.pick([1, r.int(1, 70)]);
    const outer = r.pick([[], [r.int(1, 4)], [r.int(1, 3), r.int(1, 3)]]);
    const bc = r.int(0, 2); // 0 same batch, 1 a has one matrix, 2 b has one matrix
    const oa = bc === 1 ? outer.map(() => 1) : outer,
      ob = bc === 2 ? outer.map(() => 1) : outer;
    const aShape = [...oa, ...(tA ? [K, M] : [M, K])],
      bShape = [...ob, ...(tB ? [N, K] : [K, N])];
    const a = { shape: aShape, values: r.normal(prod(aShape)) },
      b = { shape: bShape, values: r.normal(prod(bShape)) };
    await agree(
      'BatchMatMul',
      { a, b },
      { transposeA: tA, transposeB: tB },
      `matmul ${aShape} x ${bShape} tA ${tA} tB ${tB}`,
    );
  }
});

test('_FusedMatMul with bias and relu matches', async () => {
  const r = rng(3);
  for (let i = 0; i < 8; i++) {
    const tA = (i & 1) === 1,
      tB = (i & 2) === 2,
      relu = (i & 4) === 4;
    const M = r.int(1, 30),
      N = r.int(1, 30),
      K = r.int(1, 30);
    const a = { shape: tA ? [K, M] : [M, K], values: r.normal(M * K) };
    const b = { shape: tB ? [N, K] : [K, N], values: r.normal(K * N) };
    const bias = { shape: [N], values: r.normal(N) };
    const attrs = { transposeA: tA, transposeB: tB, activation: relu ? 'relu' : 'linear', leakyreluAlpha: 0.2 };
    await agree('_FusedMatMul', { a, b, bias }, attrs, `fused matmul case ${i}`);
  }
});

test('MaxPool and MaxPoolGrad match, ties in spike maps included', async () => {
  const r = rng(42);
  for (let i = 0; i < 30; i++) {
    const N = r.pick([1, 2, 3]),
      H = r.int(1, 12),
      W = r.int(1, 12),
      C = r.int(1, 7);
    const k: [number, number] = [r.int(1, 3), r.int(1, 3)],
      s: [number, number] = [r.int(1, 3), r.int(1, 3)];
    const pad = r.pick(['same', 'valid', r.int(0, Math.min(k[0], k[1]) >> 1)] as (string | number)[]);
    if (pad === 'valid' && (k[0] > H || k[1] > W)) continue;
    const n = N * H * W * C;
    const x = { shape: [N, H, W, C], values: i % 2 ? r.spikes(n, 0.3) : r.normal(n) };
    const attrs = { filterSize: k, strides: s, pad, dimRoundingMode: undefined };
    const what = `maxpool case ${i}: x ${x.shape} k ${k} s ${s} pad ${pad}`;
    await agree('MaxPool', { x }, attrs, what, 0);
    const y = await refOutput('MaxPool', { x }, attrs);
    const dy = { shape: y.shape, values: r.normal(y.values.length) };
    await agree(
      'MaxPoolGrad',
      { dy, input: x, output: { shape: y.shape, values: y.values } },
      attrs,
      `${what} (grad)`,
      1e-6,
    );
  }
});

test('LIF forward matches the JS kernel exactly, backward within float rounding', async () => {
  const r = rng(11);
  for (let i = 0; i < 12; i++) {
    const T = r.int(1, 6),
      M = r.pick([1, r.int(1, 50), r.int(1000, 5000)]);
    const vThreshold = r.pick([1, 0.5, 0.3]),
      tau = r.pick([2, 1.5, 3]);
    // inputs on a coarse grid hit the threshold exactly now and then: ties must fire on both backends
    const values = r.normal(T * M, 1, 0.5).map((v) => (i % 3 === 0 ? Math.round(v * 8) / 8 : v));
    const x = { shape: [T, M], values };
    const what = `LIF T ${T} M ${M} tau ${tau} vth ${vThreshold}`;
    await agree(LIF, { x }, { tau, vThreshold }, what, 0);
    await agree(LIF_SPIKES, { x }, { tau, vThreshold }, `${what} spikes only`, 0);
    const lifOut = await run('cpu', LIF, { x }, { tau, vThreshold });
    const spikes = nth(lifOut, 0, LIF),
      h = nth(lifOut, 1, LIF);
    assert.deepEqual((await refOutput(LIF_SPIKES, { x }, { tau, vThreshold })).values, spikes.values);
    const dy = { shape: [T, M], values: r.normal(T * M) };
    for (const surrogate of ['sigmoid', 'atan']) {
      const attrs = { tau, vThreshold, surrogate, alpha: surrogate === 'sigmoid' ? 4 : 2 };
      await agree(LIF_GRAD, { dy, h, spikes }, attrs, `${what} grad ${surrogate}`, 1e-6);
    }
  }
});

test('BatchNorm train forward and backward match, offset and tiny batches included', async () => {
  const r = rng(8);
  for (let i = 0; i < 12; i++) {
    const M = r.pick([1, 2, r.int(3, 40), r.int(500, 3000)]),
      C = r.pick([1, r.int(2, 9), r.int(30, 70)]);
    const offset = r.pick([0, 5, -100]);
    const x = { shape: [M, C], values: r.normal(M * C, 2, offset) };
    const gamma = { shape: [C], values: r.normal(C, 0.5, 1) },
      beta = { shape: [C], values: r.normal(C) };
    const eps = 1e-5,
      what = `BN M ${M} C ${C} offset ${offset}`;
    await agree(BN_TRAIN, { x, gamma, beta }, { eps }, what, 1e-5);
    const stats = await run('cpu', BN_TRAIN, { x, gamma, beta }, { eps });
    const mean = nth(stats, 1, BN_TRAIN),
      variance = nth(stats, 2, BN_TRAIN);
    const dy = { shape: [M, C], values: r.normal(M * C) };
    await agree(BN_GRAD, { dy, x, gamma, mean, variance }, { eps }, `${what} grad`, 1e-4);
  }
});

test('BatchNorm+ReLU train kernels equal BN then tfjs ReLU (and its gradient), and native matches them', async () => {
  const r = rng(9);
  for (let i = 0; i < 8; i++) {
    const M = r.pick([1, 3, r.int(500, 3000)]),
      C = r.pick([1, r.int(2, 9), r.int(30, 70)]);
    const x = { shape: [M, C], values: r.normal(M * C, 2, r.pick([0, 5])) };
    if (i === 0) x.values[0] = Number.NaN; // NaN must reach the output and its gradient, as through tfjs's ReLU
    const gamma = { shape: [C], values: r.normal(C, 0.5, 1) },
      beta = { shape: [C], values: r.normal(C) };
    const dy = { shape: [M, C], values: r.normal(M * C) };
    const what = `BN+ReLU M ${M} C ${C}`;
    // The reference: the unfused kernels and tfjs's own ReLU gradient, dy * step(x), on the cpu backend.
    const train = await run('cpu', BN_TRAIN, { x, gamma, beta }, { eps: 1e-5 });
    const bn = nth(train, 0, BN_TRAIN),
      mean = nth(train, 1, BN_TRAIN),
      variance = nth(train, 2, BN_TRAIN);
    const y = await refOutput('Relu', { x: bn }, {});
    const step = await refOutput('Step', { x: bn }, { alpha: 0 });
    const g = await refOutput('Multiply', { a: dy, b: step }, {});
    const want = await run('cpu', BN_GRAD, { dy: g, x, gamma, mean, variance }, { eps: 1e-5 });
    const fused = await run('cpu', BN_RELU_TRAIN, { x, gamma, beta }, { eps: 1e-5 });
    assert.deepEqual(nth(fused, 0, BN_RELU_TRAIN).values, y.values, `${what}: forward`);
    const grads = await run('cpu', BN_RELU_GRAD, { dy, x, gamma, mean, variance, y }, { eps: 1e-5 });
    assert.equal(want.length, 3, `${what}: ${BN_GRAD} gives dx, dgamma, dbeta`);
    for (const [o, w] of want.entries())
      assert.deepEqual(nth(grads, o, what).values, w.values, `${what}: gradient ${o}`);
    await agree(BN_RELU_TRAIN, { x, gamma, beta }, { eps: 1e-5 }, what, 1e-5);
    await agree(BN_RELU_GRAD, { dy, x, gamma, mean, variance, y }, { eps: 1e-5 }, `${what} grad`, 1e-4);
  }
});

test('Transpose matches for random ranks, permutations and sizes', async () => {
  const r = rng(21);
  for (let i = 0; i < 40; i++) {
    const rank = r.int(1, 5);
    const shape = Array.from({ length: rank }, () => r.pick([1, 2, 3, r.int(1, 40)]));
    growToSmall(r, shape, 9);
    const perm = Array.from({ length: rank }, (_, k) => k);
    for (let k = rank - 1; k > 0; k--) {
      const j = r.int(0, k);
      [perm[k], perm[j]] = [must(perm[j], 'j <= k < rank'), must(perm[k], 'k < rank')];
    }
    const x = { shape, values: r.normal(prod(shape)) };
    await agree('Transpose', { x }, { perm }, `transpose ${shape} perm ${perm}`, 0);
  }
});

test('Add, Sub, Multiply and RealDiv match under broadcasting', async () => {
  const r = rng(31);
  const ops = ['Add', 'Sub', 'Multiply', 'RealDiv'];
  for (let i = 0; i < 48; i++) {
    const rank = r.int(1, 4);
    const shape = Array.from({ length: rank }, () => r.int(1, 24));
    growToSmall(r, shape, 9);
    // each operand drops leading axes and sets others to 1 at random: numpy broadcasting in every pattern
    const squash = (s: number[]) => s.slice(r.int(0, s.length - 1)).map((d) => (r.next() < 0.3 ? 1 : d));
    const [aShape, bShape] = r.next() < 0.5 ? [shape, squash(shape)] : [squash(shape), shape];
    const a = { shape: aShape, values: r.normal(prod(aShape)) };
    const b = { shape: bShape, values: r.normal(prod(bShape), 1, 3) }; // away from zero for RealDiv
    const op = must(ops[i % ops.length], 'an op for each case');
    await agree(op, { a, b }, {}, `${op} ${aShape} with ${bShape}`, 0);
  }
});

test('Sum and Mean match over any contiguous block of axes, keepDims or not', async () => {
  const r = rng(41);
  for (let i = 0; i < 30; i++) {
    const rank = r.int(1, 4);
    const shape = Array.from({ length: rank }, () => r.pick([1, r.int(1, 30)]));
    growToSmall(r, shape, 30);
    const first = r.int(0, rank - 1),
      last = r.int(first, rank - 1);
    const axis = Array.from({ length: last - first + 1 }, (_, k) => first + k);
    const x = { shape, values: r.normal(prod(shape)) };
    const keepDims = r.next() < 0.5;
    await agree('Sum', { x }, { axis, keepDims }, `sum ${shape} over ${axis}`, 1e-6);
    await agree('Mean', { x }, { axis, keepDims }, `mean ${shape} over ${axis}`, 1e-6);
  }
  // a bias gradient's shape: many rows, few columns, rows split across threads
  const x = { shape: [5000, 7], values: r.normal(35000, 1, 2) };
  await agree('Sum', { x }, { axis: [0], keepDims: false }, 'sum [5000, 7] over rows', 1e-6);
  // a firing-rate probe: the mean of a whole spike tensor (0/1), and of a few long rows, rows split across threads
  const spikes = { shape: [4, 30000], values: Float32Array.from(r.normal(120000), (v) => (v > 0.8 ? 1 : 0)) };
  await agree(
    'Mean',
    { x: spikes },
    { axis: [0, 1], keepDims: false },
    'mean of a whole [4, 30000] spike tensor',
    1e-6,
  );
  await agree('Mean', { x: spikes }, { axis: [1], keepDims: true }, 'mean [4, 30000] over its long rows', 1e-6);
  const strips = { shape: [2, 20000, 3], values: r.normal(120000) };
  await agree('Mean', { x: strips }, { axis: [1], keepDims: false }, 'mean [2, 20000, 3] over the middle axis', 1e-6);
});

test('Relu, Step, Sqrt, Neg, Square and Abs match, NaN and negative zero included', async () => {
  const r = rng(51);
  for (const op of ['Relu', 'Step', 'Sqrt', 'Neg', 'Square', 'Abs']) {
    const n = SMALL + r.int(0, 5000);
    const values = r
      .normal(n)
      .map((v, i) => (i % 97 === 0 ? NaN : i % 89 === 0 ? -0 : op === 'Sqrt' ? Math.abs(v) : v));
    const attrs = op === 'Step' ? { alpha: 0.25 } : {};
    await agree(op, { x: { shape: [n], values } }, attrs, `${op} of ${n}`, 0, true, true);
  }
});

test('spike inputs take the event-driven matmul below the density threshold, with the same result', async () => {
  const r = rng(61);
  const cases = [
    { M: 300, K: 130, N: 128, d: 0.05, spikes: true, tB: true }, // whole 64-column strips
    { M: 257, K: 97, N: 190, d: 0.1, spikes: true, tB: false }, // a partial strip at the end
    { M: 300, K: 130, N: 120, d: 0.08, spikes: false, tB: true }, // sparse but not 0/1: multiply-adds
    { M: 300, K: 130, N: 128, d: 0.6, spikes: true, tB: true }, // dense spikes: the dense kernel
  ];
  for (const { M, K, N, d, spikes, tB } of cases) {
    const av = Float32Array.from({ length: M * K }, () => (r.next() < d ? (spikes ? 1 : 2 * r.next() - 1) : 0));
    const a = { shape: [M, K], values: av };
    const b = { shape: tB ? [N, K] : [K, N], values: r.normal(K * N) };
    const before = sparseStats.sparse;
    await agree(
      'BatchMatMul',
      { a, b },
      { transposeA: false, transposeB: tB },
      `sparse matmul ${M}x${K}x${N} density ${d}`,
      1e-5,
    );
    assert.equal(sparseStats.sparse - before, d < sparseBelow('matmul') ? 1 : 0, `density ${d}: wrong kernel chosen`);
  }
  // the weight gradient dY^T X with spikes X: event-driven below its own threshold
  for (const { R, P, Q, d, spikes } of [
    { R: 400, P: 90, Q: 130, d: 0.05, spikes: true },
    { R: 333, P: 101, Q: 127, d: 0.04, spikes: false },
    { R: 400, P: 90, Q: 130, d: 0.5, spikes: true },
  ]) {
    const a = { shape: [R, P], values: r.normal(R * P) };
    const b = {
      shape: [R, Q],
      values: Float32Array.from({ length: R * Q }, () =>
        r.next() < d ? (spikes ? 1 : must(r.normal(1)[0], 'one normal value')) : 0,
      ),
    };
    const before = sparseStats.sparse;
    await agree(
      'BatchMatMul',
      { a, b },
      { transposeA: true, transposeB: false },
      `dY^T X ${R}x${P}x${Q} density ${d}`,
      1e-5,
    );
    assert.equal(
      sparseStats.sparse - before,
      d < sparseBelow('matmulTA') ? 1 : 0,
      `dY^T X density ${d}: wrong kernel chosen`,
    );
  }
});

test('eval-mode FusedBatchNorm matches, with and without scale and offset', async () => {
  const r = rng(71);
  for (const [M, C, withAffine] of [
    [500, 64, true],
    [3, 7, false],
    [1000, 1, true],
  ] as const) {
    const x = { shape: [M, C], values: r.normal(M * C, 2, 1) };
    const mean = { shape: [C], values: r.normal(C) };
    const variance = { shape: [C], values: r.normal(C).map((v) => Math.abs(v) + 0.1) };
    const inputs: Inputs = { x, mean, variance };
    if (withAffine)
      Object.assign(inputs, {
        offset: { shape: [C], values: r.normal(C) },
        scale: { shape: [C], values: r.normal(C) },
      });
    await agree('FusedBatchNorm', inputs, { varianceEpsilon: 1e-5 }, `batchNorm ${M}x${C} affine ${withAffine}`, 1e-6);
  }
});

test('the fused AdamW kernel equals the AdamW op sequence bit for bit, on both backends', async () => {
  const r = rng(81);
  const n = 5000;
  const lr = 5e-4,
    wd = 6e-2,
    b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8,
    step = 3;
  const attrs = {
    decay: 1 - lr * wd,
    beta1: b1,
    beta2: b2,
    eps,
    bc2Sqrt: Math.sqrt(1 - b2 ** step),
    stepSize: lr / (1 - b1 ** step),
  };
  const p = r.normal(n),
    g = r.normal(n, 0.1),
    m = r.normal(n, 0.01),
    v = r.normal(n, 0.001).map(Math.abs);
  for (const backend of ['cpu', 'native']) {
    await tf.setBackend(backend);
    const P = tf.tensor1d(p),
      G = tf.tensor1d(g),
      M = tf.tensor1d(m),
      V = tf.tensor1d(v);
    // the sequence src/train/adamw.ts runs
    const decayed = tf.mul(P, attrs.decay);
    const m2 = tf.add(tf.mul(M, b1), tf.mul(G, 1 - b1));
    const v2 = tf.add(tf.mul(V, b2), tf.mul(tf.square(G), 1 - b2));
    const p2 = tf.sub(decayed, tf.mul(tf.div(m2, tf.add(tf.div(tf.sqrt(v2), attrs.bc2Sqrt), eps)), attrs.stepSize));
    const fused = adamwUpdate(P, G, M, V, attrs);
    const [fp, fm, fv] = fused;
    for (const [name, got, want] of [
      ['param', fp, p2],
      ['m', fm, m2],
      ['v', fv, v2],
    ] as const) {
      assert.deepEqual(got.dataSync(), want.dataSync(), `${backend}: ${name} differs from the op sequence`);
    }
    tf.dispose([P, G, M, V, decayed, m2, v2, p2, ...fused]);
  }
});

test('spike inputs take the event-driven convolution below its threshold, forward and filter gradient', async () => {
  const r = rng(91);
  // each case big enough (N OH OW O KH KW C >= 2^22) for the density check to run
  const cases = [
    { N: 4, H: 16, C: 16, O: 32, K: 3, s: 1, d: 1, pad: 'same' as unknown, density: 0.04, spikes: true },
    {
      N: 16,
      H: 17,
      C: 12,
      O: 40,
      K: 3,
      s: 2,
      d: 1,
      pad: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
      density: 0.05,
      spikes: false,
    },
    { N: 5, H: 18, C: 16, O: 32, K: 3, s: 1, d: 2, pad: 'valid', density: 0.06, spikes: true },
    { N: 34, H: 16, C: 32, O: 64, K: 1, s: 2, d: 1, pad: 'valid', density: 0.05, spikes: true },
    // two panels of output channels, the second partial
    { N: 4, H: 16, C: 24, O: 100, K: 3, s: 1, d: 1, pad: 'same', density: 0.08, spikes: true },
    { N: 4, H: 16, C: 16, O: 32, K: 3, s: 1, d: 1, pad: 'same', density: 0.3, spikes: true }, // dense enough: oneDNN
  ];
  for (const { N, H, C, O, K, s, d, pad, density, spikes } of cases) {
    const n = N * H * H * C;
    const x = {
      shape: [N, H, H, C],
      values: Float32Array.from({ length: n }, () =>
        r.next() < density ? (spikes ? 1 : must(r.normal(1)[0], 'one normal value')) : 0,
      ),
    };
    const filter = { shape: [K, K, C, O], values: r.normal(K * K * C * O, 0.1) };
    const what = `sparse conv ${x.shape} k${K} s${s} d${d} pad ${JSON.stringify(pad)} density ${density}`;
    // the kernels decide on the drawn map's own fraction of nonzeros, which may fall either side of a threshold
    const drawn = x.values.reduce((k, v) => k + (v !== 0 ? 1 : 0), 0) / n;
    const expect = drawn < sparseBelow('conv') ? 1 : 0;
    const expectFilter = drawn < sparseBelow('convFilter') ? 1 : 0;
    let before = sparseStats.sparse;
    await agree('Conv2D', { x, filter }, { strides: s, pad, dataFormat: 'NHWC', dilations: d }, what, 1e-5);
    assert.equal(sparseStats.sparse - before, expect, `${what}: wrong forward kernel`);
    // with a bias (an eval-mode batch norm folded in) and ReLU: the bias added to each finished sum
    const bias = { shape: [O], values: r.normal(O) };
    for (const activation of ['linear', 'relu']) {
      before = sparseStats.sparse;
      const attrs = { strides: s, pad, dataFormat: 'NHWC', dilations: d, activation };
      await agree('FusedConv2D', { x, filter, bias }, attrs, `${what}, bias, ${activation}`, 1e-5);
      assert.equal(sparseStats.sparse - before, expect, `${what}: wrong fused forward kernel`);
    }
    if (d !== 1) continue; // tfjs has no conv gradients at dilation > 1
    const y = await refOutput('Conv2D', { x, filter }, { strides: s, pad, dataFormat: 'NHWC', dilations: 1 });
    const dy = { shape: y.shape, values: r.normal(y.values.length) };
    before = sparseStats.sparse;
    await agree(
      'Conv2DBackpropFilter',
      { x, dy },
      { filterShape: filter.shape, strides: s, pad, dataFormat: 'NHWC' },
      `${what} (dw)`,
      1e-5,
    );
    assert.equal(sparseStats.sparse - before, expectFilter, `${what}: wrong filter-gradient kernel`);
  }
});

test('the running-statistics kernel gives the bits of the seven tfjs ops it replaces, on cpu and native', async () => {
  const r = rng(17);
  for (const [C, count, momentum] of [
    [1, 2, 0.1],
    [16, 2048, 0.1],
    [384, 8192, 0.01],
  ] as const) {
    const stat = (positive: boolean) => {
      const v = r.normal(C, 2);
      return positive ? v.map(Math.abs) : v;
    };
    const rm = stat(false),
      rv = stat(true),
      mean = stat(false),
      variance = stat(true);
    for (const backend of ['cpu', 'native']) {
      await tf.setBackend(backend);
      const want = tf.tidy(() => {
        const unbiased = tf.mul(tf.tensor1d(variance), count / Math.max(count - 1, 1));
        const m2 = tf.add(tf.mul(tf.tensor1d(rm), 1 - momentum), tf.mul(tf.tensor1d(mean), momentum));
        const v2 = tf.add(tf.mul(tf.tensor1d(rv), 1 - momentum), tf.mul(unbiased, momentum));
        return [m2.dataSync(), v2.dataSync()];
      });
      const inputs = {
        runningMean: { values: rm, shape: [C] },
        runningVar: { values: rv, shape: [C] },
        mean: { values: mean, shape: [C] },
        variance: { values: variance, shape: [C] },
      };
      const got = await run(backend, BN_RUNNING_STATS, inputs, { momentum, count });
      assert.deepEqual(nth(got, 0, 'running mean').values, want[0], `${backend} C ${C}: running mean`);
      assert.deepEqual(nth(got, 1, 'running var').values, want[1], `${backend} C ${C}: running var`);
    }
  }
});
