// One process at a time per dataset folder and per run folder. Two collects appending to one manifest, or two trains
// writing one run's checkpoints, would each be correct alone and corrupt together.
// The scheme: a uniquely named temp file is filled completely (pid, host, boot id, process start time, a random
// token) and fsynced, then hard-linked to `.geospike.lock`, which fails if the lock exists; so the lock file is never
// seen half-written. A lock whose process is gone (kill -9, a zombie, a reused pid, a reboot) is taken over by
// renaming a new full file over it, but only by the one process that creates `.geospike.lock.takeover-<token>` for
// that exact stale lock and then finds it still in place; a lock from another host is never taken over.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

export const LOCK_FILE = '.geospike.lock';

interface LockInfo {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id: a lock from before a reboot is stale whatever its pid. */
  boot?: string;
  /** Field 22 of /proc/<pid>/stat (start time in ticks since boot): tells a reused pid from the holder. */
  start?: string;
  /** Random; names this lock instance (for takeover and release). */
  token?: string;
  command: string;
  since: string;
}

export class FolderLockedError extends Error {}

export interface FolderLock {
  readonly file: string;
  release(): void;
}

/** An unreadable lock younger than this may be a lock being written by a geospike without the link scheme. */
const UNREADABLE_GRACE_MS = 5_000;
/** Tries (each after a short sleep while another process is mid-takeover) before giving up. */
const ATTEMPTS = 400;

const PROC = existsSync('/proc/self/stat');
const BOOT_ID = readOr('/proc/sys/kernel/random/boot_id');

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** State and start time of a process from /proc/<pid>/stat, or null when there is no such process. */
export function procStat(pid: number): { state: string; start: string } | null {
  const text = readOr(`/proc/${pid}/stat`);
  if (text === undefined) return null;
  // Field 2 (the command name, in parentheses) may hold spaces and ')': the fixed fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, start] = [rest[0], rest[19]]; // fields 3 and 22
  if (state === undefined || start === undefined)
    throw new Error(`/proc/${pid}/stat has fewer fields than Linux writes: '${text.slice(0, 120)}'`);
  return { state, start };
}

/**
 * Whether the process that wrote `info` (on this host) still
 * runs. A zombie (`Z`) has exited: it only waits to be reaped.
 */
function alive(info: LockInfo): boolean {
  if (info.boot && BOOT_ID && info.boot !== BOOT_ID) return false;
  if (PROC) {
    const st = procStat(info.pid);
    if (st === null || st.state === 'Z' || st.state === 'X') return false;
    return info.start === undefined || st.start === info.start;
  }
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, but another user's
  }
}

interface Seen {
  text: string;
  info: LockInfo | null;
  ino: number;
  mtimeMs: number;
}

/** The lock file as it is now, or null when there is none. */
function look(file: string): Seen | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    const text = readFileSync(fd, 'utf8');
    let info: LockInfo | null = null;
    try {
      const v = JSON.parse(text);
      if (Number.isInteger(v?.pid) && v.pid > 0 && typeof v.host === 'string') info = v as LockInfo;
    } catch {
      /* unreadable: see UNREADABLE_GRACE_MS */
    }
    return { text, info, ino: st.ino, mtimeMs: st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Writes `text` to a new file `file` (failing if it exists) and fsyncs it. */
function writeNew(file: string, text: string): void {
  const fd = openSync(file, 'wx');
  try {
    const buf = Buffer.from(text);
    for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** What link(2) fails with on file systems without hard links (FAT, exFAT, some network shares). */
const NO_LINKS = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'];

/**
 * Without hard links: create the lock exclusively and fill it. A reader may see it empty for a moment, which is why
 * an unreadable lock is only stale after UNREADABLE_GRACE_MS. False when the lock exists.
 */
function createFilled(file: string, text: string): boolean {
  try {
    writeNew(file, text);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Replaces the stale lock `seen` with `tmp`, if this process is the one to do it: the takeover file is created
 * exclusively, and while it exists no other process can change a lock that is still `seen` (its holder is dead, and
 * every other taker needs the same takeover file), so checking that the lock is still `seen` and then renaming is safe.
 */
function takeOver(file: string, seen: Seen, tmp: string): boolean {
  const id = seen.info?.token ?? `${seen.ino}-${seen.mtimeMs}-${Buffer.from(seen.text).toString('hex').slice(0, 32)}`;
  const claim = `${file}.takeover-${id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 120)}`;
  try {
    writeNew(claim, String(process.pid));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false; // another process is taking it over
    throw err;
  }
  try {
    const now = look(file);
    if (now === null || now.ino !== seen.ino || now.text !== seen.text) return false;
    renameSync(tmp, file);
    return true;
  } finally {
    unlinkSync(claim);
  }
}

function lockedMessage(dir: string, file: string, held: LockInfo, what: string): string {
  const who = `process ${held.pid} (${held.command || 'geospike'}, since ${held.since})`;
  if (held.host !== hostname()) {
    return (
      `${dir} is locked by ${who} on host ${held.host}, which this machine cannot check; one ${what} at a time per ` +
      `folder. If no geospike runs on ${held.host} any more, delete ${file}`
    );
  }
  return `${dir} is in use by ${who}; one ${what} at a time per folder: wait for it to finish or stop it`;
}

/** Takes `<dir>/.geospike.lock` for this process, or throws FolderLockedError naming the process that holds it. */
export function lockFolder(dir: string, what: string): FolderLock {
  const file = path.join(dir, LOCK_FILE);
  const token = randomBytes(8).toString('hex');
  const me: LockInfo = {
    pid: process.pid,
    host: hostname(),
    boot: BOOT_ID,
    start: PROC ? procStat(process.pid)?.start : undefined,
    token,
    command: process.argv
      .slice(1)
      .map((a) => path.basename(a))
      .join(' ')
      .slice(0, 200),
    since: new Date().toISOString(),
  };
  const tmp = path.join(dir, `${LOCK_FILE}.${token}.tmp`);
  writeNew(tmp, JSON.stringify(me));
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        linkSync(tmp, file);
        return hold(file, token);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code && NO_LINKS.includes(code)) {
          if (createFilled(file, JSON.stringify(me))) return hold(file, token);
        } else if (code !== 'EEXIST') throw err;
      }
      const seen = look(file);
      if (seen === null) continue; // released just now
      if (seen.info !== null) {
        if (seen.info.host !== me.host || alive(seen.info))
          throw new FolderLockedError(lockedMessage(dir, file, seen.info, what));
      } else if (Date.now() - seen.mtimeMs < UNREADABLE_GRACE_MS) {
        if (attempt === ATTEMPTS - 1) break;
        sleepMs(5); // being written by a process without the link scheme: wait for it to become readable
        continue;
      }
      if (takeOver(file, seen, tmp)) return hold(file, token);
      sleepMs(1 + (attempt % 4)); // another process is taking it over: see what it made of it
    }
  } finally {
    try {
      unlinkSync(tmp); // linked (the lock keeps its own name) or unused; gone after a takeover
    } catch {
      /* renamed over the lock */
    }
  }
  throw new FolderLockedError(
    `${dir}: could not take ${file} (it stays unreadable, or another process is stuck taking it over); if no ` +
      `geospike ` +
      `is running, delete ${file} and any ${LOCK_FILE}.takeover-* file beside it`,
  );
}

function hold(file: string, token: string): FolderLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    // Only this instance's lock: a takeover after a wrong staleness verdict must not be undone by the old holder.
    if (look(file)?.info?.token === token) unlinkSync(file);
  };
  process.on('exit', release);
  return { file, release };
}
