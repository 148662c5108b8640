// One process at a time per dataset folder and per run folder. Two collects appending to one manifest, or two trains
// writing one run's checkpoints, would each be correct alone and corrupt together. The lock is a file created with
// O_EXCL that names its process; a lock whose process is gone (kill -9, power loss) is taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

export const LOCK_FILE = '.geospike.lock';

interface LockInfo {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export class FolderLockedError extends Error {}

export interface FolderLock {
  readonly file: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, but another user's
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8'));
    return Number.isInteger(v?.pid) && v.pid > 0 ? (v as LockInfo) : null;
  } catch {
    return null; // unreadable or half-written: the writer died between create and write
  }
}

/** Takes `<dir>/.geospike.lock` for this process, or throws FolderLockedError naming the process that holds it. */
export function lockFolder(dir: string, what: string): FolderLock {
  const file = path.join(dir, LOCK_FILE);
  const me: LockInfo = {
    pid: process.pid,
    host: hostname(),
    command: process.argv
      .slice(1)
      .map((a) => path.basename(a))
      .join(' ')
      .slice(0, 200),
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = readLock(file);
      const stale = held === null || (held.host === me.host && !alive(held.pid));
      if (!stale) {
        throw new FolderLockedError(
          `${dir} is in use by process ${held.pid}${held.host === me.host ? '' : ` on ${held.host}`} (${held.command || 'geospike'}, since ` +
            `${held.since}); one ${what} at a time per folder: wait for it to finish or stop it. If that process is gone, delete ${file}`,
        );
      }
      unlinkSync(file); // a dead process's lock: take it over (create again, so two takers cannot both win)
      continue;
    }
    writeSync(fd, JSON.stringify(me));
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      if (readLock(file)?.pid === me.pid) unlinkSync(file);
    };
    process.on('exit', release);
    return { file, release };
  }
  throw new FolderLockedError(`${dir}: could not take ${file} (other processes keep taking it); try again`);
}
