// `geospike train` as a process: Ctrl-C saves and exits 0 with the resume command; kill -9 during a save leaves a
// loadable checkpoint that resumes to the end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../../src/engine/backend.js';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { loadModelFromCheckpoint, readCheckpoint } from '../../src/train/checkpoint.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'geospike-train-cli-'));
const data = join(root, 'data');

function trainArgs(out: string, epochs: number): string[] {
  return ['train', '--data', data, '--out', join(root, out), '--model', 'spikformer-1-64', '--epochs', String(epochs),
    '--warmup-epochs', '1', '--batch', '8', '--time-steps', '2', '--seed', '5'];
}

function run(args: string[], onStart?: (child: ChildProcess, stderr: () => string) => void) {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  onStart?.(child, () => err);
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, out, err })));
}

const weights = (out: string) => readFileSync(readCheckpoint(join(root, out, 'checkpoints', 'last.json')).weightsPath);

before(async () => {
  await initEngine();
  await importFashionMnist({ out: data, perClass: 4, valPerClass: 1 });
});

test('Ctrl-C finishes the step, saves, exits 0 with the resume command; the resumed run matches a straight one', async () => {
  const straight = await run(trainArgs('straight', 2));
  assert.equal(straight.code, 0, straight.err);
  const stopped = await run(trainArgs('stopped', 2), (child, stderr) => {
    const timer = setInterval(() => {
      if (stderr().includes('training spikformer-1-64')) {
        clearInterval(timer);
        child.kill('SIGINT');
      }
    }, 20);
  });
  assert.equal(stopped.code, 0, stopped.err);
  assert.match(stopped.err, /SIGINT: finishing the current step and saving a checkpoint/);
  assert.match(stopped.out, /interrupted; resume with:\n\s+geospike train --out .*stopped --data .* --model spikformer-1-64 --resume/);
  const meta = readCheckpoint(join(root, 'stopped', 'checkpoints', 'last.json')).meta;
  // Stopped within the first epoch (5 steps), after the step in progress: not at an epoch boundary.
  assert.equal(meta.cursor.epoch, 0, `stopped at ${JSON.stringify(meta.cursor)}`);
  assert.ok(meta.cursor.batch >= 1 && meta.cursor.batch < 5, `stopped at ${JSON.stringify(meta.cursor)}`);
  assert.match(stopped.err, /stopped after step \d+; checkpoint/);
  const resumed = await run([...trainArgs('stopped', 2), '--resume']);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resuming .* at epoch 1, batch [1-4] \(step [1-4]\)/);
  assert.ok(weights('stopped').equals(weights('straight')), 'resumed weights differ from the straight run');
});

test('kill -9 during a checkpoint save leaves the previous checkpoint loadable, and the run resumes to the end', async () => {
  for (const nth of [1, 3]) {
    const out = `killed-${nth}`;
    const ckDir = join(root, out, 'checkpoints');
    const killed = await run(trainArgs(out, 4), (child) => {
      // Watch the folder; once a checkpoint exists, kill at the nth temp file of a later save.
      let seen = 0;
      const timer = setInterval(() => {
        if (!existsSync(ckDir)) return;
        clearInterval(timer);
        const w = watch(ckDir, (_e, name) => {
          if (!name?.endsWith('.tmp') || !existsSync(join(ckDir, 'last.json'))) return;
          if (++seen === nth) {
            child.kill('SIGKILL');
            w.close();
          }
        });
        child.on('close', () => w.close());
      }, 5);
    });
    assert.equal(killed.signal, 'SIGKILL', `the run ended before it was killed: ${killed.err}`);
    // Whatever moment the kill hit, last.json names files that exist and load.
    const { model, meta } = loadModelFromCheckpoint(join(ckDir, 'last.json'));
    model.store.dispose();
    assert.ok(meta.epoch >= 1);
    const resumed = await run([...trainArgs(out, 4), '--resume']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.equal(readCheckpoint(join(ckDir, 'last.json')).meta.epoch, 4);
    assert.deepEqual(readdirSync(ckDir).filter((f) => f.endsWith('.tmp')), [], 'temp files left behind');
    const rows = readFileSync(join(root, out, 'summary.csv'), 'utf8').trim().split('\n').slice(1).map((r) => Number(r.split(',')[0]));
    assert.deepEqual(rows, [1, 2, 3, 4], 'each epoch logged exactly once');
  }
});

// A hook, not a test: it asserts nothing, so it must not count as a passing test.
after(() => rmSync(root, { recursive: true, force: true }));
