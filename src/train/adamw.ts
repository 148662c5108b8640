// AdamW with decoupled weight decay, step for step as PyTorch's torch.optim.AdamW (non-amsgrad, foreach off):
// p <- p (1 - lr wd); m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;
// p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// Parameters named in `noDecay` form the second parameter group, with weight decay 0 (src/train/param_groups.ts).
import * as tf from '@tensorflow/tfjs-core';
import { adamwUpdate } from '../ops/index.js';
import { firstNonFinite } from './finite.js';
import { peekValues } from '../engine/peek.js';

export interface AdamWOptions {
  lr: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Parameters that get no weight decay (timm's no-decay group: biases, norm weights, 1-D parameters). */
  noDecay?: Iterable<string>;
}

export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  lr: number;
  weightDecay: number;
  readonly noDecay: ReadonlySet<string>;
  step = 0;
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();

  constructor(opts: AdamWOptions) {
    this.lr = opts.lr;
    this.weightDecay = opts.weightDecay;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.noDecay = new Set(opts.noDecay ?? []);
  }

  /**
   * One update of every parameter that has a gradient (as PyTorch, parameters without one are left alone). A NaN or
   * infinite gradient anywhere skips the whole step (as PyTorch's GradScaler does) and returns false: nothing changes.
   */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor> | Record<string, tf.Tensor>): boolean {
    const g = grads instanceof Map ? grads : new Map(Object.entries(grads));
    for (const [name, grad] of g) if (params.has(name) && firstNonFinite(peekValues(grad)) >= 0) return false;
    this.step += 1;
    const bc1 = 1 - this.beta1 ** this.step;
    const bc2Sqrt = Math.sqrt(1 - this.beta2 ** this.step);
    const stepSize = this.lr / bc1;
    for (const [name, p] of params) {
      const grad = g.get(name);
      if (!grad) continue;
      const m = this.moment(this.m, name, p);
      const v = this.moment(this.v, name, p);
      // One fused pass (src/ops/adamw/native.ts): the formula above, rounded as its 13 tensor ops would be.
      const [p2, m2, v2] = adamwUpdate(p, grad, m, v, {
        decay: this.noDecay.has(name) ? 1 : 1 - this.lr * this.weightDecay,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        bc2Sqrt,
        stepSize,
      });
      if (!p2 || !m2 || !v2) throw new Error('the AdamW kernel must return the new parameter and both moments');
      p.assign(p2);
      m.assign(m2);
      v.assign(v2);
      tf.dispose([p2, m2, v2]);
    }
    return true;
  }

  private moment(store: Map<string, tf.Variable>, name: string, p: tf.Variable): tf.Variable {
    let t = store.get(name);
    if (!t) {
      // The zeros tensor must go: the variable shares its array, and while both hold it the update cannot write
      // over it (nor would it ever be freed).
      const zeros = tf.zerosLike(p);
      t = tf.variable(zeros, false);
      zeros.dispose();
      store.set(name, t);
    }
    return t;
  }

  /** The moments and step count, for checkpoints. */
  state(): AdamWState {
    const read = (s: Map<string, tf.Variable>) => new Map([...s].map(([k, t]) => [k, t.dataSync() as Float32Array]));
    return { step: this.step, m: read(this.m), v: read(this.v) };
  }

  /** Restores state() output; shapes are checked against the parameters they belong to. */
  load(state: AdamWState, params: Map<string, tf.Variable>): void {
    this.dispose();
    this.step = state.step;
    for (const [src, dst] of [
      [state.m, this.m],
      [state.v, this.v],
    ] as const) {
      for (const [name, data] of src) {
        const p = params.get(name);
        if (!p) throw new Error(`optimizer state names '${name}', which the model does not have`);
        if (data.length !== p.size)
          throw new Error(`optimizer state for '${name}' has ${data.length} values, the parameter ${p.size}`);
        dst.set(name, tf.variable(tf.tensor(data, p.shape), false));
      }
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
