// The `native` tfjs backend: the pure-JS cpu backend (same tensor storage, every kernel) with the hot kernels
// replaced by C++ ones over oneDNN. Anything the native kernels do not cover runs the JS kernel unchanged.
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import '../kernels/index.js'; // geospike's own cpu kernels must be registered before they are copied below
import { loadAddon } from './addon.js';
import { convKernels } from './kernels/conv.js';
import { elementwiseKernels } from './kernels/elementwise.js';
import { matmulKernels } from './kernels/matmul.js';
import { poolKernels } from './kernels/pool.js';
import { snnKernels } from './kernels/snn.js';
import { NATIVE } from './kernels/util.js';

export class NativeBackend extends MathBackendCPU {}

/** Every kernel the native backend replaces. */
export const nativeKernels: tf.KernelConfig[] = [
  ...convKernels, ...matmulKernels, ...poolKernels, ...snnKernels, ...elementwiseKernels,
];

let registered = false;

/** Loads the addon (throws saying why it cannot) and registers the backend and its kernels with tfjs, once. */
export function registerNativeBackend(): void {
  if (registered) return;
  loadAddon();
  const own = new Set(nativeKernels.map((k) => k.kernelName));
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (!own.has(k.kernelName)) tf.registerKernel({ ...k, backendName: NATIVE });
  }
  for (const k of nativeKernels) tf.registerKernel(k);
  // Priority below cpu's: tfjs must never pick this on its own; geospike's initEngine chooses explicitly.
  tf.registerBackend(NATIVE, () => new NativeBackend(), 0);
  registered = true;
}
