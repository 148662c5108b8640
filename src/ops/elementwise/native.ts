// Transpose, broadcasting Add/Sub/Multiply/RealDiv, Sum and the common unary ops in C++: the JS versions walk one
// element at a time on one core, and the models call them hundreds of times a step on tensors of millions of elements.
// ZerosLike only takes its array from the pool: AdamW's moments start as zeros and are then updated in place.
import {
  Abs,
  Add,
  backend_util,
  Mean,
  Multiply,
  Neg,
  RealDiv,
  Relu,
  Sqrt,
  Square,
  Step,
  Sub,
  Sum,
  Transpose,
  util,
  ZerosLike,
} from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, SumAttrs, TensorInfo, TransposeAttrs } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { addon, alloc, f32, fallback, NATIVE, out, size } from '../../engine/native/kernel_util.js';
import { must } from '../../util/must.js';

/** Below this many elements the JS kernel is as quick as crossing into C++. */
export const SMALL = 2048;

const transpose: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as unknown as TransposeAttrs;
  const n = size(x.shape);
  if (x.dtype !== 'float32' || n < SMALL) return fallback(Transpose, args);
  const outShape = perm.map((p) => must(x.shape[p], 'tfjs checked perm against the rank'));
  const y = alloc(backend, n);
  addon().transpose(f32(backend, x), y, Int32Array.from(x.shape), Int32Array.from(perm));
  return out(backend, outShape, y);
};

function binary(name: string, op: number): KernelFunc {
  return (args) => {
    const backend = args.backend as MathBackendCPU;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(name, args);
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = size(outShape);
    if (n < SMALL) return fallback(name, args);
    const y = alloc(backend, n);
    addon().binary(
      op,
      f32(backend, a),
      f32(backend, b),
      y,
      Int32Array.from(a.shape),
      Int32Array.from(b.shape),
      Int32Array.from(outShape),
    );
    return out(backend, outShape, y);
  };
}

/** Sum, or Mean (each element divided by the count first, in float, as the JS kernel does). */
const reduction =
  (name: string): KernelFunc =>
  (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as SumAttrs;
    if (x.dtype !== 'float32' || size(x.shape) < SMALL) return fallback(name, args);
    const axes = [...util.parseAxisParam(axis, x.shape)].sort((p, q) => p - q);
    // One contiguous block of axes reduces as [outer, reduce, inner]; anything else goes to the JS kernel.
    const [first] = axes;
    if (first === undefined || axes.some((v, i) => v !== first + i)) return fallback(name, args);
    const last = first + axes.length - 1;
    const outer = size(x.shape.slice(0, first)),
      reduce = size(x.shape.slice(first, last + 1)),
      inner = size(x.shape.slice(last + 1));
    const kept = x.shape.filter((_, i) => i < first || i > last);
    const outShape = keepDims ? backend_util.expandShapeToKeepDim(kept, axes) : kept;
    const y = alloc(backend, outer * inner);
    addon().sumMiddle(f32(backend, x), y, outer, reduce, inner, name === Mean ? reduce : 1);
    return out(backend, outShape, y);
  };

function unary(name: string, op: number): KernelFunc {
  return (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x } = args.inputs as { x: TensorInfo };
    const n = size(x.shape);
    if (x.dtype !== 'float32' || n < SMALL) return fallback(name, args);
    const y = alloc(backend, n);
    const alpha = name === Step ? ((args.attrs as { alpha?: number }).alpha ?? 0) : 0;
    addon().unary(op, f32(backend, x), y, alpha);
    return out(backend, x.shape, y);
  };
}

/** Zeros from the pool (fresh pages are zero already), so a consuming op may later write over them (AdamW). */
const zerosLike: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== 'float32' || size(x.shape) < SMALL) return fallback(ZerosLike, args);
  return out(backend, x.shape, alloc(backend, size(x.shape), true));
};

export const elementwiseKernels: KernelConfig[] = [
  { kernelName: ZerosLike, backendName: NATIVE, kernelFunc: zerosLike },
  { kernelName: Transpose, backendName: NATIVE, kernelFunc: transpose },
  { kernelName: Add, backendName: NATIVE, kernelFunc: binary(Add, 0) },
  { kernelName: Sub, backendName: NATIVE, kernelFunc: binary(Sub, 1) },
  { kernelName: Multiply, backendName: NATIVE, kernelFunc: binary(Multiply, 2) },
  { kernelName: RealDiv, backendName: NATIVE, kernelFunc: binary(RealDiv, 3) },
  { kernelName: Sum, backendName: NATIVE, kernelFunc: reduction(Sum) },
  { kernelName: Mean, backendName: NATIVE, kernelFunc: reduction(Mean) },
  { kernelName: Relu, backendName: NATIVE, kernelFunc: unary(Relu, 0) },
  { kernelName: Step, backendName: NATIVE, kernelFunc: unary(Step, 1) },
  { kernelName: Sqrt, backendName: NATIVE, kernelFunc: unary(Sqrt, 2) },
  { kernelName: Neg, backendName: NATIVE, kernelFunc: unary(Neg, 3) },
  { kernelName: Square, backendName: NATIVE, kernelFunc: unary(Square, 4) },
  { kernelName: Abs, backendName: NATIVE, kernelFunc: unary(Abs, 5) },
];
