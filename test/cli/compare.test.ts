// `geospike compare` and the eval/energy commands' refusals, run as a person would run them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { parse } from 'node-html-parser';
import { tempRoot, writeRun } from '../eval/run_fixtures.js';

const execFileP = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const geospike = (...args: string[]) => execFileP(process.execPath, [CLI, ...args]);
const fails = async (args: string[], message: RegExp) => {
  await assert.rejects(geospike(...args), (err: { stderr: string; code: number }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, message);
    assert.doesNotMatch(err.stderr, /\n\s+at /, 'a message, not a stack trace');
    return true;
  });
};

test('compare writes the HTML report and report.json beside it', async (t) => {
  const root = tempRoot(t);
  const a = writeRun(root, 'snn', 'spikformer-1-64', { epochs: 2, accs: [0.5, 0.6], seconds: 30 });
  const b = writeRun(root, 'ann', 'resnet18-w8', { epochs: 2, accs: [0.55, 0.58], seconds: 12 });
  const out = join(root, 'out', 'cmp.html');
  const { stdout } = await geospike('compare', a.dir, b.dir, '--out', out, '--title', 'Two runs');
  assert.match(stdout, /report: .*cmp\.html/);
  const json = JSON.parse(readFileSync(join(root, 'out', 'cmp.json'), 'utf8'));
  assert.deepEqual(
    json.runs.map((r: { name: string }) => r.name),
    ['snn', 'ann'],
  );
  const doc = parse(readFileSync(out, 'utf8'));
  assert.equal(doc.querySelector('h1')!.text, 'Two runs');
  assert.ok(doc.querySelectorAll('svg.chart').length >= 9);
});

test('compare, eval and energy refuse bad input with a clear message', async (t) => {
  const root = tempRoot(t);
  await fails(['compare', root, '--out', join(root, 'r.html')], /is not a run folder: config\.json is missing/);
  assert.ok(!existsSync(join(root, 'r.html')));
  await fails(['eval', '--checkpoint', join(root, 'nope.json')], /nope\.json/);
  await fails(
    ['eval', '--checkpoint', join(root, 'x.json'), '--split', 'test'],
    /--split must be 'validation' or 'train'/,
  );
  await fails(['energy', '--checkpoint', join(root, 'x.json'), '--costs', '7nm'], /unknown energy preset '7nm'/);
  await fails(['energy', '--checkpoint', join(root, 'x.json'), '--e-ac', '-2'], /--e-ac must be a positive number/);
});
