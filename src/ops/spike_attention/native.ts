// The native backend's fused spiking attention (spike_attention.cc; contract and JS reference in cpu.ts).
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { addon, alloc, f32, NATIVE, out, size } from '../../engine/native/kernel_util.js';
import { attentionDims, SPIKE_ATTENTION, SPIKE_ATTENTION_GRAD, type SpikeAttentionAttrs } from './cpu.js';

function params(shape: number[], heads: number): Int32Array {
  const { G, N, D } = attentionDims(shape, heads);
  return Int32Array.from([G, N, D, heads]);
}

const forward: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { q, k, v } = inputs as { q: TensorInfo; k: TensorInfo; v: TensorInfo };
  const { heads, scale } = attrs as SpikeAttentionAttrs;
  const y = alloc(cpu, size(q.shape));
  addon().spikeAttention(f32(cpu, q), f32(cpu, k), f32(cpu, v), y, params(q.shape, heads), scale);
  return out(cpu, q.shape, y);
};

const grad: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { dy, q, k, v } = inputs as { dy: TensorInfo; q: TensorInfo; k: TensorInfo; v: TensorInfo };
  const { heads, scale } = attrs as SpikeAttentionAttrs;
  const n = size(q.shape);
  const [dq, dk, dv] = [alloc(cpu, n), alloc(cpu, n), alloc(cpu, n)];
  const val = (t: TensorInfo) => f32(cpu, t);
  addon().spikeAttentionGrad(val(dy), val(q), val(k), val(v), dq, dk, dv, params(q.shape, heads), scale);
  return [dq, dk, dv].map((g) => out(cpu, q.shape, g));
};

export const spikeAttentionKernels: KernelConfig[] = [
  { kernelName: SPIKE_ATTENTION, backendName: NATIVE, kernelFunc: forward },
  { kernelName: SPIKE_ATTENTION_GRAD, backendName: NATIVE, kernelFunc: grad },
];
