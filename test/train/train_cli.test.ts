// `geospike train` as a process: Ctrl-C saves and exits 130 with the resume command, which continues the run with its
// own settings; kill -9 during a save leaves a
// loadable checkpoint that resumes to the end. The interrupt and the kills land at named points (GEOSPIKE_TEST_FAULT,
// src/util/test_fault.ts), not at a moment a timer or a file watcher happened to catch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../../src/engine/backend.js';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { loadModelFromCheckpoint, readCheckpoint } from '../../src/train/checkpoint.js';
import { TEST_FAULT_ENV } from '../../src/util/test_fault.js';
import { must } from '../../src/util/must.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'geospike-train-cli-'));
const data = join(root, 'data');

function trainArgs(out: string, epochs: number): string[] {
  return [
    'train',
    '--data',
    data,
    '--out',
    join(root, out),
    '--model',
    'spikformer-1-64',
    '--epochs',
    String(epochs),
    '--warmup-epochs',
    '1',
    '--batch',
    '8',
    '--time-steps',
    '2',
    '--seed',
    '5',
    '--no-estimate',
  ];
}

/**
 * Runs the CLI; `fault` arms a GEOSPIKE_TEST_FAULT point, and `onStderr` sees the child's stderr so far on each chunk.
 */
function run(args: string[], fault?: string, onStderr?: (child: ChildProcess, stderr: string) => void) {
  const env = { ...process.env };
  delete env[TEST_FAULT_ENV];
  if (fault) env[TEST_FAULT_ENV] = fault;
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => {
    err += d;
    onStderr?.(child, err);
  });
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, out, err })),
  );
}

const weights = (out: string) => readFileSync(readCheckpoint(join(root, out, 'checkpoints', 'last.json')).weightsPath);

before(async () => {
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
  await importFashionMnist({ out: data, perClass: 4, valPerClass: 1 });
});

