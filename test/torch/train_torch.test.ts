// `geospike train --engine torch` as a process, on a tiny Fashion-MNIST dataset and resnet18-w8 (no spikes, so
// every comparison is of plain float arithmetic): TypeScript `eval` of the torch run agrees with torch's own
// validation; Ctrl-C and kill -9 then --resume end where a straight run ends; two gloo processes with --sync-bn take
// the steps one process takes; a run moves between engines.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { readSafetensors, toFloat32 } from '../../src/io/safetensors.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { TEST_FAULT_ENV } from '../../src/util/test_fault.js';
import { torchMissing } from '../helpers/torch.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'geospike-torch-train-'));
const data = join(root, 'data');
const skip = torchMissing();

before(async () => {
  if (!skip) await importFashionMnist({ out: data, perClass: 8, valPerClass: 2 }); // 80 train: 5 steps of 16
});
after(() => rmSync(root, { recursive: true, force: true }));

const args = (out: string, epochs: number, extra: string[] = [], lr = '0.01') => [
  'train',
  '--engine',
  'torch',
  '--data',
  data,
  '--out',
  join(root, out),
  '--model',
  'resnet18-w8',
  '--epochs',
  String(epochs),
  '--warmup-epochs',
  '0.5',
  '--batch',
  '16',
  '--lr',
  lr,
  '--seed',
  '3',
  ...extra,
];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Runs the CLI in its own process group; `onStderr` may stop it (the group, so the trainer under it too). */
function run(argv: string[], fault?: string, onStderr?: (pid: number, stderr: string) => void): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: '1' };
  delete env[TEST_FAULT_ENV];
  if (fault) env[TEST_FAULT_ENV] = fault;
  const child = spawn(process.execPath, [cli, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => {
    err += d;
    onStderr?.(child.pid!, err);
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })));
}

const weightsOf = (out: string, kind = 'last') => {
  const ck = readCheckpoint(join(root, out, 'checkpoints', `${kind}.json`));
  return { meta: ck.meta, tensors: readSafetensors(ck.weightsPath).tensors, path: ck.weightsPath };
};

