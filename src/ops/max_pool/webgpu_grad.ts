// MaxPoolGrad on webgpu, replacing tfjs-backend-webgpu's: that one routes each window's gradient to the LAST of
// tied maxima, where tfjs's cpu kernel and PyTorch route it to the first. Spike maps are all ties (0s and 1s), so
// Spikformer's patch-embedding gradients came out wrong. Gather form: each input element walks the output windows
// that may contain it, finds each window's first maximum, and sums the dy of those where it is that maximum.
import { backend_util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { GeospikeWebGPUBackend } from '../../engine/webgpu/backend.js';
import { bindings, FLAT_INDEX, grid, pipeline } from '../../engine/webgpu/program.js';

const code = () => `
struct U { n: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, KH: i32, KW: i32, SH: i32, SW: i32,
           DH: i32, DW: i32, PT: i32, PL: i32 }
${bindings(['dx'], ['dy', 'x'])}
${FLAT_INDEX}
  let e = i32(i);
  if (e >= u.n) { return; }
  let c = e % u.C;
  let w = (e / u.C) % u.W;
  let h = (e / (u.C * u.W)) % u.H;
  let b = e / (u.C * u.W * u.H);
  let mine = h * u.W + w;
  let effH = (u.KH - 1) * u.DH + 1;
  let effW = (u.KW - 1) * u.DW + 1;
  // every window whose span covers (h, w); membership is then decided by the argmax itself
  let oh0 = max(0, (h + u.PT - effH + u.SH) / u.SH);
  let oh1 = min(u.OH - 1, (h + u.PT) / u.SH);
  let ow0 = max(0, (w + u.PL - effW + u.SW) / u.SW);
  let ow1 = min(u.OW - 1, (w + u.PL) / u.SW);
  var acc = 0.0;
  for (var oh = oh0; oh <= oh1; oh++) {
    for (var ow = ow0; ow <= ow1; ow++) {
      var best = -3.4028234663852886e38;
      var at = -1;
      for (var r = 0; r < u.KH; r++) {
        let xr = oh * u.SH - u.PT + r * u.DH;
        if (xr < 0 || xr >= u.H) { continue; }
        for (var q = 0; q < u.KW; q++) {
          let xc = ow * u.SW - u.PL + q * u.DW;
          if (xc < 0 || xc >= u.W) { continue; }
          let v = x[((b * u.H + xr) * u.W + xc) * u.C + c];
          if (v > best || at < 0) { best = v; at = xr * u.W + xc; }
        }
      }
      if (at == mine) { acc += dy[((b * u.OH + oh) * u.OW + ow) * u.C + c]; }
    }
  }
  dx[i] = acc;
}`;

const kernelFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = backend as GeospikeWebGPUBackend;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const ci = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const n = input.shape.reduce((a, b) => a * b, 1);
  const params = [
    n,
    ci.inHeight,
    ci.inWidth,
    ci.inChannels,
    ci.outHeight,
    ci.outWidth,
    ci.filterHeight,
    ci.filterWidth,
    ci.strideHeight,
    ci.strideWidth,
    ci.dilationHeight,
    ci.dilationWidth,
    ci.padInfo.top,
    ci.padInfo.left,
  ];
  return gpu.dispatch(
    'MaxPoolGrad',
    pipeline(gpu, 'MaxPoolGrad', code),
    [dy, input],
    [{ shape: input.shape, dtype: 'float32' }],
    grid(gpu, n),
    params.map((v) => ({ type: 'int32' as const, data: [v] })),
  )[0];
};

export const maxPoolGradConfig: KernelConfig = { kernelName: 'MaxPoolGrad', backendName: 'webgpu', kernelFunc };
