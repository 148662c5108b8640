// `train --resume` takes the run's settings from its config.json: only the settings (not what the run derived or
// recorded beside them), a conflicting setting refused with both values, the data path and backend free to change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resumeCommand, savedRunConfig } from '../../src/cli/train.js';

test('resume reads the settings of config.json and refuses a conflicting one, naming both values', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'geospike-resume-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const settings = { data: 'data/a', model: 'resnet18-w8', out, epochs: 3, batch: 8, lr: 0.001, backend: 'native' };
  writeFileSync(
    join(out, 'config.json'),
    JSON.stringify({ ...settings, modelConfig: { arch: 'resnet18' }, classes: ['a', 'b'], weightDecayRule: 'timm' }),
  );
  assert.deepEqual(savedRunConfig(out, {}, {}), settings);
  assert.deepEqual(savedRunConfig(out, {}, { batch: 8, epochs: undefined }), settings, 'the same value is no conflict');
  assert.deepEqual(savedRunConfig(out, {}, { data: 'moved/a', backend: 'cpu' }), {
    ...settings,
    data: 'moved/a',
    backend: 'cpu',
  });
  assert.throws(
    () => savedRunConfig(out, {}, { epochs: 300 }),
    new RegExp(
      /--epochs 300 \(from the command line\) conflicts with the run's --epochs 3 in .*config\.json: /.source +
        /drop --epochs to resume with 3/.source,
    ),
  );
  assert.throws(
    () => savedRunConfig(out, { lr: 0.5 }, {}),
    /--lr 0\.5 \(from the --config file\) conflicts with the run's --lr 0\.001/,
  );
  assert.throws(
    () => savedRunConfig(join(out, 'none'), {}, {}),
    /nothing to resume: .*none\/config\.json does not exist/,
  );
  assert.throws(() => savedRunConfig(undefined, {}, {}), /--resume needs --out RUN/);
});

test('the printed resume command works from a fresh clone (npx) and quotes a path with spaces', () => {
  assert.equal(resumeCommand('runs/snn'), 'npx geospike train --out runs/snn --resume');
  assert.equal(resumeCommand("my runs/it's"), `npx geospike train --out 'my runs/it'\\''s' --resume`);
});
