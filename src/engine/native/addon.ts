// Loads the C++ addon (build/Release/geospike_native.node, built by node-gyp over oneDNN) and types its functions.
// Loading can fail on a machine without oneDNN or without a build; the error then says how to fix it.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { must } from '../../util/must.js';
import { packageRoot } from '../../util/package_root.js';

/** The addon's functions. Outputs are caller-allocated Float32Arrays; shapes and attributes travel as Int32Arrays. */
export interface NativeAddon {
  info(): { onednn: string; threads: number };
  setThreads(n: number): void;
  /** Returns the array's physical pages to the OS now; its contents become zeros. */
  release(values: Float32Array): void;
  /**
   * params: N,H,W,C,O,KH,KW,OH,OW, strideH,strideW, dilationH,dilationW, padTop,padBottom,padLeft,padRight, then
   * hasBias, relu (forward only: y = relu?(conv + bias)). packed: filter is conv2dPackFilter's result for the same
   * params, not HWIO.
   */
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    y: Float32Array,
    params: Int32Array,
    packed?: boolean,
    bias?: Float32Array,
  ): void;
  /** The HWIO filter in the forward primitive's own layout for params; null when that is HWIO. */
  conv2dPackFilter(filter: Float32Array, params: Int32Array): Float32Array | null;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, params: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, params: Int32Array): void;
  /** The algorithm of the plan for params and op (0 forward, 1 input gradient, 2 filter gradient). */
  conv2dAlgorithm(params: Int32Array, op: 0 | 1 | 2): 'winograd' | 'direct';
  /** Images per oneDNN call for params and op: the batch, or slices of it where Winograd would not fit whole. */
  conv2dSlice(params: Int32Array, op: 0 | 1 | 2): number;
  /** params: batchA,batchB,M,N,K,transposeA,transposeB,hasBias,relu */
  batchMatMul(a: Float32Array, b: Float32Array, c: Float32Array, params: Int32Array, bias?: Float32Array): void;
  /** params: N,H,W,C,OH,OW,KH,KW,strideH,strideW,padTop,padLeft */
  maxPool(x: Float32Array, y: Float32Array, params: Int32Array): void;
  /** dx must be zero-filled. */
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, params: Int32Array): void;
  lif(
    x: Float32Array,
    spikes: Float32Array,
    h: Float32Array | null,
    T: number,
    M: number,
    tau: number,
    vth: number,
  ): void;
  lifGrad(
    dy: Float32Array,
    h: Float32Array,
    /** null: recomputed from h (h >= vth, as the forward decided) */
    spikes: Float32Array | null,
    dx: Float32Array,
    T: number,
    M: number,
    tau: number,
    vth: number,
    surrogate: number,
    alpha: number,
  ): void;
  batchNormTrain(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    M: number,
    C: number,
    eps: number,
    /** Apply ReLU to y in the same pass. */
    relu?: boolean,
  ): void;
  transpose(x: Float32Array, y: Float32Array, shape: Int32Array, perm: Int32Array): void;
  /** op: 0 add, 1 sub, 2 mul, 3 div; numpy broadcasting of a and b to outShape. */
  binary(
    op: number,
    a: Float32Array,
    b: Float32Array,
    y: Float32Array,
    aShape: Int32Array,
    bShape: Int32Array,
    outShape: Int32Array,
  ): void;
  /** y[o, i] = sum over r of x[o, r, i] / divisor (divisor 1: a plain sum) */
  sumMiddle(x: Float32Array, y: Float32Array, outer: number, reduce: number, inner: number, divisor: number): void;
  /** op: 0 relu, 1 step (alpha), 2 sqrt, 3 neg, 4 square, 5 abs */
  unary(op: number, x: Float32Array, y: Float32Array, alpha: number): void;
  /** The event-driven kernels' density thresholds for this CPU's vector ISA (the table in cc/sparse.cc). */
  sparseThresholds(): { isa: string; matmul: number; matmulTA: number; conv: number; convFilter: number };
  /** Fraction of nonzero entries; estimated from `samples` evenly spaced entries when samples > 0. */
  density(a: Float32Array, samples: number): number;
  /** c[M, N] = a[M, K] b (+ bias[N]), adding rows of b for a's nonzeros; b is [K, N], or [N, K] when transposeB. */
  sparseMatMul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    M: number,
    K: number,
    N: number,
    transposeB: boolean,
    bias?: Float32Array,
  ): void;
  /** c[P, Q] = a^T b for a [R, P] dense and b [R, Q] mostly zeros. */
  sparseMatMulTA(a: Float32Array, b: Float32Array, c: Float32Array, R: number, P: number, Q: number): void;
  /** Eval-mode batch norm over the last axis (tfjs FusedBatchNorm); per-channel arrays of length C. */
  batchNormInfer(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array,
    scale: Float32Array,
    y: Float32Array,
    M: number,
    C: number,
    eps: number,
  ): void;
  /** Fused AdamW (kernels/adamw.ts); scalars: decay, beta1, 1-beta1, beta2, 1-beta2, bc2Sqrt, eps, stepSize. */
  adamw(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    p2: Float32Array,
    m2: Float32Array,
    v2: Float32Array,
    scalars: Float32Array,
  ): void;
  /** Event-driven conv2d for mostly-zero inputs; params as conv2d. */
  sparseConv2d(
    x: Float32Array,
    filter: Float32Array,
    y: Float32Array,
    params: Int32Array,
    bias?: Float32Array,
    relu?: boolean,
  ): void;
  sparseConv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, params: Int32Array): void;
  /** Spike storage (src/ops/spike_store): sampled kind (0 none, 1 bits, 2 bytes); packs return false when refused. */
  spikeKind(x: Float32Array, samples: number): number;
  spikePackBits(x: Float32Array, bits: Uint8Array): boolean;
  spikeUnpackBits(bits: Uint8Array, x: Float32Array): void;
  spikePackBytes(x: Float32Array, bytes: Uint8Array): boolean;
  spikeUnpackBytes(bytes: Uint8Array, x: Float32Array): void;
  /** Fused spiking attention (src/ops/spike_attention): params G, N, D, heads; out = scale * q (k^T v) per head. */
  spikeAttention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    y: Float32Array,
    params: Int32Array,
    scale: number,
  ): void;
  spikeAttentionGrad(
    dy: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    params: Int32Array,
    scale: number,
  ): void;
  batchNormGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    M: number,
    C: number,
    eps: number,
    /** The output of a forward with ReLU: dy goes through the ReLU's gradient first. */
    y?: Float32Array | null,
  ): void;
}

