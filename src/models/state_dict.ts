// A model's tensors as a PyTorch state dict (official names, conv OIHW, linear [out, in]), to and from safetensors.
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, toFloat32, writeSafetensors, type SafeTensor } from '../io/safetensors.js';
import type { ParamStore } from './params.js';

export class StateDictError extends Error {}

const HWIO_TO_OIHW = [3, 2, 0, 1];
const OIHW_TO_HWIO = [2, 3, 1, 0];

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A tensor of this store (a parameter, or its gradient) in PyTorch's layout. */
export function toTorchLayout(store: ParamStore, name: string, t: tf.Tensor): tf.Tensor {
  const info = store.info.get(name);
  if (info?.layout === 'conv') return tf.transpose(t, HWIO_TO_OIHW);
  return info?.layout === 'flat' ? tf.reshape(t, info.torchShape) : tf.clone(t);
}

/** A PyTorch-layout tensor in this store's layout. */
export function fromTorchLayout(store: ParamStore, name: string, t: tf.Tensor): tf.Tensor {
  const layout = store.info.get(name)?.layout;
  if (layout === 'conv') return tf.transpose(t, OIHW_TO_HWIO);
  return layout === 'flat' ? tf.reshape(t, store.params.get(name)!.shape) : tf.clone(t);
}

/** Every entry the official model's state_dict() has, in PyTorch layouts. */
export function toStateDict(store: ParamStore): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, v] of [...store.params, ...store.buffers]) {
    // Read outside tf.tidy: tidy walks a returned typed array element by element.
    const torch = tf.tidy(() => toTorchLayout(store, name, v));
    const data = torch.dataSync() as Float32Array;
    torch.dispose();
    out.set(name, { dtype: 'F32', shape: store.info.get(name)!.torchShape, data });
  }
  for (const [name, n] of store.counters) out.set(name, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(n)) });
  for (const [name, u] of store.unused) {
    const size = u.shape.reduce((a, b) => a * b, 1);
    out.set(name, { dtype: 'F32', shape: u.shape, data: u.data ?? new Float32Array(size).fill(u.fill) });
  }
  return out;
}

/**
 * Loads a state dict into the store. Every entry the model needs must be present with its exact shape; the unused
 * entries may be present or absent (kept as loaded, for writing back); anything else is refused, naming the first
 * mismatching key.
 */
export function loadStateDict(store: ParamStore, tensors: Map<string, SafeTensor>, source = 'state dict'): void {
  const hint = 'it was saved for another architecture or size; pick the matching --model preset';
  const staged: [tf.Variable, tf.Tensor][] = [];
  const unusedStaged: [string, Float32Array][] = [];
  try {
    for (const [name, v] of [...store.params, ...store.buffers]) {
      const t = tensors.get(name);
      const info = store.info.get(name)!;
      if (!t)
        throw new StateDictError(`${source}: missing key '${name}' (expected shape [${info.torchShape}]); ${hint}`);
      if (!sameShape(t.shape, info.torchShape)) {
        throw new StateDictError(
          `${source}: key '${name}' has shape [${t.shape}], the model expects [${info.torchShape}]; ${hint}`,
        );
      }
      const value = tf.tidy(() => fromTorchLayout(store, name, tf.tensor(toFloat32(t), t.shape, 'float32')));
      staged.push([v, value]);
    }
    for (const name of tensors.keys()) {
      if (store.info.has(name) || store.counters.has(name)) continue;
      const unused = store.unused.get(name);
      if (unused && sameShape(tensors.get(name)!.shape, unused.shape)) {
        unusedStaged.push([name, Float32Array.from(toFloat32(tensors.get(name)!))]);
        continue;
      }
      throw new StateDictError(
        `${source}: unexpected key '${name}' [${tensors.get(name)!.shape}] that this model does not have; ${hint}`,
      );
    }
  } catch (err) {
    tf.dispose(staged.map(([, t]) => t));
    throw err;
  }
  // Only now that everything checked out does the model change: a refused file leaves it as it was.
  for (const [v, value] of staged) {
    v.assign(value);
    value.dispose();
  }
  for (const [name, data] of unusedStaged) store.unused.get(name)!.data = data;
  for (const name of store.counters.keys()) {
    const t = tensors.get(name);
    if (t) store.counters.set(name, Number(t.data[0]));
  }
}

export async function saveWeights(
  store: ParamStore,
  path: string,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeSafetensors(path, toStateDict(store), metadata);
}

export function loadWeights(store: ParamStore, path: string): void {
  loadStateDict(store, readSafetensors(path).tensors, path);
}
