// A checkpoint's weights as a standalone PyTorch state dict, with the head's outputs in the class order the reader
// uses: 'sorted' for torchvision / timm ImageFolder (class folders sorted by name), 'dataset' for classes.json's. The
// file says which in its metadata (src/models/label_order.ts), so a reader can still map by name.
import { existsSync } from 'node:fs';
import { writeSafetensors } from '../io/safetensors.js';
import { classesInOrder, labelMetadata, reorderHead, type LabelOrder } from '../models/label_order.js';
import { readCheckpoint, readCheckpointWeights } from './checkpoint.js';

export const STATE_DICT_FORMAT = 'geospike-state-dict/1';

/** Writes `out` (which must not exist) and returns the class of each head output, in the file's order. */
export async function exportStateDict(checkpoint: string, out: string, order: LabelOrder): Promise<string[]> {
  if (!out.endsWith('.safetensors')) throw new Error(`--out must name a .safetensors file, got '${out}'`);
  if (existsSync(out)) throw new Error(`${out} already exists; choose another --out (export never overwrites a file)`);
  const ck = readCheckpoint(checkpoint);
  const classes = classesInOrder(ck.meta.classes, order);
  const tensors = reorderHead(readCheckpointWeights(ck), ck.meta.model.arch, ck.meta.classes, classes, ck.weightsPath);
  await writeSafetensors(out, tensors, {
    format: STATE_DICT_FORMAT,
    preset: ck.meta.preset,
    model: JSON.stringify(ck.meta.model),
    // What the model expects of its input: (pixel/255 - mean) / std per RGB channel, NCHW in PyTorch.
    mean: JSON.stringify(ck.meta.mean),
    std: JSON.stringify(ck.meta.std),
    ...labelMetadata(classes, order),
  });
  return classes;
}
