// GeospikeBatchNormTrain on webgpu over the channels-last [M, C] view (src/ops/batchnorm/cpu.ts is the
// reference): one workgroup per channel computes the batch mean, then the biased variance around it (two passes
// over the channel, as the reference, for accuracy), then an element-wise pass normalises.
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { BN_TRAIN, type BNAttrs, type BNTrainInputs } from '../index.js';
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

const statsCode = () => `
struct U { M: u32, C: u32 }
${bindings(['mean', 'variance'], ['x'])}
${PARTIALS}
@compute @workgroup_size(${RWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  var s = 0.0;
  for (var m = lid; m < u.M; m += ${RWG}u) { s += x[m * u.C + c]; }
  part[lid] = s;
  ${TREE_SUM}
  let mu = part[0] / f32(u.M);
  workgroupBarrier();
  var q = 0.0;
  for (var m = lid; m < u.M; m += ${RWG}u) {
    let d = x[m * u.C + c] - mu;
    q += d * d;
  }
  part[lid] = q;
  ${TREE_SUM}
  if (lid == 0u) {
    mean[c] = mu;
    variance[c] = part[0] / f32(u.M);
  }
}`;

const normCode = () => `
struct U { n: u32, C: u32, eps: f32 }
${bindings(['y'], ['x', 'gamma', 'beta', 'mean', 'variance'])}
${FLAT_INDEX}
  if (i >= u.n) { return; }
  let c = i % u.C;
  y[i] = (x[i] - mean[c]) * (gamma[c] / sqrt(variance[c] + u.eps)) + beta[c];
}`;

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = backend as GeospikeWebGPUBackend;
  const { x, gamma, beta } = inputs as BNTrainInputs;
  const { M, C } = channelsLast(x.shape, must(gamma.shape[0], 'gamma is [C]'));
  const stat = { shape: gamma.shape, dtype: 'float32' as const };
  const [mean, variance] = gpu.dispatch(
    `${BN_TRAIN}.stats`,
    pipeline(gpu, `${BN_TRAIN}.stats`, statsCode),
    [x],
    [stat, stat],
    [C, 1, 1],
    [
      { type: 'uint32', data: [M] },
      { type: 'uint32', data: [C] },
    ],
  );
  const [y] = gpu.dispatch(
    `${BN_TRAIN}.normalize`,
    pipeline(gpu, `${BN_TRAIN}.normalize`, normCode),
    [x, gamma, beta, mean, variance],
    [{ shape: x.shape, dtype: 'float32' }],
    grid(gpu, M * C),
    [
      { type: 'uint32', data: [M * C] },
      { type: 'uint32', data: [C] },
      { type: 'float32', data: [(attrs as unknown as BNAttrs).eps] },
    ],
  );
  return [y, mean, variance];
};

export const bnTrainConfig: KernelConfig = { kernelName: BN_TRAIN, backendName: 'webgpu', kernelFunc };
