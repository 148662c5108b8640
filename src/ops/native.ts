// The native backend's kernel table: every tfjs kernel it replaces with C++ over oneDNN (see engine/native/backend.ts,
// which registers them). A new op adds its folder under src/ops and one line here.
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { adamwKernels } from './adamw/native.js';
import { convKernels } from './conv2d/native.js';
import { elementwiseKernels } from './elementwise/native.js';
import { matmulKernels } from './matmul/native.js';
import { poolKernels } from './max_pool/native.js';
import { lifKernels } from './lif/native.js';
import { batchNormKernels } from './batchnorm/native.js';
import { spikeAttentionKernels } from './spike_attention/native.js';

/** Every kernel the native backend replaces. */
export const nativeKernels: KernelConfig[] = [
  ...convKernels,
  ...matmulKernels,
  ...poolKernels,
  ...lifKernels,
  ...batchNormKernels,
  ...elementwiseKernels,
  ...adamwKernels,
  ...spikeAttentionKernels,
];
