// Helpers shared by the native kernels: raw values of a tensor, the cpu kernel to fall back on, output tensors.
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadAddon, type NativeAddon } from './addon.js';

export const NATIVE = 'native';

export function addon(): NativeAddon {
  return loadAddon();
}

/** The Float32Array behind a float32 tensor (the cpu backend stores it contiguously, already reshaped). */
export { cpuValues as f32 } from '../cpu_values.js';

/** True when every tensor is float32: the native kernels handle nothing else. */
export function allFloat32(...ts: (TensorInfo | null | undefined)[]): boolean {
  return ts.every((t) => t == null || t.dtype === 'float32');
}

/** How often each native kernel handed its work to the JS kernel (tests check the native path really ran). */
export const fallbacks = new Map<string, number>();

/** Runs the pure-JS kernel of the same name: the fallback for cases the native one does not cover. */
export function fallback(name: string, args: Parameters<KernelFunc>[0]): ReturnType<KernelFunc> {
  fallbacks.set(name, (fallbacks.get(name) ?? 0) + 1);
  const k = tf.getKernel(name, 'cpu');
  if (!k) throw new Error(`no cpu kernel '${name}' to fall back on`);
  const result = k.kernelFunc(args);
  (args.backend as Partial<Pooled>).markAliases?.(result as TensorInfo | TensorInfo[], args.inputs);
  return result;
}

/** What the native backend adds to the cpu one (see ../backend.ts); declared here to avoid an import cycle. */
interface Pooled {
  pool: { alloc(n: number, zero?: boolean): Float32Array; handOn(values: unknown): values is Float32Array };
  markAliases(result: TensorInfo | TensorInfo[], inputs: NamedTensorInfoMap): void;
}

/**
 * The array of an input that the op consumes (its caller disposes it for the result, as AdamW assigns over its
 * parameter and moments), to write the output into: only when the tensor is the array's one holder and nothing
 * outside the backend has seen it (BufferPool.handOn); otherwise null and the op allocates.
 */
export function consumable(backend: MathBackendCPU, t: TensorInfo): Float32Array | null {
  const pool = (backend as Partial<Pooled>).pool;
  const entry = backend.data.get(t.dataId);
  if (!pool || t.dtype !== 'float32' || entry?.refCount !== 1) return null;
  return pool.handOn(entry.values) ? entry.values : null;
}

/** An output array: from the native backend's pool when there is one (contents arbitrary unless zero is set). */
export function alloc(backend: MathBackendCPU, n: number, zero = false): Float32Array {
  const pool = (backend as Partial<Pooled>).pool;
  return pool ? pool.alloc(n, zero) : new Float32Array(n);
}

export function out(backend: MathBackendCPU, shape: number[], values: Float32Array): TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values);
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
