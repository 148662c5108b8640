// The spiking self-attention product the models call: one fused kernel where the backend has it (and spike
// kernels are on, see ../spike_kernels.ts), else the same product as tfjs ops (split heads, q k^T, scale, times v).
import * as tf from '@tensorflow/tfjs-core';
import { must } from '../../util/must.js';
import { spikeKernelsEnabled } from '../spike_kernels.js';
import { SPIKE_ATTENTION, SPIKE_ATTENTION_GRAD, type SpikeAttentionAttrs } from './cpu.js';

/** q, k, v [T, B, N, D] spikes -> scale * (q k^T) v per head, [T, B, N, D]. */
export function spikeAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: number, scale: number): tf.Tensor {
  const backend = tf.getBackend();
  const fused =
    spikeKernelsEnabled() &&
    tf.getKernel(SPIKE_ATTENTION, backend) !== undefined &&
    tf.getKernel(SPIKE_ATTENTION_GRAD, backend) !== undefined;
  return fused ? fusedAttention(q, k, v, heads, scale) : composedAttention(q, k, v, heads, scale);
}

function fusedAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: number, scale: number): tf.Tensor {
  const shape = q.shape;
  if (shape.length !== 4) throw new Error(`spike attention takes [T, B, N, D] inputs, got shape [${shape}]`);
  const [T, B, N, D] = shape as [number, number, number, number];
  const flat = (t: tf.Tensor) => tf.reshape(t, [T * B, N, D]);
  const attrs: SpikeAttentionAttrs = { heads, scale };
  const run = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
    tf.engine().runKernel(SPIKE_ATTENTION, { q, k, v }, attrs) as tf.Tensor;
  if (!tf.engine().isTapeOn()) return tf.tidy(() => tf.reshape(run(flat(q), flat(k), flat(v)), shape));
  const fn = tf.customGrad((qi, ki, vi, save) => {
    const [q3, k3, v3] = [qi, ki, vi] as [tf.Tensor, tf.Tensor, tf.Tensor];
    (save as tf.GradSaveFunc)([q3, k3, v3]);
    return {
      value: run(q3, k3, v3),
      gradFunc: (dy, saved) => {
        const [sq, sk, sv] = saved;
        const inputs = {
          dy: dy as tf.Tensor,
          q: must(sq, 'q saved by the forward'),
          k: must(sk, 'k saved by the forward'),
          v: must(sv, 'v saved by the forward'),
        };
        return tf.engine().runKernel(SPIKE_ATTENTION_GRAD, inputs, attrs) as tf.Tensor[];
      },
    };
  });
  return tf.tidy(() => tf.reshape(fn(flat(q), flat(k), flat(v)), shape));
}

/** The product as tfjs ops: the float reference, and the path of backends without the fused kernel. */
export function composedAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: number, scale: number): tf.Tensor {
  if (q.rank !== 4) throw new Error(`spike attention takes [T, B, N, D] inputs, got shape [${q.shape}]`);
  const [T, B, N, D] = q.shape as [number, number, number, number];
  const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [T, B, N, heads, D / heads]), [0, 1, 3, 2, 4]);
  return tf.tidy(() => {
    const attn = tf.mul(tf.matMul(split(q), split(k), false, true), scale);
    return tf.reshape(tf.transpose(tf.matMul(attn, split(v)), [0, 1, 3, 2, 4]), [T, B, N, D]);
  });
}
