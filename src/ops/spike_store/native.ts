// The tensors a training step saves for its backward pass, kept compact when they are spikes: a 0/1 map as bits
// (32x smaller than float32), a map of small whole counts (the residual stream, a sum of spike maps) as bytes (4x).
// engine/native/free_grads.ts packs each saved tensor when its tape node is recorded and drops its float reference,
// so the float map is freed once the forward pass is done with it; the gradient gets the float values back, bit for
// bit, just before it runs. Native backend only; GEOSPIKE_SPIKE_STORE=0 (or GEOSPIKE_SPIKE_KERNELS=0) turns it off.
import * as tf from '@tensorflow/tfjs-core';
import type { DataId } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { spikeStoreEnabled } from '../spike_kernels.js';
import { addon, alloc, f32, NATIVE } from '../../engine/native/kernel_util.js';

/** A saved tensor's values, packed. */
export interface Packed {
  kind: 'bits' | 'bytes';
  data: Uint8Array;
  /** Elements. */
  n: number;
  /** Gradients yet to read it (each packSpikes call is one); they share one unpacked copy while any is pending. */
  users: number;
  unpacked?: tf.Tensor;
}

/** Smaller saved tensors are not worth a pass (and the pool hands them out from V8's heap anyway). */
const MIN_PACKED = 1 << 16;
/** Entries sampled to rule a tensor out before a full pass (an activation is almost never whole numbers). */
const SAMPLES = 4096;

/** What packing has done: tensors, bytes and milliseconds (packing and unpacking), for the tests and reports. */
export const spikeStoreStats = { packed: 0, floatBytes: 0, packedBytes: 0, unpacked: 0, ms: 0 };

/** Per data buffer, its packed copy (tensors that share a buffer, e.g. a reshape, share it), or 'no'. */
const byData = new WeakMap<DataId, Packed | 'no'>();

/** The packed values of t when it is a spike or count map on the native backend, else null. */
export function packSpikes(t: tf.Tensor): Packed | null {
  if (t.dtype !== 'float32' || t.size < MIN_PACKED || tf.getBackend() !== NATIVE || !spikeStoreEnabled()) return null;
  const seen = byData.get(t.dataId);
  if (seen === 'no') return null;
  if (seen) {
    seen.users++;
    return seen;
  }
  const t0 = performance.now();
  const x = f32(tf.backend() as MathBackendCPU, t);
  const ad = addon();
  let packed: Packed | null = null;
  const kind = ad.spikeKind(x, SAMPLES);
  if (kind === 1) {
    const bits = new Uint8Array(Math.ceil(x.length / 8));
    if (ad.spikePackBits(x, bits)) packed = { kind: 'bits', data: bits, n: x.length, users: 1 };
  }
  if (!packed && kind !== 0) {
    const bytes = new Uint8Array(x.length);
    if (ad.spikePackBytes(x, bytes)) packed = { kind: 'bytes', data: bytes, n: x.length, users: 1 };
  }
  byData.set(t.dataId, packed ?? 'no');
  spikeStoreStats.ms += performance.now() - t0;
  if (packed) {
    spikeStoreStats.packed++;
    spikeStoreStats.floatBytes += 4 * packed.n;
    spikeStoreStats.packedBytes += packed.data.byteLength;
  }
  return packed;
}

/**
 * The float32 tensor of shape `shape` that p was packed from, for one of its users, who must dispose it. The values
 * are unpacked once while users remain (the q, k and v layers all read the same stream), then shared.
 */
export function unpackSpikes(p: Packed, shape: number[]): tf.Tensor {
  if (!p.unpacked || p.unpacked.isDisposed) {
    const t0 = performance.now();
    const backend = tf.backend() as MathBackendCPU;
    const values = alloc(backend, p.n);
    if (p.kind === 'bits') addon().spikeUnpackBits(p.data, values);
    else addon().spikeUnpackBytes(p.data, values);
    spikeStoreStats.unpacked++;
    spikeStoreStats.ms += performance.now() - t0;
    // Not kept: should a user never come (its gradient off the path), the backward pass's scope frees it.
    p.unpacked = tf.engine().makeTensorFromTensorInfo(backend.makeTensorInfo([p.n], 'float32', values));
  }
  const mine = tf.reshape(p.unpacked, shape);
  if (--p.users <= 0) {
    p.unpacked.dispose();
    p.unpacked = undefined;
  }
  return mine;
}