const ADDON = join('build', 'Release', 'geospike_native.node');
const FIX = 'install oneDNN with `apt-get install libdnnl-dev`, then run `npm run build`';

let cached: NativeAddon | undefined;

/** Loads the addon once; throws an error that says why it cannot load and how to fix it. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const path = join(packageRoot(), ADDON);
  if (!existsSync(path)) throw new Error(`the native addon is not built (${ADDON} is missing): ${FIX}`);
  // OpenMP's wait policy is libgomp's default (spin about 300,000 times between parallel regions, then sleep; spin
  // less when there are more threads than cores) unless the user sets OMP_WAIT_POLICY. Always sleeping at once
  // (passive) cost 15-20% on resnet18-w16's many small kernels (batch 32, 2 cores) and gained nothing measurable on
  // the large models.
  try {
    cached = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new Error(explainLoadFailure((err as Error).message));
  }
  return cached;
}

/** Turns the dynamic loader's message into why the addon cannot load and how to fix it. */
export function explainLoadFailure(message: string): string {
  const first = must(message.split('\n')[0], 'split gives at least one part');
  const why = /libdnnl/.test(first) ? 'oneDNN (libdnnl) is not installed' : `it failed to load (${first})`;
  return `the native addon cannot load: ${why}: ${FIX}`;
}
