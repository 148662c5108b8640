// Where a model's tensors live, under the official PyTorch state-dict names. Trainable parameters are tf.Variables
// in tfjs layouts (conv weights HWIO); BatchNorm running statistics are non-trainable variables; num_batches_tracked
// is a plain counter. Conversion to PyTorch layouts happens only at load/save (src/models/state_dict.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../util/rng.js';

/**
 * How a stored tensor maps to PyTorch's: 'conv' is HWIO here and OIHW there; 'flat' is the same data with PyTorch's
 * unit dimensions added (a 1x1 conv run as a linear layer: [out, in] here, [out, in, 1, 1] there); 'same' needs no
 * change.
 */
export type Layout = 'conv' | 'flat' | 'same';

export interface ParamInfo {
  layout: Layout;
  /** Shape in PyTorch's layout. */
  torchShape: number[];
}

export class ParamStore {
  readonly params = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();
  readonly counters = new Map<string, number>();
  readonly info = new Map<string, ParamInfo>();
  /**
   * Entries the official model has but never uses (Spikformer's norm1/norm2 LayerNorms, the SDT's talking_heads):
   * accepted and ignored by the forward pass; written back as loaded (`data`), or as `fill` (identity) when never
   * loaded.
   */
  readonly unused = new Map<string, { shape: number[]; fill: number; data?: Float32Array }>();
  /** Tensors computed from the parameters and cached by a model (eval-mode folded weights): freed with them. */
  readonly derived = new Set<tf.Tensor>();

  constructor(readonly rng: Rng) {}

  param(name: string, values: Float32Array, shape: number[], layout: Layout = 'same', torchShape = shape): tf.Variable {
    if (this.params.has(name)) throw new Error(`duplicate parameter name ${name}`);
    // tfjs names variables globally and refuses duplicates; ours are keyed by `name` in this store instead.
    const v = tf.variable(tf.tensor(values, shape), true);
    this.params.set(name, v);
    this.info.set(name, { layout, torchShape });
    return v;
  }

  buffer(name: string, values: Float32Array): tf.Variable {
    const v = tf.variable(tf.tensor1d(values), false);
    this.buffers.set(name, v);
    this.info.set(name, { layout: 'same', torchShape: [values.length] });
    return v;
  }

  /** Parameter count as trained here, and as the official model counts it (with its unused entries). */
  counts(): { params: number; paramsOfficial: number } {
    let params = 0;
    for (const v of this.params.values()) params += v.size;
    let extra = 0;
    for (const u of this.unused.values()) extra += u.shape.reduce((a, b) => a * b, 1);
    return { params, paramsOfficial: params + extra };
  }

  dispose(): void {
    for (const v of [...this.params.values(), ...this.buffers.values(), ...this.derived]) v.dispose();
    this.derived.clear();
  }
}

/** PyTorch's default for conv and linear weights (kaiming_uniform, a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function torchDefaultUniform(rng: Rng, n: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * bound;
  return out;
}

/** timm's trunc_normal_(std): normal(0, std) redrawn outside [-2, 2] (absolute, as timm's defaults). */
export function truncNormal(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = rng.normal() * std;
    while (v < -2 || v > 2) v = rng.normal() * std;
    out[i] = v;
  }
  return out;
}
