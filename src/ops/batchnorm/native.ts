// The native backend's batch norm (C++, src/ops/batchnorm/batchnorm.cc): train-mode forward and backward, alone or
// fused with ReLU, the same contracts as the JS references (src/ops/batchnorm/cpu.ts), and tfjs's eval-mode
// FusedBatchNorm.
import { FusedBatchNorm } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import {
  BN_GRAD,
  BN_RELU_GRAD,
  BN_RELU_TRAIN,
  BN_TRAIN,
  type BNAttrs,
  type BNGradInputs,
  type BNTrainInputs,
} from '../index.js';
import { addon, alloc, f32, fallback, NATIVE, out, size } from '../../engine/native/kernel_util.js';
import { must } from '../../util/must.js';

/** A train kernel's three outputs: one like x ([M, C]), two per channel (C). */
function outputs(cpu: MathBackendCPU, x: TensorInfo, gamma: TensorInfo): [Float32Array, Float32Array, Float32Array] {
  const C = size(gamma.shape);
  return [alloc(cpu, size(x.shape)), alloc(cpu, C), alloc(cpu, C)];
}

function tensors(cpu: MathBackendCPU, x: TensorInfo, gamma: TensorInfo, values: Float32Array[]): TensorInfo[] {
  return values.map((v, i) => out(cpu, i === 0 ? x.shape : gamma.shape, v));
}

const bnTrain =
  (relu: boolean): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x, gamma, beta } = inputs as BNTrainInputs;
    const C = size(gamma.shape);
    const [y, mean, variance] = outputs(cpu, x, gamma);
    addon().batchNormTrain(
      f32(cpu, x),
      f32(cpu, gamma),
      f32(cpu, beta),
      y,
      mean,
      variance,
      y.length / C,
      C,
      (attrs as unknown as BNAttrs).eps,
      relu,
    );
    return tensors(cpu, x, gamma, [y, mean, variance]);
  };

const bnGrad =
  (relu: boolean): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { dy, x, gamma, mean, variance, y } = inputs as BNGradInputs;
    const C = size(gamma.shape);
    const [dx, dgamma, dbeta] = outputs(cpu, x, gamma);
    addon().batchNormGrad(
      f32(cpu, dy),
      f32(cpu, x),
      f32(cpu, gamma),
      f32(cpu, mean),
      f32(cpu, variance),
      dx,
      dgamma,
      dbeta,
      dx.length / C,
      C,
      (attrs as unknown as BNAttrs).eps,
      relu ? f32(cpu, must(y, `${BN_RELU_GRAD} takes the forward's output y`)) : null,
    );
    return tensors(cpu, x, gamma, [dx, dgamma, dbeta]);
  };

/** A per-channel input of FusedBatchNorm as C values (tfjs cycles a length-1 array, i.e. broadcasts it). */
function perChannel(
  cpu: MathBackendCPU,
  t: TensorInfo | null | undefined,
  C: number,
  fill: number,
): Float32Array | null {
  if (!t) return new Float32Array(C).fill(fill);
  const v = f32(cpu, t);
  if (v.length === C) return v;
  const [only] = v;
  return v.length === 1 && only !== undefined ? new Float32Array(C).fill(only) : null;
}

/** Eval-mode batch norm (tf.batchNorm): the models run it in every inference. */
const batchNormInfer: KernelFunc = (args) => {
  const cpu = args.backend as MathBackendCPU;
  const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | null>;
  const eps = (args.attrs as { varianceEpsilon?: number }).varianceEpsilon ?? 0.001;
  const n = size(x!.shape),
    C = x!.shape[x!.shape.length - 1] ?? 1;
  const all = [x, mean, variance, offset, scale].every((t) => t == null || t.dtype === 'float32');
  const m = all && C > 0 ? perChannel(cpu, mean, C, 0) : null;
  const v = m && perChannel(cpu, variance, C, 1);
  const o = v && perChannel(cpu, offset, C, 0);
  const s = o && perChannel(cpu, scale, C, 1);
  if (!s || !mean || !variance) return fallback(FusedBatchNorm, args);
  const y = alloc(cpu, n);
  addon().batchNormInfer(f32(cpu, x!), m!, v!, o!, s, y, n / C, C, eps);
  return out(cpu, x!.shape, y);
};

export const batchNormKernels: KernelConfig[] = [
  { kernelName: FusedBatchNorm, backendName: NATIVE, kernelFunc: batchNormInfer },
  { kernelName: BN_TRAIN, backendName: NATIVE, kernelFunc: bnTrain(false) },
  { kernelName: BN_GRAD, backendName: NATIVE, kernelFunc: bnGrad(false) },
  { kernelName: BN_RELU_TRAIN, backendName: NATIVE, kernelFunc: bnTrain(true) },
  { kernelName: BN_RELU_GRAD, backendName: NATIVE, kernelFunc: bnGrad(true) },
];
