// geospike's own kernels (fused multi-step LIF, train-mode BatchNorm), registered for the reference `cpu` backend on
// import. Faster backends register their own implementations of the same kernel names.
import { registerKernel } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { lifKernelConfigs } from './lif.js';
import { batchNormKernelConfigs } from './batchnorm.js';

for (const config of [...lifKernelConfigs('cpu'), ...batchNormKernelConfigs('cpu')]) registerKernel(config);

export { LIF, LIF_GRAD, type LIFAttrs, type LIFGradAttrs } from './lif.js';
export { BN_TRAIN, BN_GRAD, type BNAttrs } from './batchnorm.js';
