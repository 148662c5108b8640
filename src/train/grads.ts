// Loss and gradients of every trainable parameter, keyed by the parameter's official name.
import * as tf from '@tensorflow/tfjs-core';
import type { ParamStore } from '../models/params.js';

export function lossAndGrads(
  store: ParamStore,
  loss: () => tf.Scalar,
): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const names = new Map([...store.params].map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(loss, [...store.params.values()]);
  return { loss: value, grads: new Map(Object.entries(grads).map(([vname, g]) => [names.get(vname)!, g])) };
}
