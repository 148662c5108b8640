// `geospike demo`, shrunk (a few images per class, tiny presets, 1 epoch): the whole job end to end, then again to
// check it skips what is done and resumes training when asked for more epochs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parse } from 'node-html-parser';
import type { Report } from '../../src/eval/report/data.js';
import { must } from '../../src/util/must.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const demo = (out: string, epochs: number, extra: string[] = []) =>
  run(
    process.execPath,
    [
      CLI,
      'demo',
      '--out',
      out,
      '--per-class',
      '4',
      '--val-per-class',
      '2',
      '--epochs',
      String(epochs),
      '--batch',
      '8',
      '--snn',
      'spikformer-1-64',
      '--ann',
      'resnet18-w8',
      '--energy-images',
      '6',
      ...extra,
    ],
    { env: { ...process.env, GEOSPIKE_BACKEND: process.env.GEOSPIKE_BACKEND ?? 'auto' }, maxBuffer: 1 << 24 },
  );

test('demo: import, train both, eval, energy, report; a second run skips and resumes', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'geospike-demo-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));

  const first = await demo(out, 1);
  assert.match(first.stdout, /report: +\S+report\.html/);
  assert.match(first.stdout, /play: +npx geospike play --checkpoint \S+best\.json,\S+best\.json --data \S+/);
  for (const step of [
    '[1/7] import',
    '[2/7] train Spikformer',
    '[3/7] train ResNet18',
    '[4/7] evaluate',
    '[5/7] measure',
    '[6/7] explain',
    '[7/7] write',
  ]) {
    assert.ok(first.stderr.includes(step), `progress lacks '${step}'`);
  }
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
  assert.deepEqual(
    report.runs.map((r) => r.preset),
    ['spikformer-1-64', 'resnet18-w8'],
  );
  for (const r of report.runs) {
    assert.equal(r.epochs.length, 1);
    assert.equal(r.eval!.n, 20); // 2 validation images x 10 classes
    assert.equal(
      r.eval!.confusion.flat().reduce((a, b) => a + b, 0),
      20,
    );
    assert.ok(r.energy!.perImage > 0 && Number.isFinite(r.energy!.perImage));
    assert.ok(r.energy!.memory!.pJ > 0, 'the memory term beside compute-only');
    const d = r.explain!.deletion!;
    assert.equal(d.map.length, 11);
    assert.equal(d.passed, d.areaMap < d.areaRandom);
  }
  const snn = must(report.runs[0], 'the demo reports its runs');
  assert.equal(snn.energy?.images, 6);
  assert.ok(snn.rates && Object.keys(snn.rates).length === 12);
  const doc = parse(readFileSync(join(out, 'report.html'), 'utf8'));
  assert.ok(doc.querySelectorAll('svg.chart').length >= 9);
  assert.ok(
    doc.querySelectorAll('svg.chart').some((c) => c.querySelector('title')!.text === 'spikformer-1-64: deletion test'),
  );
  // The game deals validation images by their display copies, which the import writes.
  assert.equal(readdirSync(join(out, 'data', 'display', 'bag')).length, 2);

  // Again with one more epoch: the import and finished steps are skipped, training resumes from the checkpoint.
  const second = await demo(out, 2);
  assert.match(second.stderr, /0 images written, 60 already there/);
  assert.equal((second.stderr.match(/resuming .* at epoch 2/g) ?? []).length, 2);
  const again = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
  assert.deepEqual(
    again.runs.map((r) => r.epochs.length),
    [2, 2],
  );
  // A third run has nothing left to do.
  const third = await demo(out, 2);
  assert.equal((third.stderr.match(/already trained \(2 epochs\); skipping/g) ?? []).length, 2);
  assert.equal((third.stderr.match(/already$/gm) ?? []).length, 6);
  assert.ok(existsSync(join(out, 'runs', 'spikformer-1-64', 'eval.json')));
});

test('demo --sdt: the Spike-driven Transformer trained, measured and compared beside the other two', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'geospike-demo-sdt-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  await assert.rejects(
    demo(out, 1, ['--sdt', 'spikformer-2-128']),
    /--sdt takes a Spike-driven Transformer preset \(sdt-2-512, .*\), got 'spikformer-2-128'/,
  );
  const first = await demo(out, 1, ['--sdt', 'sdt-2-128']);
  for (const step of [
    '[2/8] train Spikformer',
    '[3/8] train Spike-driven Transformer (sdt-2-128',
    '[4/8] train ResNet18',
    '[5/8] evaluate all three',
    '[7/8] explain',
    '[8/8] write',
  ]) {
    assert.ok(first.stderr.includes(step), `progress lacks '${step}'`);
  }
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
  assert.equal(report.title, 'geospike demo: Spikformer vs Spike-driven Transformer vs ResNet18 on Fashion-MNIST');
  assert.deepEqual(
    report.runs.map((r) => r.preset),
    ['spikformer-1-64', 'sdt-2-128', 'resnet18-w8'],
  );
  const sdt = must(report.runs[1], 'three runs, the SDT second');
  assert.equal(sdt.eval?.n, 20);
  assert.equal(Object.keys(sdt.rates ?? {}).length, 4 + 2 * 7 + 1); // SPS, two blocks, the head LIF
  assert.deepEqual(
    report.energyRatios.map((e) => e.snn),
    ['spikformer-1-64', 'sdt-2-128'],
  );
  assert.match(
    first.stdout,
    /best validation accuracy: spikformer-1-64 [\d.]+%, sdt-2-128 [\d.]+%, resnet18-w8 [\d.]+%/,
  );
  assert.equal((first.stdout.match(/energy per image: resnet18-w8 uses/g) ?? []).length, 2);
});
