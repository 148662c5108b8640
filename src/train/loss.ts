// Cross-entropy with label smoothing, mean over the batch, as torch.nn.functional.cross_entropy(label_smoothing=eps):
// the target is (1 - eps) one-hot + eps / K.
import * as tf from '@tensorflow/tfjs-core';

/** Cross-entropy against soft targets [n, K] (mixup, label smoothing), mean over the batch. */
export function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar);
}

export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D | Int32Array, smoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const K = logits.shape[1];
    const y = labels instanceof Int32Array ? tf.tensor1d(labels, 'int32') : tf.cast(labels, 'int32');
    return softCrossEntropy(logits, tf.add(tf.mul(tf.oneHot(y, K), 1 - smoothing), smoothing / K) as tf.Tensor2D);
  });
}