test(
  'Ctrl-C finishes the step, saves, exits 130 with the resume command; ' + 'the resumed run matches a straight one',
  async () => {
    // The straight run also prints the estimate (two timed steps) before it starts, and the whole-run ETA per epoch.
    const straight = await run(trainArgs('straight', 2).filter((a) => a !== '--no-estimate'));
    assert.equal(straight.code, 0, straight.err);
    assert.match(
      straight.err,
      /estimate on this machine \(\w+ backend\): [\d.]+ s per step of 8, 2 epochs of 5 steps -> about \d/,
    );
    assert.match(straight.err, /peak memory about \d+(\.\d)? [MG]B/);
    assert.match(straight.err, /epoch 1\/2 .* run eta \d/);
    assert.doesNotMatch(straight.err, /epoch 2\/2 .* run eta/, 'no ETA once the last epoch is done');
    assert.match(straight.out, /done: 2 epochs;/);
    // The run pauses after step 2 until it is told to stop, so the Ctrl-C lands there, mid-epoch (5 steps), every time.
    let sent = false;
    const stopped = await run(trainArgs('stopped', 2), 'pause-after-step:2', (child, stderr) => {
      if (!sent && stderr.includes('test fault: paused after step 2')) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    assert.equal(stopped.code, 130, stopped.err);
    assert.match(stopped.err, /SIGINT: finishing the current step and saving a checkpoint/);
    const hint = /interrupted; resume with:\n\s+(npx geospike train --out (\S+) --resume)\n/.exec(stopped.out);
    assert.ok(hint, stopped.out);
    assert.equal(hint[2], join(root, 'stopped'));
    const meta = readCheckpoint(join(root, 'stopped', 'checkpoints', 'last.json')).meta;
    assert.deepEqual(meta.cursor, { epoch: 0, batch: 2 });
    assert.equal(meta.step, 2);
    assert.match(stopped.err, /stopped after step 2; checkpoint/);
    // A setting given again with another value is refused, naming both values; nothing is trained.
    const conflict = await run(['train', '--out', join(root, 'stopped'), '--resume', '--batch', '16', '--epochs', '2']);
    assert.equal(conflict.code, 1);
    assert.match(
      conflict.err,
      /--batch 16 \(from the command line\) conflicts with the run's --batch 8 in .*config\.json/,
    );
    assert.equal(readCheckpoint(join(root, 'stopped', 'checkpoints', 'last.json')).meta.step, 2);
    // The printed command, as printed (less npx), takes the run's own settings: batch 8, 2 epochs, T 2, seed 5.
    const command = must(hint[1], 'the hint holds the command');
    const resumed = await run([...command.split(' ').slice(2), '--no-estimate']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.err, /resuming .* at epoch 1, batch 2 \(step 2\)/);
    assert.ok(weights('stopped').equals(weights('straight')), 'resumed weights differ from the straight run');
  },
);

test('killed before the first checkpoint is committed, then --resume: each epoch is logged exactly once', async () => {
  // The first epoch's rows are appended, then its `last` is written but its sidecar never renamed into place.
  const out = 'killed-first';
  const killed = await run(trainArgs(out, 2), 'kill-before-rename:last.json:1');
  assert.equal(killed.signal, 'SIGKILL', `the run ended before it was killed: ${killed.err}`);
  assert.ok(!existsSync(join(root, out, 'checkpoints', 'last.json')));
  const resumed = await run([...trainArgs(out, 2), '--resume']);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /no checkpoint was committed/);
  const epochs = (file: string, parse: (l: string) => number) =>
    readFileSync(join(root, out, file), 'utf8')
      .trim()
      .split('\n')
      .map(parse);
  assert.deepEqual(epochs('summary.csv', (r) => Number(r.split(',')[0])).slice(1), [1, 2], 'summary.csv');
  assert.deepEqual(
    epochs('metrics.jsonl', (l) => JSON.parse(l).epoch),
    [1, 2],
    'metrics.jsonl',
  );
  assert.equal(readCheckpoint(join(root, out, 'checkpoints', 'last.json')).meta.epoch, 2);
  // The same kill, then the command run again without --resume (what "nothing to resume" used to suggest).
  const again = 'killed-first-again';
  assert.equal((await run(trainArgs(again, 2), 'kill-before-rename:last.json:1')).signal, 'SIGKILL');
  assert.equal((await run(trainArgs(again, 2))).code, 0);
  const rows = readFileSync(join(root, again, 'summary.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1);
  assert.deepEqual(
    rows.map((r) => Number(r.split(',')[0])),
    [1, 2],
    'summary.csv without --resume',
  );
});

test(
  'kill -9 during a checkpoint save leaves the previous checkpoint loadable, ' + 'and the run resumes to the end',
  async () => {
    // Killed (a real SIGKILL) at an exact point of the second epoch's save of `last`:
    //   its weights' temp file written, not yet renamed: a temp file is left beside the epoch-1 checkpoint;
    //   all its files renamed into place but not the sidecar (the commit point): they are orphans, last.json is
    //   epoch 1.
    const cases = [
      {
        fault: 'kill-before-rename:last-:3',
        at: /test fault: killed before renaming last-\d+\.safetensors/,
        leftover: (f: string) => f.endsWith('.tmp'),
      },
      {
        fault: 'kill-before-rename:last.json:2',
        at: /test fault: killed before renaming last\.json/,
        leftover: (f: string) => /^last-\d+\.optim\.safetensors$/.test(f),
      },
    ];
    for (const [i, { fault, at, leftover }] of cases.entries()) {
      const out = `killed-${i}`;
      const ckDir = join(root, out, 'checkpoints');
      const killed = await run(trainArgs(out, 4), fault);
      assert.equal(killed.signal, 'SIGKILL', `the run ended before it was killed: ${killed.err}`);
      assert.match(killed.err, at);
      const { model, meta } = loadModelFromCheckpoint(join(ckDir, 'last.json'));
      model.store.dispose();
      assert.equal(meta.epoch, 1, "last.json is still the first epoch's checkpoint");
      const named = readCheckpoint(join(ckDir, 'last.json'));
      const left = readdirSync(ckDir).filter(
        (f) => leftover(f) && ![named.weightsPath, named.optimizerPath].some((p) => p?.endsWith(`/${f}`)),
      );
      assert.equal(left.length, 1, `what the interrupted save left: ${readdirSync(ckDir).join(', ')}`);
      const resumed = await run([...trainArgs(out, 4), '--resume']);
      assert.equal(resumed.code, 0, resumed.err);
      assert.equal(readCheckpoint(join(ckDir, 'last.json')).meta.epoch, 4);
      assert.deepEqual(
        readdirSync(ckDir).filter((f) => f.endsWith('.tmp')),
        [],
        'temp files left behind',
      );
      const [stray = ''] = left; // one, checked above
      assert.ok(!existsSync(join(ckDir, stray)), `${stray} was not swept`);
      const rows = readFileSync(join(root, out, 'summary.csv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((r) => Number(r.split(',')[0]));
      assert.deepEqual(rows, [1, 2, 3, 4], 'each epoch logged exactly once');
    }
  },
);

// A hook, not a test: it asserts nothing, so it must not count as a passing test.
after(() => rmSync(root, { recursive: true, force: true }));