function maxDiff(a: string, b: string): number {
  const ta = weightsOf(a).tensors;
  const tb = weightsOf(b).tensors;
  assert.deepEqual([...ta.keys()].sort(), [...tb.keys()].sort());
  let worst = 0;
  for (const [k, t] of ta) {
    if (t.dtype !== 'F32') continue;
    const x = toFloat32(t);
    const y = toFloat32(tb.get(k)!);
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  return worst;
}

test('a torch run: TypeScript eval of its checkpoints gives the accuracy torch measured', { skip }, async () => {
  const r = await run(args('straight', 3));
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /engine torch .* on cpu/);
  assert.match(r.err, /epoch 3\/3 5\/5 .* eta/);
  const config = JSON.parse(readFileSync(join(root, 'straight', 'config.json'), 'utf8'));
  assert.equal(config.engine, 'torch');
  assert.equal(config.weightDecayRule, 'timm-filter-bias-and-bn');
  const rows = readFileSync(join(root, 'straight', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    rows.map((row) => row.epoch),
    [1, 2, 3],
  );
  for (const kind of ['best', 'last']) {
    const { meta } = weightsOf('straight', kind);
    const row = rows[meta.epoch - 1];
    const ev = await run([
      'eval',
      '--checkpoint',
      join(root, 'straight', 'checkpoints', `${kind}.json`),
      '--json',
      '--no-save',
    ]);
    assert.equal(ev.code, 0, ev.err);
    const result = JSON.parse(ev.out);
    assert.equal(result.accuracy, row.val_acc, `${kind}: TypeScript eval ${result.accuracy}, torch ${row.val_acc}`);
  }
});

test('Ctrl-C mid-epoch, kill -9 mid-run and kill -9 mid-save, then --resume: the weights a straight run ends with', {
  skip,
}, async () => {
  let sent = false;
  const stopped = await run(args('stopped', 3), 'pause-after-step:7', (pid, stderr) => {
    if (!sent && stderr.includes('test fault: paused after step 7')) {
      sent = true;
      process.kill(-pid, 'SIGINT');
    }
  });
  assert.equal(stopped.code, 130, stopped.err);
  assert.match(stopped.out, /interrupted; resume with:\n\s+npx geospike train --engine torch --out .*stopped --resume/);
  assert.deepEqual(weightsOf('stopped').meta.cursor, { epoch: 1, batch: 2 });
  const resumed = await run([...args('stopped', 3), '--resume']);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resuming .* at epoch 2, batch 2 \(step 7\)/);

  let killed = false;
  const dead = await run(args('killed', 3), 'pause-after-step:12', (pid, stderr) => {
    if (!killed && stderr.includes('test fault: paused after step 12')) {
      killed = true;
      process.kill(-pid, 'SIGKILL');
    }
  });
  assert.equal(dead.signal, 'SIGKILL');
  assert.equal(weightsOf('killed').meta.step, 10, 'the last checkpoint is the end of epoch 2');
  const again = await run([...args('killed', 3), '--resume']);
  assert.equal(again.code, 0, again.err);

  // Killed between writing the second `last` sidecar and renaming it over the first: epoch 1's checkpoint stays whole.
  const torn = await run(args('torn', 3), 'kill-before-rename:last.json:2');
  assert.equal(torn.code, 1);
  assert.match(torn.err, /the torch trainer was killed \(SIGKILL\); run the same command with --resume/);
  assert.equal(weightsOf('torn').meta.step, 5, 'the last whole checkpoint is the end of epoch 1');
  const mended = await run([...args('torn', 3), '--resume']);
  assert.equal(mended.code, 0, mended.err);
  for (const out of ['stopped', 'killed', 'torn']) {
    assert.equal(maxDiff(out, 'straight'), 0, `${out} ends where the straight run does`);
    // Everything but the timings (epoch_seconds, images_per_s) is the straight run's, epoch for epoch.
    const table = (o: string) =>
      readFileSync(join(root, o, 'summary.csv'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(',').slice(0, 6).join(','));
    assert.deepEqual(table(out), table('straight'));
  }
});

test('two gloo processes with --sync-bn take the steps one process takes (same global batch)', { skip }, async () => {
  // lr 1e-3: Adam's first steps move a weight by about lr whatever its gradient's size, so a gradient near zero whose
  // last bits differ (8 + 8 rows summed instead of 16) moves a weight by a share of lr; at 1e-2 that reaches 2e-3.
  const one = await run(args('one', 1, ['--sync-bn'], '0.001'));
  assert.equal(one.code, 0, one.err);
  const two = await run(args('two', 1, ['--gpus', '2', '--sync-bn', '--device', 'cpu'], '0.001'));
  assert.equal(two.code, 0, two.err);
  assert.match(two.err, /x 2 processes/);
  const d = maxDiff('one', 'two');
  assert.ok(d <= 1e-5, `largest weight difference ${d}`);
});

test('a run started on the ts engine continues on torch, and a torch run on ts', { skip }, async () => {
  // A resumed run keeps its settings (a changed --epochs is refused), so the ts run is planned for 3 epochs and
  // stopped after each one's first step; each engine then carries it one epoch further.
  const onTs = (a: string[]) => a.filter((x) => x !== 'torch' && x !== '--engine');
  // One Ctrl-C (stderr is the whole text so far, and a second Ctrl-C would quit without saving).
  const stopAt = (step: number) => {
    let sent = false;
    return (pid: number, stderr: string) => {
      if (sent || !stderr.includes(`test fault: paused after step ${step}`)) return;
      sent = true;
      process.kill(-pid, 'SIGINT');
    };
  };
  const ts = await run(onTs(args('moved', 3)), 'pause-after-step:5', stopAt(5));
  assert.equal(ts.code, 130, ts.err);
  const onTorch = await run([...args('moved', 3), '--resume'], 'pause-after-step:10', stopAt(10));
  assert.equal(onTorch.code, 130, onTorch.err);
  assert.match(onTorch.err, /was trained by the ts engine; continuing it on torch/);
  // The run keeps the weight-decay rule it started with (timm's grouping, recorded by the ts trainer).
  assert.doesNotMatch(onTorch.err, /records no weightDecayRule/);
  const config = JSON.parse(readFileSync(join(root, 'moved', 'config.json'), 'utf8'));
  assert.equal(config.weightDecayRule, 'timm-filter-bias-and-bn');
  const meta = weightsOf('moved').meta;
  assert.equal(meta.step, 10);
  assert.equal((meta.train as Record<string, unknown>).engine, 'torch');
  const backOnTs = await run([...onTs(args('moved', 3)), '--resume']);
  assert.equal(backOnTs.code, 0, backOnTs.err);
  assert.equal(weightsOf('moved').meta.step, 15);
  const refused = await run([...args('moved', 3, ['--batch', '8']), '--resume']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /--batch 8 .*conflicts with the run's --batch 16/);
});
