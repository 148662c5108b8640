// Crash-safe file replacement: write a temp file beside the target, fsync it, rename it over the target.
// A reader (or a process killed mid-write) sees the old file or the new one, never a mix. Also the plain durable
// write for files that a later record commits.
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { diskFullForTest, killBeforeRenameForTest } from '../util/test_fault.js';

export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeSynced(tmp, 'wx', file, data);
    killBeforeRenameForTest(file);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw writeError(file, err);
  }
  await syncDir(dirname(file));
}

/**
 * Creates `file` (it must not exist: a file already there is not geospike's to replace) and fsyncs it, without a temp
 * name, a rename or a folder sync: for files that something else commits (a dataset image, listed by its manifest line
 * only once it and its folder are synced), where a half-written file is never read. On an error after the file was
 * created, the partial file is removed; a file that was already there is never touched.
 */
export async function writeFileDurable(file: string, data: Uint8Array | string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'wx');
  } catch (err) {
    throw writeError(file, err);
  }
  try {
    diskFullForTest(file);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(file).catch(() => {});
    throw writeError(file, err);
  }
  await fh.close();
}

/** Writes all of `text` at the handle's position (an append handle: at the end), looping over short writes. */
export async function writeAll(fh: FileHandle, text: string): Promise<void> {
  const buf = Buffer.from(text);
  for (let at = 0; at < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, at, buf.length - at);
    if (bytesWritten <= 0) throw new Error(`write made no progress (${bytesWritten} bytes written)`);
    at += bytesWritten;
  }
}

/** Writes data to path (opened with flags) and fsyncs it; `file` is the name the disk-full test point matches. */
async function writeSynced(path: string, flags: string, file: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, flags);
  try {
    diskFullForTest(file);
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function writeError(file: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const why = e.code === 'ENOSPC' ? 'the disk is full; free some space and run again' : e.message;
  return new Error(`cannot write ${file}: ${why}`, { cause: err });
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
