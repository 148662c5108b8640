// Multi-step leaky integrate-and-fire neuron, functional: charge, fire and reset over the time axis in one call,
// so no membrane state survives between forward passes. Time is the first axis: x is [T, ...].
import * as tf from '@tensorflow/tfjs-core';
import { LIF, LIF_GRAD, type LIFAttrs, type LIFGradAttrs } from '../engine/kernels/index.js';
import { surrogate as makeSurrogate, type Surrogate } from './surrogate.js';

export interface LIFOptions {
  /** Membrane time constant; the official Spikformer uses 2. */
  tau?: number;
  /** Firing threshold: 1 everywhere except the attention LIF (0.5). */
  vThreshold?: number;
  /** Surrogate gradient of the spike; sigmoid with alpha 4 by default. */
  surrogate?: Surrogate;
}

/**
 * Spikes (0/1, same shape as x) of a multi-step LIF neuron driven by x [T, ...]:
 * H_t = V_{t-1} + (X_t - V_{t-1}) / tau; S_t = (H_t >= v_th); V_t = H_t (1 - S_t), V_0 = 0, the reset detached.
 */
export function lif(x: tf.Tensor, options: LIFOptions = {}): tf.Tensor {
  const attrs: LIFAttrs = { tau: options.tau ?? 2, vThreshold: options.vThreshold ?? 1 };
  const sg = options.surrogate ?? makeSurrogate('sigmoid');
  const gradAttrs: LIFGradAttrs = { ...attrs, surrogate: sg.name, alpha: sg.alpha };
  if (x.rank < 2) throw new Error(`lif expects [T, ...] with a time axis first, got shape [${x.shape}]`);
  const fn = tf.customGrad((input, save) => {
    const [spikes, h] = tf.engine().runKernel(LIF, { x: input as tf.Tensor }, attrs) as tf.Tensor[];
    (save as tf.GradSaveFunc)([h, spikes]);
    return {
      value: spikes,
      gradFunc: (dy, saved) => {
        const [hs, ss] = saved;
        return tf.engine().runKernel(LIF_GRAD, { dy: dy as tf.Tensor, h: hs, spikes: ss }, gradAttrs) as tf.Tensor;
      },
    };
  });
  return fn(x);
}
