// `geospike import-weights`: files written by torch.save itself (PyTorch's own zip and pickle, not a copy of the
// format) are read in TypeScript. The official scripts' shape of file (state_dict with DataParallel's `module.`
// prefix, an argparse.Namespace under `args`) imports with its values intact and its head mapped to the dataset's
// class order by name; a pickle that calls os.system is refused without running it; the legacy format is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, toFloat32 } from '../../src/io/safetensors.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { python, torchMissing } from '../helpers/torch.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'geospike-import-weights-'));
const skip = torchMissing();
const marker = join(root, 'pwned');

const WRITE = `
import argparse, collections, json, os, sys, torch
from geospike_torch.models import build
root, marker = sys.argv[1], sys.argv[2]
torch.manual_seed(1)
m = build('resnet18', classes=3, width=8)
for mod in m.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):  # statistics that are not the defaults, so they are checked too
        mod.running_mean.uniform_(-1, 1); mod.running_var.uniform_(0.5, 2); mod.num_batches_tracked.fill_(7)
sd = collections.OrderedDict(('module.' + k, v) for k, v in m.state_dict().items())
args = argparse.Namespace(model='resnet18', lr=0.1, epochs=300)
torch.save({'epoch': 300, 'state_dict': sd, 'best_acc1': 0.9, 'args': args, 'classes': ['paris', 'seoul', 'london']},
           os.path.join(root, 'official.pth.tar'))
torch.save({'state_dict': sd}, os.path.join(root, 'legacy.pth'), _use_new_zipfile_serialization=False)
class Evil:
    def __reduce__(self):
        return (os.system, (f'touch {marker}',))
torch.save({'state_dict': sd, 'evil': Evil()}, os.path.join(root, 'evil.pth'))
print(json.dumps({k[len('module.'):]: v.reshape(-1).tolist() for k, v in sd.items()}))
`;

let values: Record<string, number[]> = {};
const data = join(root, 'data');

before(() => {
  if (skip) return;
  values = python(WRITE, [root, marker]);
  mkdirSync(data);
  writeFileSync(join(data, 'classes.json'), JSON.stringify(['london', 'paris', 'seoul']));
});
after(() => rmSync(root, { recursive: true, force: true }));

function importWeights(file: string, out: string, extra: string[] = []) {
  return spawnSync(
    process.execPath,
    [cli, 'import-weights', join(root, file), '--model', 'resnet18-w8', '--out', join(root, out), ...extra],
    { encoding: 'utf8' },
  );
}

test('an official-style torch.save file imports: every value, the Namespace opaque, the head in the dataset order', {
  skip,
}, () => {
  const r = importWeights('official.pth.tar', 'run', [
    '--data',
    data,
    '--mean',
    '0.5,0.5,0.5',
    '--std',
    '0.25,0.25,0.25',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /imported \d+ tensors .*state_dict; also held: .*args \(argparse\.Namespace\)/);
  const ck = readCheckpoint(join(root, 'run', 'checkpoints', 'best.json'));
  assert.deepEqual(ck.meta.classes, ['london', 'paris', 'seoul']);
  const got = readSafetensors(ck.weightsPath).tensors;
  // Checkpoint order paris, seoul, london -> dataset order london, paris, seoul: rows 2, 0, 1.
  const rows = [2, 0, 1];
  for (const [name, want] of Object.entries(values)) {
    const t = got.get(name);
    assert.ok(t, `${name} imported`);
    if (t.dtype === 'I64') {
      assert.equal(Number((t.data as BigInt64Array)[0]), want[0], name);
      continue;
    }
    let expected = want;
    if (name.startsWith('linear.')) {
      const width = want.length / 3;
      expected = rows.flatMap((r) => want.slice(r * width, (r + 1) * width));
    }
    const data32 = toFloat32(t);
    const bad = expected.findIndex((v, i) => Math.fround(v) !== data32[i]);
    assert.equal(bad, -1, `${name}[${bad}]`);
  }
});

test('a pickle that calls os.system is refused and nothing runs; the legacy format is refused with a way out', {
  skip,
}, () => {
  const evil = importWeights('evil.pth', 'evil', ['--classes', 'a,b,c']);
  assert.equal(evil.status, 1);
  assert.match(evil.stderr, /calls posix\.system, which data has no reason to; refused, and nothing in it was run/);
  assert.equal(existsSync(marker), false, 'the command in the pickle did not run');
  assert.equal(existsSync(join(root, 'evil')), false, 'no run folder was made');
  const legacy = importWeights('legacy.pth', 'legacy', ['--classes', 'a,b,c']);
  assert.equal(legacy.status, 1);
  assert.match(legacy.stderr, /legacy format \(saved by PyTorch before 1\.6.*re-save it with PyTorch 1\.6 or later/);
});
