// GeospikeLIF (spikes and membrane) and GeospikeLIFSpikes (spikes only, for forwards without a gradient tape) on
// webgpu: one thread per neuron walks the T steps (src/snn/lif.ts is the reference).
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { LIF, LIF_SPIKES, type LIFAttrs } from '../index.js';
import { timeSteps } from '../../snn/lif.js';
import { must } from '../../util/must.js';
import type { GeospikeWebGPUBackend } from '../../engine/webgpu/backend.js';
import { bindings, FLAT_INDEX, grid, pipeline } from '../../engine/webgpu/program.js';

/** 1/tau when multiplying by it rounds exactly as dividing by tau does (tau a power of two), else 0: divide. */
export function exactReciprocal(tau: number): number {
  return Number.isFinite(tau) && tau > 0 && Math.log2(tau) === Math.round(Math.log2(tau)) ? 1 / tau : 0;
}

/** The shader; with withH it also writes the membrane h (which the backward pass reads). */
const code = (withH: boolean) => () =>
  `
struct U { T: u32, M: u32, tau: f32, vth: f32, inv: f32 }
${bindings(withH ? ['spikes', 'h'] : ['spikes'], ['x'])}
${FLAT_INDEX}
  if (i >= u.M) { return; }
  var v = 0.0;
  for (var t = 0u; t < u.T; t++) {
    let o = t * u.M + i;
    let d = x[o] - v;
    // h = V + (x - V)/tau, rounded as float32 PyTorch rounds it, so spike decisions at ties agree.
    let hi = v + select(d / u.tau, d * u.inv, u.inv != 0.0);
    let s = hi >= u.vth;
    ${withH ? 'h[o] = hi;' : ''}
    spikes[o] = select(0.0, 1.0, s);
    v = select(hi, 0.0, s);
  }
}`;

const forward =
  (name: string, withH: boolean): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const gpu = backend as GeospikeWebGPUBackend;
    const { x } = inputs as { x: TensorInfo };
    const { tau, vThreshold } = attrs as unknown as LIFAttrs;
    const T = timeSteps(x.shape);
    const M = x.shape.reduce((a, b) => a * b, 1) / T;
    const outputs = Array.from({ length: withH ? 2 : 1 }, () => ({ shape: x.shape, dtype: 'float32' as const }));
    const outs = gpu.dispatch(name, pipeline(gpu, name, code(withH)), [x], outputs, grid(gpu, M), [
      { type: 'uint32', data: [T] },
      { type: 'uint32', data: [M] },
      { type: 'float32', data: [tau] },
      { type: 'float32', data: [vThreshold] },
      { type: 'float32', data: [exactReciprocal(tau)] },
    ]);
    return withH ? outs : must(outs[0], 'one output was asked for');
  };

export const lifConfig: KernelConfig = { kernelName: LIF, backendName: 'webgpu', kernelFunc: forward(LIF, true) };
export const lifSpikesConfig: KernelConfig = {
  kernelName: LIF_SPIKES,
  backendName: 'webgpu',
  kernelFunc: forward(LIF_SPIKES, false),
};
