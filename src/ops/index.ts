// geospike's own kernels (fused multi-step LIF, train-mode BatchNorm, fused AdamW, fused spiking attention): their JS
// reference versions, registered for the `cpu` backend on import. Faster backends register their own implementations of
// the same names.
import { registerKernel } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { lifKernels } from './lif/cpu.js';
import { batchNormKernels } from './batchnorm/cpu.js';
import { adamwKernels } from './adamw/cpu.js';
import { spikeAttentionKernels } from './spike_attention/cpu.js';

for (const config of [...lifKernels, ...batchNormKernels, ...adamwKernels, ...spikeAttentionKernels])
  registerKernel(config);

export { LIF, LIF_GRAD, LIF_SPIKES, type LIFAttrs, type LIFGradAttrs } from '../snn/lif.js';
export {
  BN_TRAIN,
  BN_GRAD,
  BN_RELU_TRAIN,
  BN_RELU_GRAD,
  BN_RUNNING_STATS,
  type BNAttrs,
  type BNRunningStatsAttrs,
  type BNGradInputs,
  type BNTrainInputs,
} from './batchnorm/cpu.js';
export { ADAMW, adamwUpdate, type AdamWAttrs, type AdamWInputs } from './adamw/cpu.js';
