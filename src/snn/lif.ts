// The multi-step leaky integrate-and-fire neuron, in one place: its dynamics (charge, fire, reset over the time axis),
// the kernel contract every backend implements (names and attributes), the JS reference of those kernels, and the op
// the models call. Functional: no membrane state survives between forward passes. Time is the first axis: x is
// [T, ...]. Semantics of SpikingJelly's MultiStepLIFNode (decay_input, hard reset to 0, detach_reset).
// The engine imports this module (to register the kernels); this module imports nothing from the engine.
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { spikeStoreEnabled } from '../ops/spike_kernels.js';
import { must } from '../util/must.js';
import { surrogate as makeSurrogate, surrogateGrad, type Surrogate, type SurrogateName } from './surrogate.js';

/**
 * Kernel names: forward (x -> [spikes, h]) and backward ([dy, h, spikes?] -> dx). Without spikes the backward
 * recomputes them from h (h >= v_th, the forward's own decision), so the gradient need not keep the spikes.
 */
export const LIF = 'GeospikeLIF';
/** Forward without the membrane (x -> spikes), for passes no gradient will follow; optional for a backend. */
export const LIF_SPIKES = 'GeospikeLIFSpikes';
export const LIF_GRAD = 'GeospikeLIFGrad';

export interface LIFAttrs extends NamedAttrMap {
  tau: number;
  vThreshold: number;
}
export interface LIFSpikesAttrs extends LIFAttrs {
  /** The kernel may write the spikes over x (LIFOptions.lastUse). */
  overwrite: boolean;
}
export interface LIFGradAttrs extends LIFAttrs {
  surrogate: SurrogateName;
  alpha: number;
}

export interface LIFOptions {
  /** Membrane time constant; the official Spikformer uses 2. */
  tau?: number;
  /** Firing threshold: 1 everywhere except the attention LIF (0.5). */
  vThreshold?: number;
  /** Surrogate gradient of the spike; sigmoid with alpha 4 by default. */
  surrogate?: Surrogate;
  /**
   * x is never read again (the caller disposes it): without a gradient tape the spikes may be written over it, one
   * array fewer to allocate (and fault in) per layer. Honoured only where x's array has no other holder.
   */
  lastUse?: boolean;
}

/** T, the length of the time axis (the first) of a LIF kernel's input; lif() checks that there is one. */
export function timeSteps(shape: number[]): number {
  return must(shape[0], 'a LIF input has a time axis first');
}

/** Charge: the membrane after integrating input x from v (decay_input), in float32 as PyTorch computes it. */
export function charge(v: number, x: number, tau: number): number {
  // Float32 rounding after each op keeps spike decisions identical to float32 PyTorch at ties.
  return Math.fround(v + Math.fround(Math.fround(x - v) / tau));
}

/** Fire: Heaviside(h - v_th), with Heaviside(0) = 1. */
export function fire(h: number, vThreshold: number): 0 | 1 {
  return h >= vThreshold ? 1 : 0;
}

/** Reset: hard reset to 0 where the neuron fired. */
export function reset(h: number, spike: number): number {
  return spike ? 0 : h;
}

/** Reference forward kernel. x [T, M] -> spikes, h (membrane before firing). V starts at 0. */
export function lifForward(
  x: Float32Array,
  T: number,
  tau: number,
  vth: number,
): { spikes: Float32Array; h: Float32Array } {
  const M = x.length / T;
  const spikes = new Float32Array(x.length);
  const h = new Float32Array(x.length);
  const v = new Float32Array(M);
  for (let t = 0; t < T; t++) {
    const o = t * M;
    for (let i = 0; i < M; i++) {
      const hi = charge(v[i]!, x[o + i]!, tau);
      const s = fire(hi, vth);
      h[o + i] = hi;
      spikes[o + i] = s;
      v[i] = reset(hi, s);
    }
  }
  return { spikes, h };
}

/**
 * Reference backward kernel, through time with the reset detached: only (1 - s) carries gradient from V_t to V_{t-1}.
 */
export function lifBackward(
  dy: Float32Array,
  h: Float32Array,
  spikes: Float32Array | null,
  T: number,
  a: LIFGradAttrs,
): Float32Array {
  const M = dy.length / T;
  const dx = new Float32Array(dy.length);
  const gv = new Float64Array(M);
  const sg = { name: a.surrogate, alpha: a.alpha };
  const k = 1 / a.tau;
  for (let t = T - 1; t >= 0; t--) {
    const o = t * M;
    for (let i = 0; i < M; i++) {
      const hi = h[o + i]!;
      const s = spikes ? spikes[o + i]! : fire(hi, a.vThreshold);
      const gh = dy[o + i]! * surrogateGrad(sg, hi - a.vThreshold) + gv[i]! * (1 - s);
      dx[o + i] = gh * k;
      gv[i] = gh * (1 - k);
    }
  }
  return dx;
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
  // Without a gradient tape nothing reads the membrane h, an array as large as the spikes: skip it where the backend
  // can.
  if (!tf.engine().isTapeOn() && tf.getKernel(LIF_SPIKES, tf.getBackend())) {
    const spikesAttrs: LIFSpikesAttrs = { ...attrs, overwrite: options.lastUse === true };
    return tf.engine().runKernel(LIF_SPIKES, { x }, spikesAttrs) as tf.Tensor;
  }
  const fn = tf.customGrad((input, save) => {
    const [s, hv] = tf.engine().runKernel(LIF, { x: input as tf.Tensor }, attrs) as tf.Tensor[];
    const spikes = must(s, 'the LIF kernel returns spikes'),
      h = must(hv, 'and the membrane');
    // The backward recomputes the spikes from h: only h is kept (the old path, GEOSPIKE_SPIKE_STORE=0, keeps both).
    const keepSpikes = !spikeStoreEnabled();
    (save as tf.GradSaveFunc)(keepSpikes ? [h, spikes] : [h]);
    return {
      value: spikes,
      gradFunc: (dy, saved) => {
        const [hs, ss] = saved;
        const inputs = { dy: dy as tf.Tensor, h: must(hs, 'h was saved'), ...(ss ? { spikes: ss } : {}) };
        return tf.engine().runKernel(LIF_GRAD, inputs, gradAttrs) as tf.Tensor;
      },
    };
  });
  return fn(x);
}
