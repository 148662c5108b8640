// geospike's own kernels in WGSL, registered for `webgpu` as src/engine/native registers its C++ ones for `native`;
// MaxPoolGrad replaces tfjs-backend-webgpu's (see its file).
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { adamwConfig } from './adamw.js';
import { bnGradConfig } from './batchnorm_grad.js';
import { bnTrainConfig } from './batchnorm_train.js';
import { lifConfig, lifSpikesConfig } from './lif.js';
import { lifGradConfig } from './lif_grad.js';
import { maxPoolGradConfig } from './max_pool_grad.js';

export const webgpuKernels: KernelConfig[] = [
  lifConfig,
  lifSpikesConfig,
  lifGradConfig,
  bnTrainConfig,
  bnGradConfig,
  adamwConfig,
  maxPoolGradConfig,
];
