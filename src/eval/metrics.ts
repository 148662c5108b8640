// Classification metrics from predictions: accuracy, top-k, confusion matrix, per-class precision/recall/F1.
// Pure functions over plain arrays so they can be checked against hand-built cases.
import { argmaxRows } from '../util/argmax.js';

export interface ClassMetrics {
  name: string;
  /** Images of this class in the split. */
  support: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassificationMetrics {
  n: number;
  accuracy: number;
  top2: number;
  /** confusion[true][predicted] = count. */
  confusion: number[][];
  perClass: ClassMetrics[];
  /** Unweighted mean of the per-class F1 scores. */
  macroF1: number;
}

/** confusion[t][p]: how many images of class t were predicted as p. */
export function confusionMatrix(labels: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  if (labels.length !== predicted.length)
    throw new Error(`${labels.length} labels but ${predicted.length} predictions`);
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const [t, p] = [labels[i]!, predicted[i]!];
    if (!(t >= 0 && t < classes && p >= 0 && p < classes))
      throw new Error(`label ${t} or prediction ${p} is outside 0..${classes - 1}`);
    m[t]![p]!++;
  }
  return m;
}

/** Share of rows whose true class is among the k highest scores; ties rank the lower index first, as argmax does. */
export function topKAccuracy(scores: ArrayLike<number>, labels: ArrayLike<number>, classes: number, k: number): number {
  if (labels.length === 0) return NaN;
  let hit = 0;
  for (let i = 0; i < labels.length; i++) {
    const own = scores[i * classes + labels[i]!]!;
    let above = 0;
    for (let c = 0; c < classes; c++) {
      const v = scores[i * classes + c]!;
      if (v > own || (v === own && c < labels[i]!)) above++;
    }
    if (above < k) hit++;
  }
  return hit / labels.length;
}

/**
 * Precision, recall and F1 per class from a confusion matrix; 0 where the denominator is 0 (sklearn's zero_division=0).
 */
export function perClassMetrics(confusion: number[][], names: string[]): ClassMetrics[] {
  const K = names.length;
  if (confusion.length !== K || confusion.some((row) => row.length !== K))
    throw new Error(`the confusion matrix must be ${K} x ${K}, one row and one column per class name`);
  return names.map((name, c) => {
    const row = confusion[c]!;
    const tp = row[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (const r of confusion) predicted += r[c]!;
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { name, support, precision, recall, f1 };
  });
}

/** Everything above from logits (or any scores) [n, classes] and labels. */
export function classificationMetrics(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  names: string[],
): ClassificationMetrics {
  const K = names.length;
  if (scores.length !== labels.length * K)
    throw new Error(`scores hold ${scores.length} values, expected ${labels.length} x ${K}`);
  const predicted = argmaxRows(scores, K);
  const confusion = confusionMatrix(labels, predicted, K);
  const correct = confusion.reduce((a, row, i) => a + row[i]!, 0);
  const perClass = perClassMetrics(confusion, names);
  return {
    n: labels.length,
    accuracy: labels.length ? correct / labels.length : NaN,
    top2: topKAccuracy(scores, labels, K, Math.min(2, K)),
    confusion,
    perClass,
    macroF1: perClass.reduce((a, c) => a + c.f1, 0) / K,
  };
}
