// GeospikeAdamW on webgpu: one element-wise pass writes the parameter and both moments (src/ops/adamw/
// native.ts holds the formula and the JS reference; WGSL's sqrt and division are within 2.5 ulp, not correctly
// rounded, so results agree with it closely but not bit for bit).
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { ADAMW, type AdamWAttrs, type AdamWInputs } from '../index.js';
import type { GeospikeWebGPUBackend } from '../../engine/webgpu/backend.js';
import { bindings, FLAT_INDEX, grid, pipeline } from '../../engine/webgpu/program.js';

const code = () => `
struct U { n: u32, decay: f32, b1: f32, c1: f32, b2: f32, c2: f32, bc: f32, eps: f32, step: f32 }
${bindings(['p2', 'm2', 'v2'], ['p', 'g', 'm', 'v'])}
${FLAT_INDEX}
  if (i >= u.n) { return; }
  let gi = g[i];
  let mi = m[i] * u.b1 + gi * u.c1;
  let vi = v[i] * u.b2 + (gi * gi) * u.c2;
  p2[i] = p[i] * u.decay - (mi / (sqrt(vi) / u.bc + u.eps)) * u.step;
  m2[i] = mi;
  v2[i] = vi;
}`;

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = backend as GeospikeWebGPUBackend;
  const { param, grad, m, v } = inputs as AdamWInputs;
  const a = attrs as unknown as AdamWAttrs;
  const n = param.shape.reduce((x, y) => x * y, 1);
  const out = { shape: param.shape, dtype: 'float32' as const };
  const f = (x: number) => ({ type: 'float32' as const, data: [x] });
  return gpu.dispatch(ADAMW, pipeline(gpu, ADAMW, code), [param, grad, m, v], [out, out, out], grid(gpu, n), [
    { type: 'uint32', data: [n] },
    f(a.decay),
    f(a.beta1),
    f(1 - a.beta1),
    f(a.beta2),
    f(1 - a.beta2),
    f(a.bc2Sqrt),
    f(a.eps),
    f(a.stepSize),
  ]);
};

export const adamwConfig: KernelConfig = { kernelName: ADAMW, backendName: 'webgpu', kernelFunc };
