// Spiking self-attention as one kernel: out = scale * (q k^T) v per head, computed as scale * q (k^T v). q, k and v
// are spikes (0/1), so q k^T and k^T v hold small integers, exact in float: the product is the same bit for bit in
// either order, and k^T v ([dh, dh] per head) is far less work than q k^T ([N, N]) and never has to be stored.
// This file holds the kernel contract and its JS reference (the `cpu` backend's kernels).
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { cpuValues } from '../../engine/cpu_values.js';

/** Forward: q, k, v [G, N, D] (G = T*B, D = heads * dh) -> out [G, N, D]. */
export const SPIKE_ATTENTION = 'GeospikeSpikeAttention';
/** Backward: dy, q, k, v [G, N, D] -> dq, dk, dv. */
export const SPIKE_ATTENTION_GRAD = 'GeospikeSpikeAttentionGrad';

export interface SpikeAttentionAttrs extends NamedAttrMap {
  heads: number;
  scale: number;
}

/** The geometry of [G, N, D] inputs split into `heads` heads. */
export function attentionDims(shape: number[], heads: number): { G: number; N: number; D: number; dh: number } {
  if (shape.length !== 3) throw new Error(`spike attention takes [G, N, D] inputs, got shape [${shape}]`);
  const [G, N, D] = shape as [number, number, number];
  if (!(heads > 0) || D % heads !== 0) throw new Error(`spike attention: D ${D} must divide by heads ${heads}`);
  return { G, N, D, dh: D / heads };
}

/** k^T v of one head: kv[a * dh + b] = sum over tokens j of k[j, a] v[j, b], in double. */
function keyValue(k: Float32Array, v: Float32Array, base: number, N: number, D: number, dh: number): Float64Array {
  const kv = new Float64Array(dh * dh);
  for (let j = 0; j < N; j++) {
    const row = base + j * D;
    for (let a = 0; a < dh; a++) {
      const ka = k[row + a]!;
      if (ka === 0) continue;
      for (let b = 0; b < dh; b++) kv[a * dh + b]! += ka * v[row + b]!;
    }
  }
  return kv;
}

/** Reference forward. */
export function spikeAttentionForward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  shape: number[],
  { heads, scale }: SpikeAttentionAttrs,
): Float32Array {
  const { G, N, D, dh } = attentionDims(shape, heads);
  const out = new Float32Array(q.length);
  for (let g = 0; g < G; g++) {
    for (let hd = 0; hd < heads; hd++) {
      const base = g * N * D + hd * dh;
      const kv = keyValue(k, v, base, N, D, dh);
      for (let i = 0; i < N; i++) {
        const row = base + i * D;
        for (let b = 0; b < dh; b++) {
          let s = 0;
          for (let a = 0; a < dh; a++) s += q[row + a]! * kv[a * dh + b]!;
          out[row + b] = scale * s;
        }
      }
    }
  }
  return out;
}

/**
 * Reference backward, with kv = k^T v and dKV = scale q^T dy: dq = scale dy kv^T, dk = v dKV^T, dv = k dKV.
 */
export function spikeAttentionBackward(
  dy: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  shape: number[],
  { heads, scale }: SpikeAttentionAttrs,
): [Float32Array, Float32Array, Float32Array] {
  const { G, N, D, dh } = attentionDims(shape, heads);
  const dq = new Float32Array(q.length),
    dk = new Float32Array(q.length),
    dv = new Float32Array(q.length);
  for (let g = 0; g < G; g++) {
    for (let hd = 0; hd < heads; hd++) {
      const base = g * N * D + hd * dh;
      const kv = keyValue(k, v, base, N, D, dh);
      const dkv = new Float64Array(dh * dh);
      for (let i = 0; i < N; i++) {
        const row = base + i * D;
        for (let a = 0; a < dh; a++) {
          let s = 0;
          for (let b = 0; b < dh; b++) s += dy[row + b]! * kv[a * dh + b]!;
          dq[row + a] = scale * s;
          const qa = q[row + a]!;
          if (qa !== 0) for (let b = 0; b < dh; b++) dkv[a * dh + b]! += scale * qa * dy[row + b]!;
        }
      }
      for (let j = 0; j < N; j++) {
        const row = base + j * D;
        for (let a = 0; a < dh; a++) {
          let sk = 0,
            sv = 0;
          for (let b = 0; b < dh; b++) {
            sk += v[row + b]! * dkv[a * dh + b]!;
            sv += k[row + b]! * dkv[b * dh + a]!;
          }
          dk[row + a] = sk;
          dv[row + a] = sv;
        }
      }
    }
  }
  return [dq, dk, dv];
}

const forwardKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { q, k, v } = inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo };
  const val = (t: TensorInfo) => cpuValues(cpu, t);
  const out = spikeAttentionForward(val(q), val(k), val(v), q.shape, attrs as SpikeAttentionAttrs);
  return cpu.makeTensorInfo(q.shape, 'float32', out);
};

const gradKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { dy, q, k, v } = inputs as { dy: TensorInfo; q: TensorInfo; k: TensorInfo; v: TensorInfo };
  const val = (t: TensorInfo) => cpuValues(cpu, t);
  const grads = spikeAttentionBackward(val(dy), val(q), val(k), val(v), q.shape, attrs as SpikeAttentionAttrs);
  return grads.map((g) => cpu.makeTensorInfo(q.shape, 'float32', g));
};

export const spikeAttentionKernels: KernelConfig[] = [
  { kernelName: SPIKE_ATTENTION, backendName: 'cpu', kernelFunc: forwardKernel },
  { kernelName: SPIKE_ATTENTION_GRAD, backendName: 'cpu', kernelFunc: gradKernel },
];
