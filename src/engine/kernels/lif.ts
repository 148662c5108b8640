// Multi-step LIF as two kernels (forward, backward), one pass over time each. This JS version is the reference that
// every faster backend must match; semantics as SpikingJelly's MultiStepLIFNode(decay_input, hard reset to 0, detach_reset).
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { surrogateGrad, type SurrogateName } from '../../snn/surrogate.js';

export const LIF = 'GeospikeLIF';
export const LIF_GRAD = 'GeospikeLIFGrad';

export interface LIFAttrs extends NamedAttrMap {
  tau: number;
  vThreshold: number;
}
export interface LIFGradAttrs extends LIFAttrs {
  surrogate: SurrogateName;
  alpha: number;
}

/** x [T, M] -> spikes, h (membrane before firing). V starts at 0; h = V + (x - V)/tau; s = h >= vth; V = h (1 - s). */
export function lifForward(x: Float32Array, T: number, tau: number, vth: number): { spikes: Float32Array; h: Float32Array } {
  const M = x.length / T;
  const spikes = new Float32Array(x.length);
  const h = new Float32Array(x.length);
  const v = new Float32Array(M);
  for (let t = 0; t < T; t++) {
    const o = t * M;
    for (let i = 0; i < M; i++) {
      // Float32 rounding after each op keeps spike decisions identical to float32 PyTorch at ties.
      const hi = Math.fround(v[i] + Math.fround(Math.fround(x[o + i] - v[i]) / tau));
      const s = hi >= vth ? 1 : 0;
      h[o + i] = hi;
      spikes[o + i] = s;
      v[i] = s ? 0 : hi;
    }
  }
  return { spikes, h };
}

/** Backward through time with the reset detached: only the (1 - s) path carries gradient from V_t to V_{t-1}. */
export function lifBackward(
  dy: Float32Array, h: Float32Array, spikes: Float32Array, T: number, a: LIFGradAttrs,
): Float32Array {
  const M = dy.length / T;
  const dx = new Float32Array(dy.length);
  const gv = new Float64Array(M);
  const sg = { name: a.surrogate, alpha: a.alpha };
  const k = 1 / a.tau;
  for (let t = T - 1; t >= 0; t--) {
    const o = t * M;
    for (let i = 0; i < M; i++) {
      const gh = dy[o + i] * surrogateGrad(sg, h[o + i] - a.vThreshold) + gv[i] * (1 - spikes[o + i]);
      dx[o + i] = gh * k;
      gv[i] = gh * (1 - k);
    }
  }
  return dx;
}

function values(backend: MathBackendCPU, t: TensorInfo): Float32Array {
  return backend.data.get(t.dataId).values as Float32Array;
}

const lifKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { x } = inputs as { x: TensorInfo };
  const { tau, vThreshold } = attrs as unknown as LIFAttrs;
  const { spikes, h } = lifForward(values(cpu, x), x.shape[0], tau, vThreshold);
  return [cpu.makeTensorInfo(x.shape, 'float32', spikes), cpu.makeTensorInfo(x.shape, 'float32', h)];
};

const lifGradKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { dy, h, spikes } = inputs as { dy: TensorInfo; h: TensorInfo; spikes: TensorInfo };
  const dx = lifBackward(values(cpu, dy), values(cpu, h), values(cpu, spikes), dy.shape[0], attrs as unknown as LIFGradAttrs);
  return cpu.makeTensorInfo(dy.shape, 'float32', dx);
};

export function lifKernelConfigs(backendName: string): KernelConfig[] {
  return [
    { kernelName: LIF, backendName, kernelFunc: lifKernel },
    { kernelName: LIF_GRAD, backendName, kernelFunc: lifGradKernel },
  ];
}
