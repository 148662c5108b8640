// MaxPool and its gradient in C++ (multithreaded over the batch), with tfjs's tie-breaking: first maximum wins.
import { backend_util, MaxPool, MaxPoolGrad } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, MaxPoolAttrs, MaxPoolGradAttrs, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { addon, alloc, allFloat32, f32, fallback, NATIVE, out, size } from '../../engine/native/kernel_util.js';

function poolParams(info: backend_util.Conv2DInfo): Int32Array | null {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.dataFormat !== 'channelsLast') return null;
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
}

const maxPool: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x } = args.inputs as { x: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as MaxPoolAttrs;
  if (x.shape.length !== 4 || !allFloat32(x)) return fallback(MaxPool, args);
  const info = backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const params = poolParams(info);
  if (!params) return fallback(MaxPool, args);
  const y = alloc(backend, size(info.outShape));
  addon().maxPool(f32(backend, x), y, params);
  return out(backend, info.outShape, y);
};

const maxPoolGrad: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as MaxPoolGradAttrs;
  if (input.shape.length !== 4 || !allFloat32(dy, input)) return fallback(MaxPoolGrad, args);
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const params = poolParams(info);
  if (!params) return fallback(MaxPoolGrad, args);
  const dx = alloc(backend, size(input.shape), true); // the C++ kernel scatter-adds into it
  addon().maxPoolGrad(f32(backend, dy), f32(backend, input), dx, params);
  return out(backend, input.shape, dx);
};

export const poolKernels: KernelConfig[] = [
  { kernelName: MaxPool, backendName: NATIVE, kernelFunc: maxPool },
  { kernelName: MaxPoolGrad, backendName: NATIVE, kernelFunc: maxPoolGrad },
];
