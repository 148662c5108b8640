// One process at a time per dataset folder and per run folder: a second collect/import or train is refused with a
// message naming the process that holds the folder; a lock left by a killed process is taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatasetWriter } from '../../src/data/writer.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/loop.js';
import { LOCK_FILE, lockFolder } from '../../src/util/lock.js';
import { tempDir } from '../data/helpers.js';

/** The pid of a process that has exited (as one killed with -9 leaves behind). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test(
  'a second writer on a dataset folder is refused, ' + 'naming the process; after close the folder is free',
  async (t) => {
    const dir = tempDir(t);
    const first = await DatasetWriter.open(dir, ['a', 'b']);
    await assert.rejects(
      DatasetWriter.open(dir, ['a', 'b']),
      new RegExp(`in use by process ${process.pid} .*one collect or import at a time`),
    );
    await first.close();
    assert.equal(existsSync(path.join(dir, LOCK_FILE)), false);
    const again = await DatasetWriter.open(dir, ['a', 'b']);
    await again.close();
  },
);

test('a lock left by a dead process is taken over; an unreadable one too', async (t) => {
  const dir = tempDir(t);
  await (await DatasetWriter.open(dir, ['a'])).close();
  const pid = deadPid();
  writeFileSync(
    path.join(dir, LOCK_FILE),
    JSON.stringify({ pid, host: (await import('node:os')).hostname(), command: 'collect', since: 'then' }),
  );
  const w = await DatasetWriter.open(dir, ['a']);
  assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  await w.close();
  // Unreadable and old (a fresh one may still be being written: see lock_race.test.ts).
  writeFileSync(path.join(dir, LOCK_FILE), '{"pi');
  const old = new Date(Date.now() - 60_000);
  utimesSync(path.join(dir, LOCK_FILE), old, old);
  await (await DatasetWriter.open(dir, ['a'])).close();
});

test('a second train on a run folder is refused before any work, naming the process', async (t) => {
  const out = tempDir(t);
  const lock = lockFolder(out, 'train');
  try {
    const cfg = resolveTrainConfig(
      {},
      { data: path.join(out, 'no-such-data'), out, model: 'resnet18-w8', epochs: 2, warmupEpochs: 0 },
    );
    await assert.rejects(
      train(cfg, { log: () => {} }),
      new RegExp(`in use by process ${process.pid} .*one train at a time`),
    );
  } finally {
    lock.release();
  }
  assert.equal(existsSync(path.join(out, LOCK_FILE)), false);
});
