// BatchNorm in train mode as two kernels over a channels-last [M, C] view (NHWC conv maps and [T*B*N, C] token
// features alike), and the same fused with the ReLU after it (ResNet's conv-BN-ReLU: one pass instead of three,
// and the backward needs only the output the next layer keeps anyway, not the pre-ReLU map). Batch statistics are
// accumulated in double; the reference for faster backends.
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { cpuValues } from '../../engine/cpu_values.js';
import { must } from '../../util/must.js';

export const BN_TRAIN = 'GeospikeBatchNormTrain';
export const BN_GRAD = 'GeospikeBatchNormGrad';
/** BN_TRAIN followed by ReLU; its gradient takes the forward's output y as one more input. */
export const BN_RELU_TRAIN = 'GeospikeBatchNormReluTrain';
export const BN_RELU_GRAD = 'GeospikeBatchNormReluGrad';
/** The running statistics' update after a train-mode forward: one kernel instead of seven tiny tensor ops. */
export const BN_RUNNING_STATS = 'GeospikeBatchNormRunningStats';

/** tfjs's Relu (NaN stays NaN) and its gradient, dy * step(y) (NaN where y is NaN), from the ReLU's output y. */
export const relu = (v: number) => Math.max(0, v);
export const reluGrad = (dy: number, y: number) => dy * (Number.isNaN(y) ? Number.NaN : y > 0 ? 1 : 0);

export interface BNAttrs extends NamedAttrMap {
  eps: number;
}

/** Inputs of BN_TRAIN and BN_RELU_TRAIN: x [M, C] channels last, gamma and beta [C]. */
export type BNTrainInputs = {
  x: TensorInfo;
  gamma: TensorInfo;
  beta: TensorInfo;
};

/** Inputs of BN_GRAD, the forward's batch statistics among them; BN_RELU_GRAD also takes y, the forward's output. */
export type BNGradInputs = {
  dy: TensorInfo;
  x: TensorInfo;
  gamma: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
  y?: TensorInfo;
};

/** y = (x - mean) / sqrt(var + eps) * gamma + beta, with the batch mean and biased variance per channel. */
export function bnTrainForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number) {
  const C = gamma.length;
  const M = x.length / C;
  const sum = new Float64Array(C);
  for (let i = 0; i < x.length; i += C) for (let c = 0; c < C; c++) sum[c]! += x[i + c]!;
  const mean = new Float32Array(C);
  for (let c = 0; c < C; c++) mean[c] = sum[c]! / M;
  const sq = new Float64Array(C);
  for (let i = 0; i < x.length; i += C) {
    for (let c = 0; c < C; c++) {
      const d = x[i + c]! - mean[c]!;
      sq[c]! += d * d;
    }
  }
  const variance = new Float32Array(C);
  const scale = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    variance[c] = sq[c]! / M;
    scale[c] = gamma[c]! / Math.sqrt(variance[c]! + eps);
  }
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += C) {
    for (let c = 0; c < C; c++) y[i + c] = (x[i + c]! - mean[c]!) * scale[c]! + beta[c]!;
  }
  return { y, mean, variance };
}

/** Gradients of bnTrainForward, the batch statistics included. */
export function bnTrainBackward(
  dy: Float32Array,
  x: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
) {
  const C = gamma.length;
  const M = x.length / C;
  const invStd = new Float64Array(C);
  for (let c = 0; c < C; c++) invStd[c] = 1 / Math.sqrt(variance[c]! + eps);
  const sdy = new Float64Array(C);
  const sdyx = new Float64Array(C);
  for (let i = 0; i < x.length; i += C) {
    for (let c = 0; c < C; c++) {
      sdy[c]! += dy[i + c]!;
      sdyx[c]! += dy[i + c]! * (x[i + c]! - mean[c]!) * invStd[c]!;
    }
  }
  const dx = new Float32Array(x.length);
  for (let i = 0; i < x.length; i += C) {
    for (let c = 0; c < C; c++) {
      const xhat = (x[i + c]! - mean[c]!) * invStd[c]!;
      dx[i + c] = ((gamma[c]! * invStd[c]!) / M) * (M * dy[i + c]! - sdy[c]! - xhat * sdyx[c]!);
    }
  }
  return { dx, dgamma: Float32Array.from(sdyx), dbeta: Float32Array.from(sdy) };
}

