// Batches whose Winograd plan would need more scratchpad than conv2d.cc allows run in slices of the batch: each
// slice's outputs land at its own images, the filter gradient sums over every slice, and a packed filter serves a
// last slice whose plan wants another layout. Checked against float64 sums at sampled outputs in every slice.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { initEngine } from '../../src/engine/backend.js';
import { addon } from '../../src/engine/native/kernel_util.js';
import { rng } from '../helpers/rng.js';

before(async () => {
  assert.equal(await initEngine('native'), 'native');
});

const avx512 = ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq'].every((f) =>
  (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').split(/\s+/).includes(f),
);

/** A 3x3, stride-1, 'same' convolution's parameters (conv2d.cc's 19 numbers). */
const params = (N: number, H: number, C: number, O: number) =>
  Int32Array.from([N, H, H, C, O, 3, 3, H, H, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);

interface Geometry {
  N: number;
  H: number;
  C: number;
  O: number;
}

/**
 * Output (n, y, x, ch) as a float64 sum over its 3x3 window, with the sum of |terms| for the tolerance: the forward
 * (act = x, ch an output channel) or the input gradient (act = dy, ch an input channel, the window mirrored).
 */
function windowAt(g: Geometry, act: Float32Array, w: Float32Array, at: number[], gradient: boolean) {
  const [n, y, xx, ch] = at as [number, number, number, number];
  const inner = gradient ? g.O : g.C;
  let sum = 0,
    mag = 0;
  for (let ky = 0; ky < 3; ky++)
    for (let kx = 0; kx < 3; kx++) {
      const [iy, ix] = gradient ? [y - ky + 1, xx - kx + 1] : [y + ky - 1, xx + kx - 1];
      if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.H) continue;
      for (let k = 0; k < inner; k++) {
        const wAt = gradient ? ((ky * 3 + kx) * g.C + ch) * g.O + k : ((ky * 3 + kx) * g.C + k) * g.O + ch;
        const t = act[((n * g.H + iy) * g.H + ix) * inner + k]! * w[wAt]!;
        sum += t;
        mag += Math.abs(t);
      }
    }
  return [sum, mag] as const;
}

/** The filter gradient at (ky, kx, c, o): x against dy over every image and pixel of the batch. */
function filterGradAt(g: Geometry, x: Float32Array, dy: Float32Array, ky: number, kx: number, c: number, o: number) {
  let sum = 0,
    mag = 0;
  for (let n = 0; n < g.N; n++)
    for (let y = 0; y < g.H; y++)
      for (let xx = 0; xx < g.H; xx++) {
        const iy = y + ky - 1,
          ix = xx + kx - 1;
        if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.H) continue;
        const t = x[((n * g.H + iy) * g.H + ix) * g.C + c]! * dy[((n * g.H + y) * g.H + xx) * g.O + o]!;
        sum += t;
        mag += Math.abs(t);
      }
  return [sum, mag] as const;
}

function close(got: number, [want, mag]: readonly [number, number], what: string) {
  assert.ok(Math.abs(got - want) <= 1e-5 * mag + 1e-6, `${what}: ${got} against ${want} (sum of |terms| ${mag})`);
}

test("the spiking stems' 256-image input gradients run Winograd in slices on AVX-512 (they cannot fit whole)", () => {
  // T 4 x batch 64 at 32x32, 96 -> 192: the transformed gradients alone would be hundreds of MB
  const p = params(256, 32, 96, 192);
  const slice = addon().conv2dSlice(p, 1);
  if (!avx512) return assert.equal(slice, 256, 'no Winograd, so no slices');
  assert.equal(addon().conv2dAlgorithm(p, 1), 'winograd');
  assert.ok(slice < 256 && (slice & (slice - 1)) === 0, `slice ${slice}: a power of two below the batch`);
});

test('sliced forward (packed filter or not) and input gradient match float64 sums at outputs in every slice', () => {
  const r = rng(31);
  // 129 images at 8x8, 384 channels: slices of 64 where the whole batch does not fit, and a last slice of one image
  // (64 pixels: too few for Winograd, so a direct plan with its own filter layout)
  const g = { N: 129, H: 8, C: 384, O: 384 };
  const p = params(g.N, g.H, g.C, g.O);
  const x = r.normal(g.N * g.H * g.H * g.C);
  const w = r.normal(9 * g.C * g.O, 0.05);
  const y = new Float32Array(g.N * g.H * g.H * g.O);
  addon().conv2d(x, w, y, p, false);
  const packed = addon().conv2dPackFilter(w, p);
  const yPacked = new Float32Array(y.length);
  addon().conv2d(x, packed ?? w, yPacked, p, packed !== null);
  assert.deepEqual(yPacked, y, 'the packed filter gives the same bits as the HWIO one');
  const dy = r.normal(y.length);
  const dx = new Float32Array(x.length);
  addon().conv2dBackpropInput(dy, w, dx, p);
  for (const n of [0, 63, 64, 100, 127, 128])
    for (let k = 0; k < 6; k++) {
      const [yy, xx, ch] = [r.int(0, g.H - 1), r.int(0, g.H - 1), r.int(0, g.O - 1)];
      const at = ((n * g.H + yy) * g.H + xx) * g.O + ch;
      close(y[at]!, windowAt(g, x, w, [n, yy, xx, ch], false), `forward image ${n} (${yy}, ${xx}, ${ch})`);
      close(dx[at]!, windowAt(g, dy, w, [n, yy, xx, ch], true), `input gradient image ${n} (${yy}, ${xx}, ${ch})`);
    }
  if (avx512) assert.equal(addon().conv2dSlice(p, 0), 64, 'forward in slices of 64');
});

test('the sliced filter gradient sums every slice, a direct last slice included', () => {
  const r = rng(32);
  // 130 images at 8x8, 256 channels: slices of 64 and a last one of 2 images (128 pixels, direct)
  const g = { N: 130, H: 8, C: 256, O: 256 };
  const p = params(g.N, g.H, g.C, g.O);
  const x = r.spikes(g.N * g.H * g.H * g.C, 0.3);
  const dy = r.normal(g.N * g.H * g.H * g.O);
  const dw = new Float32Array(9 * g.C * g.O).fill(Number.NaN);
  addon().conv2dBackpropFilter(x, dy, dw, p);
  for (let k = 0; k < 24; k++) {
    const [ky, kx, c, o] = [r.int(0, 2), r.int(0, 2), r.int(0, g.C - 1), r.int(0, g.O - 1)];
    close(
      dw[((ky * 3 + kx) * g.C + c) * g.O + o]!,
      filterGradAt(g, x, dy, ky, kx, c, o),
      `dw (${ky}, ${kx}, ${c}, ${o})`,
    );
  }
  if (avx512) assert.equal(addon().conv2dSlice(p, 2), 64, 'filter gradient in slices of 64');
});
