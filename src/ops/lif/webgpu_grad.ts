// GeospikeLIFGrad on webgpu: one thread per neuron walks the T steps backwards, the membrane gradient in a register
// (src/snn/lif.ts is the reference; it accumulates in double, this in float32). Surrogates by the ids and formulas of
// src/snn/surrogate.ts (SURROGATE_IDS). Without a spikes input they are recomputed from h (h >= v_th, as the forward
// shader decides, against the same float32 threshold).
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { LIF_GRAD, type LIFGradAttrs } from '../index.js';
import type { GeospikeWebGPUBackend } from '../../engine/webgpu/backend.js';
import { bindings, FLAT_INDEX, grid, pipeline } from '../../engine/webgpu/program.js';
import { timeSteps } from '../../snn/lif.js';
import { SURROGATE_IDS } from '../../snn/surrogate.js';
import { must } from '../../util/must.js';

const code = (withSpikes: boolean) => () =>
  `
struct U { T: u32, M: u32, k: f32, k1: f32, vth: f32, alpha: f32, kind: u32 }
${bindings(['dx'], withSpikes ? ['dy', 'h', 'spikes'] : ['dy', 'h'])}
${FLAT_INDEX}
  if (i >= u.M) { return; }
  var gv = 0.0;
  for (var r = 0u; r < u.T; r++) {
    let o = (u.T - 1u - r) * u.M + i;
    let z = h[o] - u.vth;
    var sg: f32;
    if (u.kind == ${SURROGATE_IDS.sigmoid}u) {
      let e = 1.0 / (1.0 + exp(-u.alpha * z));
      sg = u.alpha * e * (1.0 - e);
    } else { // ${SURROGATE_IDS.atan}u: atan
      let w = 1.5707963267948966 * u.alpha * z;
      sg = u.alpha / 2.0 / (1.0 + w * w);
    }
    // The reset is detached: only the (1 - s) path carries gradient from V_t back to V_{t-1}.
    let s = ${withSpikes ? 'spikes[o]' : 'select(0.0, 1.0, h[o] >= u.vth)'};
    let gh = dy[o] * sg + gv * (1.0 - s);
    dx[o] = gh * u.k;
    gv = gh * u.k1;
  }
}`;

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = backend as GeospikeWebGPUBackend;
  const { dy, h, spikes } = inputs as { dy: TensorInfo; h: TensorInfo; spikes?: TensorInfo };
  const a = attrs as unknown as LIFGradAttrs;
  const T = timeSteps(dy.shape);
  const M = dy.shape.reduce((p, q) => p * q, 1) / T;
  const k = 1 / a.tau;
  const [dx] = gpu.dispatch(
    LIF_GRAD,
    pipeline(gpu, spikes ? LIF_GRAD : `${LIF_GRAD}/h`, code(spikes !== undefined)),
    spikes ? [dy, h, spikes] : [dy, h],
    [{ shape: dy.shape, dtype: 'float32' }],
    grid(gpu, M),
    [
      { type: 'uint32', data: [T] },
      { type: 'uint32', data: [M] },
      { type: 'float32', data: [k] },
      { type: 'float32', data: [1 - k] },
      { type: 'float32', data: [a.vThreshold] },
      { type: 'float32', data: [a.alpha] },
      { type: 'uint32', data: [SURROGATE_IDS[a.surrogate]] },
    ],
  );
  return must(dx, 'one output was asked for');
};

export const lifGradConfig: KernelConfig = { kernelName: LIF_GRAD, backendName: 'webgpu', kernelFunc };
