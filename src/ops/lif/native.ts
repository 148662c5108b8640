// The native backend's multi-step LIF forward and backward (C++, src/ops/lif/lif.cc), the same contract as
// the neuron's JS reference (src/snn/lif.ts), multithreaded.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { LIF, LIF_GRAD, LIF_SPIKES, timeSteps, type LIFGradAttrs, type LIFSpikesAttrs } from '../../snn/lif.js';
import { SURROGATE_IDS } from '../../snn/surrogate.js';
import { addon, alloc, consumable, f32, NATIVE, out, size } from '../../engine/native/kernel_util.js';

/** The forward; the membrane h too when withH (LIF), else only the spikes (LIF_SPIKES). */
const forward =
  (withH: boolean): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x } = inputs as { x: TensorInfo };
    const { tau, vThreshold, overwrite } = attrs as unknown as LIFSpikesAttrs;
    const n = size(x.shape),
      T = timeSteps(x.shape);
    // Each neuron reads its input before it writes its spike, so the spikes can go over an input nothing else reads.
    const spikes = (!withH && overwrite === true ? consumable(cpu, x) : null) ?? alloc(cpu, n),
      h = withH ? alloc(cpu, n) : null;
    addon().lif(f32(cpu, x), spikes, h, T, T ? n / T : 0, tau, vThreshold);
    return h ? [out(cpu, x.shape, spikes), out(cpu, x.shape, h)] : out(cpu, x.shape, spikes);
  };

const lifGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { dy, h, spikes } = inputs as { dy: TensorInfo; h: TensorInfo; spikes?: TensorInfo };
  const a = attrs as unknown as LIFGradAttrs;
  const kind = Object.hasOwn(SURROGATE_IDS, a.surrogate) ? SURROGATE_IDS[a.surrogate] : undefined;
  if (kind === undefined)
    throw new Error(`unknown surrogate '${a.surrogate}'; choose ${Object.keys(SURROGATE_IDS).join(' or ')}`);
  const n = size(dy.shape),
    T = timeSteps(dy.shape);
  const dx = alloc(cpu, n);
  addon().lifGrad(
    f32(cpu, dy),
    f32(cpu, h),
    spikes ? f32(cpu, spikes) : null, // absent: recomputed from h
    dx,
    T,
    T ? n / T : 0,
    a.tau,
    a.vThreshold,
    kind,
    a.alpha,
  );
  return out(cpu, dy.shape, dx);
};

export const lifKernels: KernelConfig[] = [
  { kernelName: LIF, backendName: NATIVE, kernelFunc: forward(true) },
  { kernelName: LIF_SPIKES, backendName: NATIVE, kernelFunc: forward(false) },
  { kernelName: LIF_GRAD, backendName: NATIVE, kernelFunc: lifGrad },
];
