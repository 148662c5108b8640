// Crash-safe file replacement: write a temp file beside the target, fsync it, rename it over the target.
// A reader (or a process killed mid-write) sees the old file or the new one, never a mix.
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { diskFullForTest, killBeforeRenameForTest } from '../util/test_fault.js';

export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx');
    try {
      diskFullForTest(file);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    killBeforeRenameForTest(file);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOSPC' ? 'the disk is full; free some space and run again' : e.message;
    throw new Error(`cannot write ${file}: ${why}`, { cause: err });
  }
  await syncDir(dirname(file));
}

/** Persist a rename; some file systems refuse fsync on directories, which is fine. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    /* best effort */
  }
}
