// Lanczos-3 resampling of 8-bit RGB pixels, the same arithmetic as Pillow's `Image.resize(..., LANCZOS)` (its
// Resample.c: weights in double, normalised, rounded to 22-bit fixed point, a horizontal pass rounded to 8 bits, then
// a vertical one), so the 32x32 training images equal PIL's. In JS because a libvips call costs ~1 ms of set-up on
// a 128-pixel source, more than the arithmetic; the cost grows with the source, so very large sources are first
// box-averaged by an integer factor, as PIL's `reducing_gap=2` does (`Image.reduce`).
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const SUPPORT = 3;

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

function lanczos(x: number): number {
  return x > -SUPPORT && x < SUPPORT ? sinc(x) * sinc(x / SUPPORT) : 0;
}

interface Taps {
  /** First source index of each output's window, and its length. */
  start: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, `ksize` per output. */
  weights: Int32Array;
  ksize: number;
}

// The weights for a few recent size pairs: a collector sees one source size, and computing them costs ~1,600 sines.
const cache = new Map<string, Taps>();

function taps(inSize: number, outSize: number): Taps {
  const key = `${inSize}>${outSize}`;
  let t = cache.get(key);
  if (!t) {
    if (cache.size >= 16) cache.delete(cache.keys().next().value!);
    t = computeTaps(inSize, outSize);
    cache.set(key, t);
  }
  return t;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc.
function computeTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(1, scale);
  const support = SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) sum += w[x] = lanczos((x + xmin - center + 0.5) / filterScale);
    for (let x = 0; x < xmax; x++) {
      const k = sum !== 0 ? w[x]! / sum : w[x]!;
      weights[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, ksize };
}

// Pillow's clip8: the sums stay below 2^31, so the shift is exact.
function clip8(v: number): number {
  return v <= 0 ? 0 : v >= 256 * ONE ? 255 : v >> PRECISION_BITS;
}

/**
 * Resizes `src` (RGB HWC, `width` x `height`, a `stride` of bytes per row from `offset`) to `outW` x `outH` with
 * Lanczos-3. Returns RGB HWC.
 */
export function resizeLanczos(
  src: Uint8Array,
  width: number,
  height: number,
  outW: number,
  outH: number,
  stride = width * 3,
  offset = 0,
): Uint8Array {
  const h = taps(width, outW);
  const v = taps(height, outH);
  // Horizontal pass over the rows the vertical pass reads (all of them when shrinking).
  // An empty output (outH 0) reads no rows.
  const firstRow = v.start[0] ?? 0;
  const lastRow = (v.start.at(-1) ?? 0) + (v.count.at(-1) ?? 0);
  const mid = new Uint8Array((lastRow - firstRow) * outW * 3);
  const { start: hs, count: hc, weights: hw, ksize: hk } = h;
  for (let y = firstRow; y < lastRow; y++) {
    const row = offset + y * stride;
    let o = (y - firstRow) * outW * 3;
    for (let xx = 0; xx < outW; xx++, o += 3) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let p = row + hs[xx]! * 3;
      for (let k = xx * hk, end = k + hc[xx]!; k < end; k++, p += 3) {
        const wk = hw[k]!;
        r += src[p]! * wk;
        g += src[p + 1]! * wk;
        b += src[p + 2]! * wk;
      }
      mid[o] = clip8(r);
      mid[o + 1] = clip8(g);
      mid[o + 2] = clip8(b);
    }
  }
  const out = new Uint8Array(outW * outH * 3);
  const midStride = outW * 3;
  const { start: vs, count: vc, weights: vw, ksize: vk } = v;
  for (let yy = 0; yy < outH; yy++) {
    const k0 = yy * vk;
    const n = vc[yy]!;
    const base = (vs[yy]! - firstRow) * midStride;
    for (let c = 0; c < midStride; c++) {
      let s = HALF;
      for (let y = 0, p = base + c; y < n; y++, p += midStride) s += mid[p]! * vw[k0 + y]!;
      out[yy * midStride + c] = clip8(s);
    }
  }
  return out;
}

/** Sources with more than this many times the output's side are box-averaged first (see the top of this file). */
export const BOX_REDUCE_ABOVE = 16;

/**
 * Averages `factor` x `factor` blocks of `src` (RGB HWC, `width` x `height` from `offset` with `stride` bytes a row),
 * rounding to nearest; rows and columns past the last whole block are left out. Returns RGB HWC.
 */
export function boxReduce(
  src: Uint8Array,
  width: number,
  height: number,
  factor: number,
  stride = width * 3,
  offset = 0,
): Uint8Array {
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  const out = new Uint8Array(w * h * 3);
  const acc = new Uint32Array(w * 3);
  const area = factor * factor;
  for (let yy = 0; yy < h; yy++) {
    acc.fill(0);
    for (let y = yy * factor; y < (yy + 1) * factor; y++) {
      const row = offset + y * stride;
      for (let xx = 0, p = row; xx < w; xx++) {
        for (let x = 0; x < factor; x++, p += 3) {
          acc[xx * 3]! += src[p]!;
          acc[xx * 3 + 1]! += src[p + 1]!;
          acc[xx * 3 + 2]! += src[p + 2]!;
        }
      }
    }
    for (let i = 0; i < w * 3; i++) out[yy * w * 3 + i] = Math.floor((acc[i]! + (area >> 1)) / area);
  }
  return out;
}

/**
 * The square `side` x `side` at (`left`, `top`) of an RGB HWC image `width` pixels wide, resized to `size` x `size`:
 * Lanczos-3 as PIL, after a box average by an integer factor when the square is more than BOX_REDUCE_ABOVE times
 * `size` (its leftover rows and columns, fewer than the factor, split between the two sides).
 */
export function resizeSquare(
  src: Uint8Array,
  width: number,
  left: number,
  top: number,
  side: number,
  size: number,
): Uint8Array {
  const stride = width * 3;
  if (side <= BOX_REDUCE_ABOVE * size)
    return resizeLanczos(src, side, side, size, size, stride, top * stride + left * 3);
  const factor = Math.floor(side / ((BOX_REDUCE_ABOVE / 2) * size));
  const skip = (side % factor) >> 1;
  const small = boxReduce(src, side, side, factor, stride, (top + skip) * stride + (left + skip) * 3);
  const s = Math.floor(side / factor);
  return resizeLanczos(small, s, s, size, size);
}
