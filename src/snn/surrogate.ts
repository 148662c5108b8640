// Surrogate gradients for the spike function Heaviside(u), u = h - v_threshold (SpikingJelly's definitions).
// The forward pass is always the step; only the backward pass sees the smooth function's derivative.
// Adding a surrogate: its formula here (smooth, surrogateGrad), its id in SURROGATE_IDS, and the same formula under
// the same id in each fast backend (src/ops/lif/lif.cc, src/ops/lif/webgpu_grad.ts).

export type SurrogateName = 'sigmoid' | 'atan';

/** The number each fast backend knows a surrogate by (the `kind` argument of the native lifGrad). */
export const SURROGATE_IDS: Record<SurrogateName, number> = { sigmoid: 0, atan: 1 };

export interface Surrogate {
  name: SurrogateName;
  alpha: number;
}

/** Defaults as in SpikingJelly and the official Spikformer: sigmoid alpha 4; atan alpha 2. */
export const DEFAULT_ALPHA: Record<SurrogateName, number> = { sigmoid: 4, atan: 2 };

export function surrogate(name: SurrogateName = 'sigmoid', alpha = DEFAULT_ALPHA[name]): Surrogate {
  if (!Object.hasOwn(SURROGATE_IDS, name)) {
    throw new Error(`unknown surrogate '${name}'; choose ${Object.keys(SURROGATE_IDS).join(' or ')}`);
  }
  if (!(alpha > 0)) throw new Error(`surrogate alpha must be > 0, got ${alpha}`);
  return { name, alpha };
}

/** The smooth function whose derivative stands in for the step's: sigmoid(alpha u), or atan(pi/2 alpha u)/pi + 1/2. */
export function smooth(s: Surrogate, u: number): number {
  return s.name === 'sigmoid'
    ? 1 / (1 + Math.exp(-s.alpha * u))
    : Math.atan((Math.PI / 2) * s.alpha * u) / Math.PI + 0.5;
}

/** d smooth / du: the surrogate gradient. */
export function surrogateGrad(s: Surrogate, u: number): number {
  if (s.name === 'sigmoid') {
    const sg = 1 / (1 + Math.exp(-s.alpha * u));
    return s.alpha * sg * (1 - sg);
  }
  const z = (Math.PI / 2) * s.alpha * u;
  return s.alpha / 2 / (1 + z * z);
}