const bnTrainKernel =
  (withRelu: boolean): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { x, gamma, beta } = inputs as BNTrainInputs;
    const r = bnTrainForward(
      cpuValues(cpu, x),
      cpuValues(cpu, gamma),
      cpuValues(cpu, beta),
      (attrs as unknown as BNAttrs).eps,
    );
    if (withRelu) for (let i = 0; i < r.y.length; i++) r.y[i] = relu(r.y[i]!);
    return [
      cpu.makeTensorInfo(x.shape, 'float32', r.y),
      cpu.makeTensorInfo(gamma.shape, 'float32', r.mean),
      cpu.makeTensorInfo(gamma.shape, 'float32', r.variance),
    ];
  };

const bnGradKernel =
  (withRelu: boolean): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const cpu = backend as MathBackendCPU;
    const { dy, x, gamma, mean, variance, y } = inputs as BNGradInputs;
    let g = cpuValues(cpu, dy);
    if (withRelu) {
      const out = cpuValues(cpu, must(y, `${BN_RELU_GRAD} takes the forward's output y`));
      g = g.map((d, i) => reluGrad(d, out[i]!));
    }
    const r = bnTrainBackward(
      g,
      cpuValues(cpu, x),
      cpuValues(cpu, gamma),
      cpuValues(cpu, mean),
      cpuValues(cpu, variance),
      (attrs as unknown as BNAttrs).eps,
    );
    return [
      cpu.makeTensorInfo(x.shape, 'float32', r.dx),
      cpu.makeTensorInfo(gamma.shape, 'float32', r.dgamma),
      cpu.makeTensorInfo(gamma.shape, 'float32', r.dbeta),
    ];
  };

/** Inputs of BN_RUNNING_STATS, each [C]: the running statistics and the batch's mean and biased variance. */
export type BNRunningStatsInputs = {
  runningMean: TensorInfo;
  runningVar: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
};

/** momentum: PyTorch's (the new batch's weight); count: values per channel in the batch (for the unbiased variance). */
export interface BNRunningStatsAttrs extends NamedAttrMap {
  momentum: number;
  count: number;
}

/**
 * PyTorch's update, r <- r (1 - m) + s m, with the unbiased batch variance in running_var; rounded as the tfjs ops
 * it replaces (each product and sum to float32, the scalars first), so both paths give the same bits.
 */
export function bnRunningStats(
  runningMean: Float32Array,
  runningVar: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  momentum: number,
  count: number,
): { runningMean: Float32Array; runningVar: Float32Array } {
  const f = Math.fround;
  const keep = f(1 - momentum),
    take = f(momentum),
    unbias = f(count / Math.max(count - 1, 1));
  const m2 = new Float32Array(runningMean.length),
    v2 = new Float32Array(runningVar.length);
  for (let c = 0; c < m2.length; c++) {
    m2[c] = f(runningMean[c]! * keep) + f(mean[c]! * take);
    v2[c] = f(runningVar[c]! * keep) + f(f(variance[c]! * unbias) * take);
  }
  return { runningMean: m2, runningVar: v2 };
}

const bnRunningStatsKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const cpu = backend as MathBackendCPU;
  const { runningMean, runningVar, mean, variance } = inputs as BNRunningStatsInputs;
  const { momentum, count } = attrs as unknown as BNRunningStatsAttrs;
  const r = bnRunningStats(
    cpuValues(cpu, runningMean),
    cpuValues(cpu, runningVar),
    cpuValues(cpu, mean),
    cpuValues(cpu, variance),
    momentum,
    count,
  );
  return [
    cpu.makeTensorInfo(runningMean.shape, 'float32', r.runningMean),
    cpu.makeTensorInfo(runningVar.shape, 'float32', r.runningVar),
  ];
};

export const batchNormKernels: KernelConfig[] = [
  { kernelName: BN_RUNNING_STATS, backendName: 'cpu', kernelFunc: bnRunningStatsKernel },
  { kernelName: BN_TRAIN, backendName: 'cpu', kernelFunc: bnTrainKernel(false) },
  { kernelName: BN_GRAD, backendName: 'cpu', kernelFunc: bnGradKernel(false) },
  { kernelName: BN_RELU_TRAIN, backendName: 'cpu', kernelFunc: bnTrainKernel(true) },
  { kernelName: BN_RELU_GRAD, backendName: 'cpu', kernelFunc: bnGradKernel(true) },
];
