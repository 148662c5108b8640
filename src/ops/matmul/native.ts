// BatchMatMul (what tfjs's matMul runs) and _FusedMatMul on oneDNN's matmul primitive, every transpose variant.
// Batches broadcast when equal or when one side has a single matrix (the common weight-sharing case).
import { _FusedMatMul, BatchMatMul, broadcast_util } from '@tensorflow/tfjs-core';
import type { BatchMatMulAttrs, _FusedMatMulAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { sparseEnough, sparseStats } from '../../engine/native/density.js';
import { sparseBelow } from '../sparse_thresholds/native.js';
import { addon, alloc, allFloat32, f32, fallback, NATIVE, out, size } from '../../engine/native/kernel_util.js';

interface Plan {
  /** The addon's parameters: bA, bB, M, N, K, then the transpose, bias and ReLU flags. */
  params: Int32Array;
  /** Matrices in A and in B (one of them 1 when it broadcasts), and the product's M x K x N. */
  dims: { bA: number; bB: number; M: number; N: number; K: number };
  outShape: number[];
}

function plan(
  a: TensorInfo,
  b: TensorInfo,
  tA: boolean,
  tB: boolean,
  bias: TensorInfo | null,
  relu: boolean,
): Plan | null {
  const ra = a.shape.length,
    rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const [a0, a1] = a.shape.slice(-2) as [number, number];
  const [b0, b1] = b.shape.slice(-2) as [number, number];
  const [M, K] = tA ? [a1, a0] : [a0, a1];
  const [Kb, N] = tB ? [b1, b0] : [b0, b1];
  if (K !== Kb) return null; // the JS kernel throws tfjs's own error message
  const bA = size(a.shape.slice(0, -2)),
    bB = size(b.shape.slice(0, -2));
  if (bA !== bB && bA !== 1 && bB !== 1) return null;
  if (M * N === 0 || K === 0) return null;
  if (bias && size(bias.shape) !== N) return null;
  const outer = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return {
    params: Int32Array.from([bA, bB, M, N, K, tA ? 1 : 0, tB ? 1 : 0, bias ? 1 : 0, relu ? 1 : 0]),
    dims: { bA, bB, M, N, K },
    outShape: [...outer, M, N],
  };
}

// Below a fraction of nonzeros in A (X W^T) or in X (a weight gradient dY^T X), adding rows for the nonzeros beats
// the dense product: the thresholds, per vector ISA, are in ../sparse_thresholds (see README, "Spike sparsity").
export { sparseStats };
const batchMatMul: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
  const p = allFloat32(a, b) ? plan(a, b, transposeA, transposeB, null, false) : null;
  if (!p) return fallback(BatchMatMul, args);
  const c = alloc(backend, size(p.outShape));
  const { bA, bB, M, N, K } = p.dims;
  const A = f32(backend, a),
    B = f32(backend, b);
  // A single product whose spike operand is mostly zeros runs event-driven: X W^T forward, dY^T X for the weights.
  if (bA === 1 && bB === 1 && !transposeA && sparseEnough(A, M * K * N, sparseBelow('matmul'))) {
    sparseStats.sparse++;
    addon().sparseMatMul(A, B, c, M, K, N, transposeB);
  } else if (bA === 1 && bB === 1 && transposeA && !transposeB && sparseEnough(B, M * K * N, sparseBelow('matmulTA'))) {
    sparseStats.sparse++;
    addon().sparseMatMulTA(A, B, c, K, M, N);
  } else {
    addon().batchMatMul(A, B, c, p.params);
  }
  return out(backend, p.outShape, c);
};

const fusedMatMul: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | null>;
  const { transposeA, transposeB, activation } = args.attrs as unknown as _FusedMatMulAttrs;
  const simple = !preluActivationWeights && (activation === 'linear' || activation === 'relu');
  const p =
    simple && allFloat32(a, b, bias) ? plan(a!, b!, transposeA, transposeB, bias ?? null, activation === 'relu') : null;
  if (!p) return fallback(_FusedMatMul, args);
  const c = alloc(backend, size(p.outShape));
  const { bA, bB, M, N, K } = p.dims;
  const A = f32(backend, a!),
    B = f32(backend, b!),
    Bias = bias ? f32(backend, bias) : undefined;
  // A linear layer (x W^T + bias) fed by spikes: event-driven, the bias added to each finished sum.
  const single = bA === 1 && bB === 1 && !transposeA && activation === 'linear';
  if (single && sparseEnough(A, M * K * N, sparseBelow('matmul'))) {
    sparseStats.sparse++;
    addon().sparseMatMul(A, B, c, M, K, N, transposeB, Bias);
  } else {
    addon().batchMatMul(A, B, c, p.params, Bias);
  }
  return out(backend, p.outShape, c);
};

export const matmulKernels: KernelConfig[] = [
  { kernelName: BatchMatMul, backendName: NATIVE, kernelFunc: batchMatMul },
  { kernelName: _FusedMatMul, backendName: NATIVE, kernelFunc: fusedMatMul },
];
