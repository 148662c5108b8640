// The `native` tfjs backend: the pure-JS cpu backend (same tensor storage, every kernel) with the hot kernels
// replaced by C++ ones over oneDNN. Anything the native kernels do not cover runs the JS kernel unchanged.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendValues, DataId, KernelFunc, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import '../../ops/index.js'; // geospike's own cpu kernels must be registered before they are copied below
import { loadAddon } from './addon.js';
import { BufferPool } from './pool.js';
import { freeGradientsEarly } from './free_grads.js';
import { NATIVE } from './kernel_util.js';
import { nativeKernels } from '../../ops/native.js';

/**
 * Idle memory the output pool keeps resident, as a fraction of its busiest moment (see pool.ts). At 1 a step's
 * arrays are all reused by the next (resnet18 train 1.36 -> 1.16 CPU-s with the fused AdamW). Peak memory against
 * 0.5: spikformer-4-384 unchanged (9.05 GB), resnet18 1.08 -> 1.10 GB with the fused AdamW, 1.03 -> 1.22 GB with
 * AdamW as separate ops (their temporaries stay pooled). 2 since the models free activations at their last use: an
 * inference batch then uses about twice its busiest moment in distinct arrays, and at 1 the excess was faulted in
 * again every batch (spikformer-2-128 infer +10% CPU).
 */
const POOL_FRACTION = 2;

export class NativeBackend extends MathBackendCPU {
  readonly pool = new BufferPool((values) => loadAddon().release(values), POOL_FRACTION);

  override readSync(dataId: DataId): BackendValues {
    const values = super.readSync(dataId);
    this.pool.escape(values); // the caller may keep it (dataSync hands out the array itself)
    return values;
  }

  /** The values without marking them escaped: for a read that keeps nothing (src/engine/peek.ts). */
  peekSync(dataId: DataId): BackendValues {
    return super.readSync(dataId);
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const released = super.disposeData(dataId, force);
    if (released && values && !this.data.has(dataId)) this.pool.give(values);
    return released;
  }

  /**
   * A JS kernel's output that holds a pooled array under a new dataId (a view, an alias) makes that array unsafe to
   * reuse. Handing back an input's own dataId (Reshape, Identity) is fine: tfjs counts those references.
   */
  markAliases(result: TensorInfo | TensorInfo[], inputs: NamedTensorInfoMap): void {
    const ids = new Set(Object.values(inputs).map((t) => t?.dataId));
    for (const t of Array.isArray(result) ? result : [result]) {
      if (!ids.has(t.dataId)) this.pool.escape(this.data.get(t.dataId)?.values);
    }
  }
}

/** A copied JS kernel, watched for outputs that alias pooled arrays. */
function watched(f: KernelFunc): KernelFunc {
  return (args) => {
    const result = f(args);
    if (args.backend instanceof NativeBackend)
      args.backend.markAliases(result as TensorInfo | TensorInfo[], args.inputs);
    return result;
  };
}

let registered = false;

/** Loads the addon (throws saying why it cannot) and registers the backend and its kernels with tfjs, once. */
export function registerNativeBackend(): void {
  if (registered) return;
  loadAddon();
  const own = new Set(nativeKernels.map((k) => k.kernelName));
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (!own.has(k.kernelName)) tf.registerKernel({ ...k, backendName: NATIVE, kernelFunc: watched(k.kernelFunc) });
  }
  for (const k of nativeKernels) tf.registerKernel(k);
  // Priority below cpu's: tfjs must never pick this on its own; geospike's initEngine chooses explicitly.
  tf.registerBackend(NATIVE, () => new NativeBackend(), 0);
  freeGradientsEarly();
  registered = true;
}
