// The `cpu` backend's LIF kernels: the neuron's JS reference (src/snn/lif.ts) over tfjs tensor storage.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { cpuValues } from '../../engine/cpu_values.js';
import {
  LIF,
  LIF_GRAD,
  LIF_SPIKES,
  lifBackward,
  lifForward,
  timeSteps,
  type LIFAttrs,
  type LIFGradAttrs,
} from '../../snn/lif.js';

const lifKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { x } = inputs as { x: TensorInfo };
  const { tau, vThreshold } = attrs as unknown as LIFAttrs;
  const { spikes, h } = lifForward(cpuValues(cpu, x), timeSteps(x.shape), tau, vThreshold);
  return [cpu.makeTensorInfo(x.shape, 'float32', spikes), cpu.makeTensorInfo(x.shape, 'float32', h)];
};

const lifSpikesKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { x } = inputs as { x: TensorInfo };
  const { tau, vThreshold } = attrs as unknown as LIFAttrs;
  return cpu.makeTensorInfo(
    x.shape,
    'float32',
    lifForward(cpuValues(cpu, x), timeSteps(x.shape), tau, vThreshold).spikes,
  );
};

const lifGradKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { dy, h, spikes } = inputs as { dy: TensorInfo; h: TensorInfo; spikes?: TensorInfo };
  const dx = lifBackward(
    cpuValues(cpu, dy),
    cpuValues(cpu, h),
    spikes ? cpuValues(cpu, spikes) : null,
    timeSteps(dy.shape),
    attrs as unknown as LIFGradAttrs,
  );
  return cpu.makeTensorInfo(dy.shape, 'float32', dx);
};

export const lifKernels: KernelConfig[] = [
  { kernelName: LIF, backendName: 'cpu', kernelFunc: lifKernel },
  { kernelName: LIF_SPIKES, backendName: 'cpu', kernelFunc: lifSpikesKernel },
  { kernelName: LIF_GRAD, backendName: 'cpu', kernelFunc: lifGradKernel },
];
