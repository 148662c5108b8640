// Which class each output of a model's head is, in a weights file that crosses to PyTorch. geospike orders classes as
// the dataset's classes.json lists them; torchvision's and timm's ImageFolder sort the class folder names instead. So
// a weights file says its order in its metadata (`classes`: head output i is classes[i]; `label_order`: 'dataset' or
// 'sorted'), and whoever reads it (geospike here, the PyTorch peer in bench/peer/predict.py) maps outputs to classes
// by name, never by position.
import { checkClassList } from '../data/manifest.js';
import { toFloat32, type SafeTensor } from '../io/safetensors.js';
import { architectureOf } from './registry.js';

export const CLASSES_KEY = 'classes';
export const LABEL_ORDER_KEY = 'label_order';

/** 'dataset': classes.json's order (what geospike trains and writes); 'sorted': ImageFolder's (names sorted). */
export type LabelOrder = 'dataset' | 'sorted';
export const LABEL_ORDERS: readonly LabelOrder[] = ['dataset', 'sorted'];

/** ImageFolder's order: class names sorted as Python sorts strings (class names are ASCII, so code units suffice). */
export function sortedClasses(classes: readonly string[]): string[] {
  return [...classes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The classes in `order`. */
export function classesInOrder(classes: readonly string[], order: LabelOrder): string[] {
  return order === 'sorted' ? sortedClasses(classes) : [...classes];
}

/** The metadata a weights file carries for head outputs in the order `classes` lists them. */
export function labelMetadata(classes: readonly string[], order: LabelOrder): Record<string, string> {
  return { [CLASSES_KEY]: JSON.stringify(classes), [LABEL_ORDER_KEY]: order };
}

/** The classes a weights file names for its head outputs, or null when it names none (written before it did). */
export function fileClasses(metadata: Record<string, string>, source: string): string[] | null {
  const raw = metadata[CLASSES_KEY];
  if (raw === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return checkClassList(value, `${source} (metadata '${CLASSES_KEY}')`);
}

/** The official state-dict names of a model's classification head. */
export function headKeys(arch: string): { weight: string; bias: string } {
  const { head } = architectureOf({ arch });
  return { weight: `${head}.weight`, bias: `${head}.bias` };
}

/**
 * The state dict with its head's outputs moved from the order `from` to the order `to`, matched by class name. Both
 * must name the same classes; anything else is refused, since a model cannot be given classes it was not trained on.
 */
export function reorderHead(
  tensors: Map<string, SafeTensor>,
  arch: string,
  from: readonly string[],
  to: readonly string[],
  source: string,
): Map<string, SafeTensor> {
  const index = new Map(from.map((c, i) => [c, i]));
  if (from.length !== to.length || to.some((c) => !index.has(c))) {
    throw new Error(
      `${source} holds a head for classes [${from.join(', ')}], not [${to.join(', ')}]; ` +
        'use the weights of a model trained on these classes',
    );
  }
  const rows = to.map((c) => index.get(c)!);
  if (rows.every((r, i) => r === i)) return tensors;
  const out = new Map(tensors);
  for (const key of Object.values(headKeys(arch))) {
    const t = tensors.get(key);
    if (!t || t.shape[0] !== from.length) {
      throw new Error(`${source}: '${key}' is not a head of ${from.length} outputs (shape [${t?.shape ?? 'absent'}])`);
    }
    const width = t.data.length / from.length;
    const src = toFloat32(t);
    const data = new Float32Array(src.length);
    rows.forEach((r, i) => {
      data.set(src.subarray(r * width, (r + 1) * width), i * width);
    });
    out.set(key, { dtype: 'F32', shape: t.shape, data });
  }
  return out;
}
