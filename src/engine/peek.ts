// Reading a tensor's values for a moment (a scan, a check) without taking them out of the native backend's reuse.
// dataSync hands out the array itself, so the native pool must assume the caller keeps it and never reuses it:
// AdamW's finiteness check on every gradient made each step's gradients garbage and the next step's fresh arrays
// (resnet18 batch 64: 45 MB a step faulted in anew, and peak RSS grew by what waited for the GC).
import * as tf from '@tensorflow/tfjs-core';
import type { BackendValues, DataId } from '@tensorflow/tfjs-core';

interface Peekable {
  peekSync(dataId: DataId): BackendValues;
}

/** The tensor's values, valid only until the tensor is disposed or the backend writes: read them, keep nothing. */
export function peekValues(t: tf.Tensor): ArrayLike<number> {
  const backend = tf.backend() as Partial<Peekable>;
  if (t.dtype === 'float32' && typeof backend.peekSync === 'function')
    return backend.peekSync(t.dataId) as Float32Array;
  return t.dataSync() as ArrayLike<number>;
}
