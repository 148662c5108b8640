// The lock under pressure: many processes racing for one stale lock, a lock held by a zombie, a lock still being
// written, and a lock from another host. Each of these let two processes hold one folder, or refused a free one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { FolderLockedError, LOCK_FILE, lockFolder } from '../../src/util/lock.js';

const WORKER = path.join(import.meta.dirname, 'lock_worker.js');

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'geospike-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The pid of a process that has exited (as one killed with -9 leaves behind). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

/** A worker whose stdout lines are awaited one at a time. */
function startWorker(): { child: ChildProcessWithoutNullStreams; next: () => Promise<string> } {
  const child = spawn(process.execPath, [WORKER], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  return {
    child,
    next: () => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiting.push(r))),
  };
}

// 200 rounds of 20 processes took about 27 s on this machine's 2 shared cores
// (GEOSPIKE_LOCK_RACE_ROUNDS=200 node --test dist/test/util/lock_race.test.js); the default keeps the suite quick.
const ROUNDS = Number(process.env.GEOSPIKE_LOCK_RACE_ROUNDS ?? 40);
const RACERS = 20;

test(`${RACERS} processes racing for one stale lock: exactly one holds it, ${ROUNDS} times`, async (t) => {
  const dir = tempDir(t);
  const workers = Array.from({ length: RACERS }, startWorker);
  t.after(() => {
    for (const w of workers) w.child.kill();
  });
  const dead = deadPid();
  for (let round = 0; round < ROUNDS; round++) {
    writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: dead, host: hostname(), command: 'collect', since: 'then' }),
    );
    const at = Date.now() + 30;
    for (const w of workers) w.child.stdin.write(`go ${dir} ${at}\n`);
    const answers = await Promise.all(workers.map((w) => w.next()));
    const holders = workers.filter((_, i) => answers[i] === 'held');
    assert.equal(
      holders.length,
      1,
      `round ${round}: ${holders.length} holders; answers: ${answers.map((a) => a.slice(0, 90)).join(' | ')}`,
    );
    for (const a of answers) if (a !== 'held') assert.match(a, /in use by process/);
    const [holder] = holders;
    assert.ok(holder, 'one holder, checked above');
    holder.child.stdin.write('release\n');
    assert.equal(await holder.next(), 'released');
    assert.equal(existsSync(path.join(dir, LOCK_FILE)), false, `round ${round}: the lock outlived its release`);
  }
});

test('a lock held by a process killed with -9 and not yet reaped (a zombie) is taken over', async (t) => {
  const dir = tempDir(t);
  // `exec sleep` makes sleep the worker's parent, and sleep never reaps it: after the kill it stays a zombie.
  const parent = spawn('sh', ['-c', `"${process.execPath}" "${WORKER}" "${dir}" & exec sleep 60`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => parent.kill('SIGKILL'));
  const line = await new Promise<string>((r) => createInterface({ input: parent.stdout }).once('line', r));
  const pid = Number(line.split(' ')[1]);
  assert.ok(pid > 0, line);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 500 && !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.match(readFileSync(`/proc/${pid}/stat`, 'utf8'), /\) Z /, 'the killed worker should be a zombie now');
  const lock = lockFolder(dir, 'lock test');
  assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  lock.release();
});

test('a lock file still being written (empty, just created) is not taken over', (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, LOCK_FILE), '');
  assert.throws(() => lockFolder(dir, 'lock test'), FolderLockedError);
  assert.equal(readFileSync(path.join(dir, LOCK_FILE), 'utf8'), '', 'the lock file was replaced');
  // Old and still unreadable: its writer is gone, so it is stale.
  const old = new Date(Date.now() - 60_000);
  utimesSync(path.join(dir, LOCK_FILE), old, old);
  lockFolder(dir, 'lock test').release();
});

test('a lock from another host is never taken over, and the message says how to clear it', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, LOCK_FILE);
  writeFileSync(file, JSON.stringify({ pid: deadPid(), host: 'elsewhere', command: 'train', since: 'then' }));
  assert.throws(
    () => lockFolder(dir, 'train'),
    (err: Error) =>
      err instanceof FolderLockedError &&
      err.message.includes('on host elsewhere') &&
      err.message.includes(`delete ${file}`) &&
      /cannot check/.test(err.message),
  );
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).host, 'elsewhere');
});

test('a live pid that was started later than the lock says (a reused pid) is stale', (t) => {
  const dir = tempDir(t);
  // This process is alive, but the lock claims a start time it does not have: the pid has been reused.
  writeFileSync(
    path.join(dir, LOCK_FILE),
    JSON.stringify({ pid: process.pid, host: hostname(), start: '1', command: 'collect', since: 'then' }),
  );
  const lock = lockFolder(dir, 'lock test');
  assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).start !== '1', true);
  lock.release();
});

test(
  'on a file system without hard links the lock is created in place, ' + 'and still held against a second taker',
  async (t) => {
    const dir = tempDir(t);
    const fs = (await import('node:module')).createRequire(import.meta.url)('node:fs');
    const { syncBuiltinESMExports } = await import('node:module');
    const link = fs.linkSync;
    let refused = 0;
    fs.linkSync = () => {
      refused++;
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    };
    syncBuiltinESMExports();
    try {
      const lock = lockFolder(dir, 'lock test');
      assert.ok(refused > 0, 'the link was tried');
      assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
      assert.throws(() => lockFolder(dir, 'lock test'), /in use by process/);
      lock.release();
      assert.equal(existsSync(path.join(dir, LOCK_FILE)), false);
    } finally {
      fs.linkSync = link;
      syncBuiltinESMExports();
    }
  },
);
