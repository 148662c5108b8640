// Conv2D and both of its gradients on oneDNN. tfjs layouts: NHWC input, HWIO filter; padding already resolved by
// tfjs's computeConv2DInfo, so 'same', 'valid' and explicit pads all arrive as four numbers.
import { backend_util, Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput, FusedConv2D } from '@tensorflow/tfjs-core';
import type {
  Conv2DAttrs,
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  FusedConv2DAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { sparseEnough, sparseStats } from '../../engine/native/density.js';
import { sparseBelow } from '../sparse_thresholds/native.js';
import { addon, alloc, allFloat32, fallback, f32, NATIVE, out, size } from '../../engine/native/kernel_util.js';

/**
 * The addon's conv parameters (17 of geometry, then the fused forward's bias and ReLU flags), or null when oneDNN
 * cannot express this geometry (the JS kernel then runs).
 */
export function convParams(info: backend_util.Conv2DInfo, bias = false, relu = false): Int32Array | null {
  const { padInfo: p } = info;
  if (info.dataFormat !== 'channelsLast' || p.top < 0 || p.bottom < 0 || p.left < 0 || p.right < 0) return null;
  // oneDNN requires out = floor((in + pads - effective kernel) / stride) + 1; tfjs's rounding modes can differ.
  const fits = (i: number, k: number, s: number, a: number, b: number, o: number) =>
    o > 0 && Math.floor((i + a + b - k) / s) + 1 === o;
  if (!fits(info.inHeight, info.effectiveFilterHeight, info.strideHeight, p.top, p.bottom, info.outHeight)) return null;
  if (!fits(info.inWidth, info.effectiveFilterWidth, info.strideWidth, p.left, p.right, info.outWidth)) return null;
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    p.top,
    p.bottom,
    p.left,
    p.right,
    bias ? 1 : 0,
    relu ? 1 : 0,
  ]);
}

// Below a fraction of nonzero inputs, the event-driven convolution (the filter rows of each nonzero input and tap)
// beats oneDNN: sparseBelow('conv') forward, sparseBelow('convFilter') for the filter gradient, per vector ISA.

/** Multiply-adds of the dense convolution: N OH OW O KH KW C. */
const work = (i: backend_util.Conv2DInfo) =>
  i.batchSize * i.outHeight * i.outWidth * i.outChannels * i.filterHeight * i.filterWidth * i.inChannels;

/**
 * Filters already reordered into oneDNN's preferred layout, per filter tensor and geometry. Reordering a 512x512x3x3
 * filter took longer than the convolution itself at batch 1 (2.6 ms against 1.4). A tensor's values never change
 * (an optimizer step or a loaded checkpoint gives a variable a new tensor, a new dataId), so the dataId is the key
 * and the entry goes with it. A filter is packed the second time it is seen with the same geometry: inference
 * reuses its weights, a training step uses each value once, so training neither pays for nor holds a packed copy.
 */
const packedFilters = new WeakMap<object, Map<string, Float32Array | 'once' | 'hwio'>>();
/** Filters packed so far (tests check that reuse packs once, and that new values pack again). */
export const packStats = { packs: 0 };

function packedFilter(backend: MathBackendCPU, filter: TensorInfo, params: Int32Array): Float32Array | null {
  let byGeometry = packedFilters.get(filter.dataId);
  if (!byGeometry) {
    byGeometry = new Map();
    packedFilters.set(filter.dataId, byGeometry);
  }
  const key = params.join(',');
  const seen = byGeometry.get(key);
  if (seen === undefined) byGeometry.set(key, 'once');
  if (seen === undefined || seen === 'hwio') return null;
  if (seen !== 'once') return seen;
  const packed = addon().conv2dPackFilter(f32(backend, filter), params);
  if (packed) packStats.packs++;
  byGeometry.set(key, packed ?? 'hwio');
  return packed;
}

