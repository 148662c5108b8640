// Weights to and from safetensors under the official names and layouts; foreign files refused, the model untouched.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createModel, resolveConfig } from '../../src/models/registry.js';
import { loadStateDict, loadWeights, saveWeights, toStateDict } from '../../src/models/state_dict.js';

before(async () => {
  await initEngine('cpu');
});

function snapshot(model: ReturnType<typeof createModel>): Map<string, number[]> {
  return new Map([...model.store.params, ...model.store.buffers].map(([k, v]) => [k, Array.from(v.dataSync())]));
}

test("save then load reproduces every tensor and counter; layouts are PyTorch's", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'geospike-sd-'));
  try {
    const a = createModel(resolveConfig('spikformer-1-64'), 1);
    a.store.counters.set('patch_embed.proj_bn.num_batches_tracked', 17);
    await saveWeights(a.store, join(dir, 'w.safetensors'), { note: 'test' });
    const file = readSafetensors(join(dir, 'w.safetensors'));
    assert.deepEqual(file.tensors.get('patch_embed.proj_conv.weight')!.shape, [8, 3, 3, 3]); // OIHW
    assert.deepEqual(file.tensors.get('block.0.mlp.fc1_linear.weight')!.shape, [256, 64]); // [out, in]
    assert.deepEqual(Array.from(file.tensors.get('block.0.norm1.weight')!.data as Float32Array), new Array(64).fill(1));
    assert.deepEqual(Array.from(file.tensors.get('block.0.norm2.bias')!.data as Float32Array), new Array(64).fill(0));
    assert.equal(file.tensors.get('patch_embed.proj_bn.num_batches_tracked')!.dtype, 'I64');
    assert.equal(file.metadata.note, 'test');

    const b = createModel(resolveConfig('spikformer-1-64'), 2);
    assert.notDeepEqual(snapshot(a), snapshot(b));
    loadWeights(b.store, join(dir, 'w.safetensors'));
    assert.deepEqual(snapshot(b), snapshot(a));
    assert.equal(b.store.counters.get('patch_embed.proj_bn.num_batches_tracked'), 17);
    // The conv weight went OIHW -> HWIO on the way in: element [o=1, i=2, h=0, w=1] sits at [0, 1, 2, 1].
    const oihw = file.tensors.get('patch_embed.proj_conv.weight')!.data as Float32Array;
    const hwio = b.store.params.get('patch_embed.proj_conv.weight')!;
    assert.equal(tf.slice(hwio, [0, 1, 2, 1], [1, 1, 1, 1]).dataSync()[0], oihw[1 * 27 + 2 * 9 + 0 * 3 + 1]);
    a.store.dispose();
    b.store.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a state dict without the unused LayerNorms loads', () => {
  const a = createModel(resolveConfig('spikformer-1-64'), 1);
  const sd = toStateDict(a.store);
  for (const k of [...sd.keys()]) if (/norm[12]\./.test(k)) sd.delete(k);
  const b = createModel(resolveConfig('spikformer-1-64'), 2);
  loadStateDict(b.store, sd);
  assert.deepEqual(snapshot(b), snapshot(a));
  a.store.dispose();
  b.store.dispose();
});

test('another size is refused naming the first mismatching key and both shapes, leaving the model untouched', () => {
  const small = createModel(resolveConfig('spikformer-1-64'), 1);
  const big = createModel(resolveConfig('spikformer-2-128'), 2);
  const before = snapshot(big);
  assert.throws(
    () => loadStateDict(big.store, toStateDict(small.store), 'small.safetensors'),
    new RegExp(
      /small\.safetensors: key 'patch_embed\.proj_conv\.weight' has shape \[8,3,3,3\], /.source +
        /the model expects \[16,3,3,3\]; it was saved for another architecture or size/.source,
    ),
  );
  assert.deepEqual(snapshot(big), before);
  small.store.dispose();
  big.store.dispose();
});

test('another architecture is refused: missing and unexpected keys are named', () => {
  const resnet = createModel(resolveConfig('resnet18-w8'), 1);
  const spik = createModel(resolveConfig('spikformer-1-64'), 1);
  assert.throws(
    () => loadStateDict(spik.store, toStateDict(resnet.store)),
    /missing key 'patch_embed\.proj_conv\.weight' \(expected shape \[8,3,3,3\]\)/,
  );
  const sd = toStateDict(spik.store);
  sd.set('extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
  assert.throws(() => loadStateDict(spik.store, sd), /unexpected key 'extra\.weight' \[1\]/);
  const wrongNorm = toStateDict(spik.store);
  wrongNorm.set('block.0.norm1.weight', { dtype: 'F32', shape: [3], data: new Float32Array(3) });
  assert.throws(() => loadStateDict(spik.store, wrongNorm), /unexpected key 'block\.0\.norm1\.weight' \[3\]/);
  resnet.store.dispose();
  spik.store.dispose();
});

test('SDT: 1x1 convs go out as [out, in, 1, 1] and back; the unused talking_heads are written back as loaded', () => {
  const a = createModel(resolveConfig('sdt-2-128'), 1);
  const sd = toStateDict(a.store);
  const q = sd.get('block.0.attn.q_conv.weight')!;
  assert.deepEqual(q.shape, [128, 128, 1, 1]);
  // Same element order as the [out, in] weight: PyTorch's 1x1 kernel adds only unit dimensions.
  assert.deepEqual(
    Array.from(q.data as Float32Array),
    Array.from(a.store.params.get('block.0.attn.q_conv.weight')!.dataSync()),
  );
  const heads = Float32Array.from({ length: 64 }, (_, i) => i / 10);
  sd.set('block.1.attn.talking_heads.weight', { dtype: 'F32', shape: [8, 8, 1], data: heads });
  const b = createModel(resolveConfig('sdt-2-128'), 2);
  loadStateDict(b.store, sd);
  assert.deepEqual(snapshot(b), snapshot(a));
  assert.deepEqual(
    Array.from(toStateDict(b.store).get('block.1.attn.talking_heads.weight')!.data as Float32Array),
    Array.from(heads),
  );
  // A Spikformer of the same width is another architecture: refused by name.
  const spik = createModel(resolveConfig('spikformer-2-128'), 1);
  assert.throws(
    () => loadStateDict(b.store, toStateDict(spik.store)),
    /missing key 'block\.0\.attn\.q_conv\.weight' \(expected shape \[128,128,1,1\]\)/,
  );
  for (const m of [a, b, spik]) m.store.dispose();
});
