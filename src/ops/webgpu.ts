// geospike's own kernels in WGSL, registered for `webgpu` as src/engine/native registers its C++ ones for `native`;
// MaxPoolGrad replaces tfjs-backend-webgpu's (see its file).
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { adamwConfig } from './adamw/webgpu.js';
import { bnGradConfig } from './batchnorm/webgpu_grad.js';
import { bnTrainConfig } from './batchnorm/webgpu_train.js';
import { lifConfig, lifSpikesConfig } from './lif/webgpu.js';
import { lifGradConfig } from './lif/webgpu_grad.js';
import { maxPoolGradConfig } from './max_pool/webgpu_grad.js';

export const webgpuKernels: KernelConfig[] = [
  lifConfig,
  lifSpikesConfig,
  lifGradConfig,
  bnTrainConfig,
  bnGradConfig,
  adamwConfig,
  maxPoolGradConfig,
];
