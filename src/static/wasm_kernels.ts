// geospike's LIF neuron for tfjs's `wasm` backend, which the static game's page prefers to the plain-JS `cpu` one
// (XNNPACK convolutions and products are several times faster). The neuron is the same JS reference the `cpu` backend
// runs (src/snn/lif.ts), reading and writing the tensors where the wasm backend keeps them, in its heap.
import { registerKernel, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { LIF, LIF_SPIKES, lifForward, type LIFAttrs } from '../snn/lif.js';
import { must } from '../util/must.js';

function forward(backend: BackendWasm, x: TensorInfo, attrs: LIFAttrs) {
  // A copy: the output's allocation below may grow the heap and detach a view of the input.
  const values = (backend.typedArrayFromHeap(x) as Float32Array).slice();
  return lifForward(values, must(x.shape[0], 'a LIF input has a time axis'), attrs.tau, attrs.vThreshold);
}

function output(backend: BackendWasm, shape: number[], values: Float32Array): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(values);
  return out;
}

const lifSpikes: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  return output(wasm, x.shape, forward(wasm, x, attrs as unknown as LIFAttrs).spikes);
};

const lifBoth: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  const { spikes, h } = forward(wasm, x, attrs as unknown as LIFAttrs);
  return [output(wasm, x.shape, spikes), output(wasm, x.shape, h)];
};

export const wasmLifKernels: KernelConfig[] = [
  { kernelName: LIF_SPIKES, backendName: 'wasm', kernelFunc: lifSpikes },
  { kernelName: LIF, backendName: 'wasm', kernelFunc: lifBoth },
];

export function registerWasmLif(): void {
  for (const k of wasmLifKernels) registerKernel(k);
}
