// The `webgpu` backend's loader for src/engine/backend.ts. Dawn and tfjs-backend-webgpu are imported only when the
// backend is asked for, so CPU-only runs never load them.
import * as tf from '@tensorflow/tfjs-core';

/** tfjs-backend-webgpu's flag: below how many 32x32 output tiles a product is split over K (see register). */
export const DETERMINISTIC_FLAG = 'WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL';

let registered: Promise<{ software: boolean; label: string }> | undefined;

async function register(hardwareOnly: boolean): Promise<{ software: boolean; label: string }> {
  // tfjs-backend-webgpu first: on import it registers its own factory when navigator.gpu exists, which
  // acquireDevice provides; ours (below) must be the only one.
  const { GeospikeWebGPUBackend, WEBGPU } = await import('./backend.js');
  const { acquireDevice } = await import('./device.js');
  const acquired = await acquireDevice(hardwareOnly);
  const { webgpuKernels } = await import('../../ops/webgpu.js');
  for (const k of webgpuKernels) {
    if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName); // replacing tfjs's
    tf.registerKernel(k);
  }
  // Deterministic sums, so `--resume` reproduces a straight run byte for byte: for a matmul or conv with a small
  // output, tfjs splits K across workgroups and adds the parts with float atomics (MatMulSplitKProgram), whose order
  // a GPU does not fix. A threshold under one workgroup keeps every product on the tiled programs, where each output
  // sums its K in order (test/engine/webgpu-determinism.test.ts).
  tf.env().set(DETERMINISTIC_FLAG, 1e-9);
  // Built here, not in tfjs's factory, so a failure reaches the caller with its reason (tfjs would swallow it).
  const backend = new GeospikeWebGPUBackend(acquired);
  // Priority below cpu's: tfjs must never pick this on its own; geospike's initEngine chooses explicitly.
  tf.registerBackend(WEBGPU, () => backend, 0);
  return acquired;
}

/**
 * Registers the webgpu backend on the first adapter found and returns its name; throws saying why when none can be had.
 * `auto` (hardwareOnly) accepts a hardware adapter only: a software one (llvmpipe) is slower than the CPU backends.
 */
export async function loadWebGPUBackend(hardwareOnly = false): Promise<string> {
  if (!registered) {
    registered = register(hardwareOnly);
    registered.catch(() => {
      registered = undefined;
    });
  }
  const { software, label } = await registered;
  if (hardwareOnly && software)
    throw new Error(`only a software adapter (${label}); auto uses webgpu on a hardware GPU only`);
  return 'webgpu';
}