/** oneDNN's convolution into y, from the filter's packed copy when it has one. */
function denseConv(
  backend: MathBackendCPU,
  x: Float32Array,
  filter: TensorInfo,
  y: Float32Array,
  params: Int32Array,
  bias?: Float32Array,
): void {
  const packed = packedFilter(backend, filter, params);
  addon().conv2d(x, packed ?? f32(backend, filter), y, params, packed !== null, bias);
}

/** The geometry of a forward convolution (Conv2D and FusedConv2D share these attributes). */
function forwardInfo(x: TensorInfo, filter: TensorInfo, attrs: Conv2DAttrs): backend_util.Conv2DInfo {
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
  return backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
}

const conv2D: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const info = forwardInfo(x, filter, args.attrs as unknown as Conv2DAttrs);
  const params = allFloat32(x, filter) ? convParams(info) : null;
  if (!params) return fallback(Conv2D, args);
  const y = alloc(backend, size(info.outShape));
  const X = f32(backend, x);
  if (sparseEnough(X, work(info), sparseBelow('conv'))) {
    sparseStats.sparse++;
    addon().sparseConv2d(X, f32(backend, filter), y, params);
  } else {
    denseConv(backend, X, filter, y, params);
  }
  return out(backend, info.outShape, y);
};

/** tf.fused.conv2d with a per-channel bias and no activation or ReLU (inference with batch norm folded in); a spike
 * input runs event-driven, as Conv2D's does. */
const fusedConv2D: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const { activation } = args.attrs as unknown as FusedConv2DAttrs;
  const info = forwardInfo(x!, filter!, args.attrs as unknown as FusedConv2DAttrs);
  const simple =
    !preluActivationWeights &&
    (activation === 'linear' || activation === 'relu') &&
    (!bias || size(bias.shape) === info.outChannels) &&
    allFloat32(x, filter, bias);
  const params = simple ? convParams(info, bias != null, activation === 'relu') : null;
  if (!params) return fallback(FusedConv2D, args);
  const y = alloc(backend, size(info.outShape));
  const X = f32(backend, x!),
    Bias = bias ? f32(backend, bias) : undefined;
  if (sparseEnough(X, work(info), sparseBelow('conv'))) {
    sparseStats.sparse++;
    addon().sparseConv2d(X, f32(backend, filter!), y, params.subarray(0, 17), Bias, activation === 'relu');
  } else {
    denseConv(backend, X, filter!, y, params, Bias);
  }
  return out(backend, info.outShape, y);
};

const conv2DBackpropInput: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { inputShape, strides, pad, dataFormat, dimRoundingMode } = args.attrs as unknown as Conv2DBackpropInputAttrs;
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  const params = allFloat32(dy, filter) ? convParams(info) : null;
  if (!params) return fallback(Conv2DBackpropInput, args);
  const dx = alloc(backend, size(info.inShape));
  addon().conv2dBackpropInput(f32(backend, dy), f32(backend, filter), dx, params);
  return out(backend, info.inShape, dx);
};

const conv2DBackpropFilter: KernelFunc = (args) => {
  const backend = args.backend as MathBackendCPU;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  const params = allFloat32(x, dy) ? convParams(info) : null;
  if (!params) return fallback(Conv2DBackpropFilter, args);
  const dw = alloc(backend, size(filterShape));
  const X = f32(backend, x);
  if (sparseEnough(X, work(info), sparseBelow('convFilter'))) {
    sparseStats.sparse++;
    addon().sparseConv2dBackpropFilter(X, f32(backend, dy), dw, params);
  } else {
    addon().conv2dBackpropFilter(X, f32(backend, dy), dw, params);
  }
  return out(backend, filterShape, dw);
};

export const convKernels: KernelConfig[] = [
  { kernelName: Conv2D, backendName: NATIVE, kernelFunc: conv2D },
  { kernelName: FusedConv2D, backendName: NATIVE, kernelFunc: fusedConv2D },
  { kernelName: Conv2DBackpropInput, backendName: NATIVE, kernelFunc: conv2DBackpropInput },
  { kernelName: Conv2DBackpropFilter, backendName: NATIVE, kernelFunc: conv2DBackpropFilter },
];
