// tfjs keeps every intermediate gradient alive until the whole backward pass ends (backpropagateGradients never
// disposes a node's output gradients after using them), so a training step holds a gradient for every activation
// at once: hundreds of MB to GBs more than PyTorch, which frees each one when its last user is done. This wraps each
// tape node's gradient so that, once all of its input gradients are computed, the output gradients it consumed
// are disposed, and so are the tensors it saved for its gradient (tfjs disposes those only when the whole backward
// pass ends, so every saved activation outlived its use: 160 MB of a ResNet18 step at batch 64). Numbers are
// unchanged; only lifetimes shrink. Saved spike maps are also kept packed until their gradient runs
// (src/ops/spike_store: bits or bytes instead of float32), their float copy freed with the forward pass's last use.
// Some tfjs gradients save an input only to read its shape (Add, Sub, Reshape, Sum, Mean, Slice, Concat...): those
// copies are dropped at once, or every residual sum's inputs and every view's source map would stay alive until the
// backward pass reached them.
import * as tf from '@tensorflow/tfjs-core';
import { must } from '../../util/must.js';
import { packSpikes, unpackSpikes, type Packed } from '../../ops/spike_store/native.js';

type Thunks = Record<string, () => tf.Tensor>;
interface TapeNode {
  inputs: Record<string, tf.Tensor>;
  /** The node's own references (clones) to what its gradient reads; disposing them frees nothing else's. */
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Thunks;
}
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  addTapeNode: (...args: unknown[]) => void;
  gradients: (f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) => unknown;
}

const patched = new WeakSet<object>();

/**
 * Kernels whose tfjs gradient reads nothing of its saved inputs but their shapes (tfjs-core's gradients/*_grad.js;
 * Pack and AddN save all their inputs and read none). A disposed tensor keeps its shape.
 */
const SHAPE_ONLY = new Set([
  'Add',
  'Sub',
  'AddN',
  'Reshape',
  'ExpandDims',
  'Sum',
  'Mean',
  'Slice',
  'Concat',
  'Pack',
  'PadV2',
]);

/** How saved tensors are kept between forward and backward: packed (null: keep the tensor) and unpacked. */
export interface SavedStore {
  pack(t: tf.Tensor): Packed | null;
  unpack(p: Packed, shape: number[]): tf.Tensor;
}
const spikeStore: SavedStore = { pack: packSpikes, unpack: unpackSpikes };

export function freeGradientsEarly(engine: object = tf.engine(), store: SavedStore = spikeStore): void {
  if (patched.has(engine)) return;
  const e = engine as unknown as EngineInternals;
  // tfjs changed: skip
  if (typeof e.addTapeNode !== 'function' || typeof e.gradients !== 'function' || !e.state) return;
  patched.add(engine);
  // A caller's own upstream gradient (tf.grad(f)(x, dy)) is theirs: never dispose it.
  const callerDys = new WeakSet<tf.Tensor>();
  const gradients = e.gradients.bind(e);
  e.gradients = (f, xs, dy, allow) => {
    if (dy) callerDys.add(dy);
    return gradients(f, xs, dy, allow);
  };
  const addTapeNode = e.addTapeNode.bind(e);
  e.addTapeNode = (...args: unknown[]) => {
    addTapeNode(...args);
    const tape = e.state.activeTape;
    const node = tape?.[tape.length - 1];
    const inner = node?.gradient;
    if (!node || !inner) return;
    const shapesOnly = SHAPE_ONLY.has((node as { kernelName?: string }).kernelName ?? '');
    // The saved spikes packed, their float references dropped; the engine's gradient reads node.saved (the same array).
    // A shape-only save is dropped outright: packed, it would be unpacked for a gradient that never reads it.
    const packed: { i: number; p: Packed }[] = [];
    for (const [i, t] of (node.saved ?? []).entries()) {
      if (shapesOnly) {
        t.dispose();
        continue;
      }
      const p = store.pack(t);
      if (!p) continue;
      packed.push({ i, p });
      t.dispose();
    }
    node.gradient = (dys) => {
      const saved = node.saved ?? [];
      for (const { i, p } of packed) {
        const t = must(saved[i], 'a packed tensor was saved at this index');
        if (t.isDisposed) saved[i] = tf.keep(store.unpack(p, t.shape));
      }
      const thunks = inner(dys);
      if (e.state.gradientDepth > 0) return thunks; // higher-order gradients may need them again
      const names = Object.keys(node.inputs).filter((k) => k in thunks);
      let pending = names.length;
      const returned = new Set<tf.Tensor>();
      const done = () => {
        for (const dy of dys) {
          if (dy && !dy.isDisposed && !dy.kept && !returned.has(dy) && !callerDys.has(dy)) dy.dispose();
        }
        for (const t of node.saved ?? []) t.dispose();
      };
      const wrapped: Thunks = { ...thunks };
      for (const k of names) {
        const thunk = must(thunks[k], 'names holds keys of thunks only');
        wrapped[k] = () => {
          const dx = thunk();
          returned.add(dx);
          if (--pending === 0) done();
          return dx;
        };
      }
      return wrapped;
    };
  };
}
