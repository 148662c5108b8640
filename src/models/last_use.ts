// Freeing activations at their last use. tfjs keeps every intermediate until the enclosing tf.tidy ends, so a forward
// pass held all of its activations at once (inference peak RSS 1.5-2.7x PyTorch's, which frees each tensor after
// its last use). The models pass each intermediate through these instead. Under a gradient tape nothing the backward
// pass needs is lost: the tape keeps its own references to the tensors it saved.
import * as tf from '@tensorflow/tfjs-core';

export type Step = (x: tf.Tensor) => tf.Tensor;

/** f(x) in its own tidy (its temporaries freed on return), then x disposed: for a tensor whose last use is f. */
export function consume(x: tf.Tensor, f: Step): tf.Tensor {
  return consumeAll([x], f);
}

/** consume for several tensors at once: f(...xs) in its own tidy, then every input disposed. */
export function consumeAll<T extends tf.Tensor[]>(xs: [...T], f: (...xs: T) => tf.Tensor): tf.Tensor {
  const y = tf.tidy(() => f(...xs));
  for (const x of xs) if (x !== y) x.dispose();
  return y;
}

/** steps applied in turn, each intermediate freed once the next step has read it; x itself is left to the caller. */
export function chain(x: tf.Tensor, ...steps: Step[]): tf.Tensor {
  let y = x;
  for (const step of steps) y = y === x ? tf.tidy(() => step(x)) : consume(y, step);
  return y;
}
