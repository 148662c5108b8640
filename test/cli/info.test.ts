// `geospike info` as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const geospike = (...args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('info --json prints one object with the counts and the config', () => {
  const info = JSON.parse(geospike('info', '--model', 'spikformer-4-384', '--classes', '10', '--json'));
  assert.equal(info.model, 'spikformer-4-384');
  assert.equal(info.params, 9324730);
  assert.equal(info.paramsOfficial, 9330874);
  assert.ok(Math.abs(info.macsPerStep / 1e9 - 0.934) < 0.001);
  assert.deepEqual(
    [info.config.dim, info.config.depth, info.config.heads, info.config.timeSteps, info.config.classes],
    [384, 4, 12, 4, 10],
  );
});

test('info --list --json lists every preset with its parameter count', () => {
  const list = JSON.parse(geospike('info', '--list', '--json')) as { model: string; params: number }[];
  assert.ok(list.length >= 8);
  assert.equal(list.find((i) => i.model === 'resnet18')!.params, 11171397);
  for (const i of list) assert.ok(i.params > 0 && Number.isInteger(i.params), i.model);
  const text = geospike('info', '--model', 'resnet18');
  assert.match(text, /parameters\s+11,171,397/);
  // A spiking model's MACs are per time step; the SDT's official count adds its unused talking_heads.
  assert.match(
    geospike('info', '--model', 'sdt-2-512'),
    new RegExp(
      /parameters\s+10,230,853 \(official count 10,230,981, with the official model's unused modules\)\n/.source +
        /\s+MACs \/ image \/ step 1,234,962,944 \(dense; x 4 steps\)/.source,
    ),
  );
});

test('an unknown preset is a one-line error, exit status 1', () => {
  const r = spawnSync(process.execPath, [cli, 'info', '--model', 'spikformer-8-768'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr.trim(),
    `geospike: unknown model preset 'spikformer-8-768'; known presets: spikformer-4-384, spikformer-4-256, ` +
      `spikformer-2-384, spikformer-2-128, spikformer-1-64, sdt-2-512, sdt-4-384, sdt-2-256, sdt-2-128, resnet18, ` +
      `resnet18-w16, resnet18-w8`,
  );
});
