// GeospikeBatchNormGrad on webgpu (src/ops/batchnorm/cpu.ts is the reference): one workgroup per channel
// sums dy and dy * xhat (the beta and gamma gradients), then an element-wise pass forms dx from them.
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { BN_GRAD, type BNAttrs, type BNGradInputs } from '../index.js';
import { must } from '../../util/must.js';
import type { GeospikeWebGPUBackend } from '../../engine/webgpu/backend.js';
import {
  bindings,
  channelsLast,
  FLAT_INDEX,
  grid,
  PARTIALS,
  pipeline,
  RWG,
  TREE_SUM,
} from '../../engine/webgpu/program.js';

const sumsCode = () => `
struct U { M: u32, C: u32, eps: f32 }
${bindings(['dgamma', 'dbeta'], ['dy', 'x', 'mean', 'variance'])}
${PARTIALS}
@compute @workgroup_size(${RWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let mu = mean[c];
  let inv = 1.0 / sqrt(variance[c] + u.eps);
  var s = 0.0;
  var sx = 0.0;
  for (var m = lid; m < u.M; m += ${RWG}u) {
    let g = dy[m * u.C + c];
    s += g;
    sx += g * (x[m * u.C + c] - mu) * inv;
  }
  part[lid] = s;
  ${TREE_SUM}
  let total = part[0];
  workgroupBarrier();
  part[lid] = sx;
  ${TREE_SUM}
  if (lid == 0u) {
    dbeta[c] = total;
    dgamma[c] = part[0];
  }
}`;

const dxCode = () => `
struct U { n: u32, C: u32, M: f32, eps: f32 }
${bindings(['dx'], ['dy', 'x', 'gamma', 'mean', 'variance', 'dgamma', 'dbeta'])}
${FLAT_INDEX}
  if (i >= u.n) { return; }
  let c = i % u.C;
  let inv = 1.0 / sqrt(variance[c] + u.eps);
  let xhat = (x[i] - mean[c]) * inv;
  dx[i] = (gamma[c] * inv / u.M) * (u.M * dy[i] - dbeta[c] - xhat * dgamma[c]);
}`;

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = backend as GeospikeWebGPUBackend;
  const { dy, x, gamma, mean, variance } = inputs as BNGradInputs;
  const { M, C } = channelsLast(x.shape, must(gamma.shape[0], 'gamma is [C]'));
  const eps = (attrs as unknown as BNAttrs).eps;
  const stat = { shape: gamma.shape, dtype: 'float32' as const };
  const [dgamma, dbeta] = gpu.dispatch(
    `${BN_GRAD}.sums`,
    pipeline(gpu, `${BN_GRAD}.sums`, sumsCode),
    [dy, x, mean, variance],
    [stat, stat],
    [C, 1, 1],
    [
      { type: 'uint32', data: [M] },
      { type: 'uint32', data: [C] },
      { type: 'float32', data: [eps] },
    ],
  );
  const [dx] = gpu.dispatch(
    `${BN_GRAD}.dx`,
    pipeline(gpu, `${BN_GRAD}.dx`, dxCode),
    [dy, x, gamma, mean, variance, dgamma, dbeta],
    [{ shape: x.shape, dtype: 'float32' }],
    grid(gpu, M * C),
    [
      { type: 'uint32', data: [M * C] },
      { type: 'uint32', data: [C] },
      { type: 'float32', data: [M] },
      { type: 'float32', data: [eps] },
    ],
  );
  return [dx, dgamma, dbeta];
};

export const bnGradConfig: KernelConfig = { kernelName: BN_GRAD, backendName: 'webgpu', kernelFunc };
