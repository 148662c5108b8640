// Every command checks its arguments before it starts the compute engine: a wrong path or value fails at once with
// one line naming it. GEOSPIKE_TEST_FAULT=engine-start makes initEngine fail, so a command that started the engine
// before finding the bad argument says "test fault" instead of the argument's own message.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const env = { ...process.env, GEOSPIKE_TEST_FAULT: 'engine-start:1' };

async function geospike(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

test('the engine tripwire works: a command with good arguments reaches the engine and says so', async () => {
  const r = await geospike(['info']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'geospike: test fault: the compute engine was started\n');
});

test('a bad argument fails with its own one-line message before the engine starts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'geospike-args-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const missing = join(dir, 'missing');
  // Commands that write: nothing may appear at --out when an argument is wrong (bench and export-game start no
  // engine before their heavy work, so this is their tripwire too).
  const out = join(dir, 'out');
  const study = ['--epochs', '1', '--out', out];
  const cases: [string[], RegExp][] = [
    [['eval', '--checkpoint', missing], /no checkpoint at .*missing/],
    [['explain', '--checkpoint', missing], /no checkpoint at .*missing/],
    [['energy', '--checkpoint', missing], /no checkpoint at .*missing/],
    [['energy', '--checkpoint', missing, '--measure', '--measure-images', '0'], /--measure-images must be a whole/],
    [['predict', '--checkpoint', missing, 'photo.jpg'], /no checkpoint at .*missing/],
    [['predict', '--checkpoint', missing, 'photo.jpg', '--explain', 'map.jpg'], /--explain takes a \.png file/],
    [['play', '--checkpoint', missing, '--data', dir], /no checkpoint at .*missing/],
    [['play', '--checkpoint', missing, '--data', dir, '--seed', 'x'], /--seed must be a whole number/],
    [['play', '--checkpoint', missing, '--data', dir, '--port', '70000'], /--port must be at most 65535/],
    [['info', '--classes', '1'], /--classes must be an integer >= 2/],
    [['info', '--model', 'nosuch'], /unknown model preset 'nosuch'/],
    [['compare', dir], /is not a run folder/],
    [['train', '--data', missing, '--out', join(dir, 'run')], /is not a dataset folder/],
    [['demo', '--out', out, '--snn', 'resnet18-w16'], /--snn takes a Spikformer preset/],
    [['demo', '--out', out, '--epochs', '0'], /--epochs must be a whole number of at least 1/],
    [['demo', '--out', out, '--per-class', 'many'], /--per-class must be a whole number/],
    [['demo', '--out', out, '--backend', 'nosuch'], /unknown backend 'nosuch'/],
    [['demo', '--out', out, '--source', missing], /Fashion-MNIST file .* not found in .*missing/],
    [['study', ...study, '--data', dir, '--models', 'nosuch'], /--models: unknown preset 'nosuch'/],
    [['study', ...study, '--data', dir, '--models', 'resnet18-w8', '--lr', 'fast'], /--lr must be a number/],
    [['study', ...study, '--models', 'resnet18-w8', '--data', missing], /is not a dataset folder/],
    [['bench', '--model', 'nosuch'], /unknown model preset 'nosuch'/],
    [['bench', '--batch', '0'], /--batch must be a whole number of at least 1/],
    [['bench', '--profile', 'all'], /--profile takes kernel or shape/],
    [['bench', '--epoch', '--data', missing], /is not a dataset folder/],
    [['bench', '--engine', 'torch'], /--engine takes torch, with --epoch/],
    [
      ['bench', '--epoch', '--data', missing, '--engine', 'torch', '--device', 'tpu'],
      /--device takes auto, cpu or cuda/,
    ],
    [['import-weights', missing, '--model', 'nosuch', '--out', out], /unknown model preset 'nosuch'/],
    [['import-weights', missing, '--model', 'resnet18-w8', '--out', out, '--mean', '1,2'], /--mean must be three/],
    [['import-weights', missing, '--model', 'resnet18-w8', '--out', out, '--data', missing], /is not a dataset/],
    [['import-weights', missing, '--model', 'resnet18-w8', '--out', out], /missing does not exist/],
    [['export-game', '--checkpoint', missing, '--data', dir, '--out', out], /no checkpoint at .*missing/],
    [['export-game', '--checkpoint', `${missing},${missing},${missing}`, '--data', dir, '--out', out], /one or two/],
    [['export-game', '--checkpoint', missing, '--data', dir, '--out', out, '--seed', '-1'], /--seed must be/],
    [['export-game', '--checkpoint', missing, '--data', dir, '--out', out, '--rounds', '0'], /--rounds must be/],
  ];
  for (const [args, message] of cases) {
    const r = await geospike(args);
    const what = `geospike ${args.join(' ')}: ${r.stderr}`;
    assert.equal(r.code, 1, what);
    assert.doesNotMatch(r.stderr, /test fault/, `${what}: the engine started before the argument was checked`);
    assert.match(r.stderr, /^geospike: [^\n]+\n$/, `${what}: one line`);
    assert.match(r.stderr, message, what);
    assert.ok(!existsSync(out), `${what}: wrote ${out} before the argument was checked`);
  }
});
