// Writes a dataset folder crash-safely: each image (and display copy) is written and fsynced, then its folder is
// fsynced, then its manifest line is appended; the manifest is the commit record. Opening a folder again cuts a torn
// last manifest line, deletes files the manifest does not list, and drops (with a logged reason) every line whose
// 32x32 image is missing or no longer has its recorded sha256, so a run killed at any moment (even kill -9, or a
// power loss) resumes from a consistent state and refetches what was lost.
// Group commit: adds whose files are synced wait together for one fsync per folder and one manifest write of all
// their lines. A commit starts as soon as one add is ready and none is under way, so a lone add is never held back;
// under load the adds that became ready during one commit form the next.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkClassName, type ManifestEntry, parseManifest, sameClasses, type Split, SPLITS } from './manifest.js';
import { type FolderLock, lockFolder } from '../util/lock.js';
import { syncDir, writeFileAtomic, writeFileDurable } from '../io/atomic.js';
import { killInGroupForTest } from '../util/test_fault.js';

export const CLASSES_FILE = 'classes.json';
export const MANIFEST_FILE = 'manifest.jsonl';

export function imagePath(dir: string, e: { split: Split; class: string; id: string }): string {
  return path.join(dir, e.split, e.class, `${e.id}.png`);
}
export function displayPath(dir: string, e: { class: string; id: string }): string {
  return path.join(dir, 'display', e.class, `${e.id}.jpg`);
}

interface Ready {
  line: string;
  folders: string[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class DatasetWriter {
  private readonly ids = new Set<string>();
  /** Adds whose files are synced, waiting for the next commit. */
  private ready: Ready[] = [];
  private committing: Promise<void> | undefined;
  /** A failed manifest write: it may have left part of a line, so nothing more is appended after it. */
  private failed: unknown;
  private readonly counts = new Map<string, { train: number; validation: number }>();
  private constructor(
    readonly dir: string,
    readonly classes: string[],
    readonly entries: ManifestEntry[],
    private readonly manifest: fs.FileHandle,
    private readonly lock: FolderLock,
  ) {
    for (const c of classes) this.counts.set(c, { train: 0, validation: 0 });
    for (const e of entries) this.track(e);
  }

  /** Opens (creating if needed) the dataset folder `dir` for `classes`, repairing what an interrupted run left. */
  static async open(dir: string, classes: string[], log: (line: string) => void = () => {}): Promise<DatasetWriter> {
    if (classes.length < 1) throw new Error('a dataset needs at least one class');
    for (const c of classes) checkClassName(c);
    if (new Set(classes).size !== classes.length) throw new Error(`class names repeat: ${classes.join(', ')}`);
    await fs.mkdir(dir, { recursive: true });
    const lock = lockFolder(dir, 'collect or import');
    try {
      return await DatasetWriter.openLocked(dir, classes, lock, log);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  private static async openLocked(
    dir: string,
    classes: string[],
    lock: FolderLock,
    log: (line: string) => void,
  ): Promise<DatasetWriter> {
    const classesFile = path.join(dir, CLASSES_FILE);
    const existing = await readJsonIfExists(classesFile);
    if (existing === undefined) {
      await writeFileAtomic(classesFile, JSON.stringify(classes, null, 2) + '\n');
    } else if (!sameClasses(existing, classes)) {
      throw new Error(
        `${dir} already holds a dataset with classes ${JSON.stringify(existing)}, not ${JSON.stringify(classes)}; ` +
          'choose another --out folder, or the same classes in the same order to continue it',
      );
    }
    for (const s of [...SPLITS, 'display'])
      for (const c of classes) await fs.mkdir(path.join(dir, s, c), { recursive: true });

    const manifestFile = path.join(dir, MANIFEST_FILE);
    const text = await fs
      .readFile(manifestFile, 'utf8')
      .catch((err) => (err.code === 'ENOENT' ? '' : Promise.reject(err)));
    const parsed = parseManifest(text, manifestFile);
    if (parsed.tornBytes > 0) await fs.truncate(manifestFile, Buffer.byteLength(text) - parsed.tornBytes);
    for (const e of parsed.entries) {
      if (!classes.includes(e.class))
        throw new Error(`${manifestFile} lists class '${e.class}', which is not in ${CLASSES_FILE}`);
    }
    const entries = await keepIntact(dir, parsed.entries, log);
    if (entries.length < parsed.entries.length) {
      await writeFileAtomic(manifestFile, entries.map((e) => JSON.stringify(e) + '\n').join(''));
    }
    await removeUnlisted(dir, classes, entries);
    const handle = await fs.open(manifestFile, 'a');
    return new DatasetWriter(dir, classes, entries, handle, lock);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  count(cls: string): { train: number; validation: number } {
    const c = this.counts.get(cls);
    if (!c) throw new Error(`unknown class '${cls}'`);
    return { ...c };
  }

  /**
   * Writes the 32x32 PNG (and display JPEG) and syncs them, then waits for the commit that syncs their folders and
   * appends the manifest line. Returns the full entry once its line is written.
   */
  async add(entry: Omit<ManifestEntry, 'sha256'>, png: Buffer, display?: Buffer): Promise<ManifestEntry> {
    if (this.failed !== undefined) throw this.failed;
    if (this.ids.has(entry.id)) throw new Error(`image id '${entry.id}' is already in the dataset`);
    if (!this.counts.has(entry.class)) throw new Error(`unknown class '${entry.class}'`);
    this.ids.add(entry.id); // reserve before the awaits so concurrent adds of one id cannot both pass
    const full: ManifestEntry = { ...entry, sha256: createHash('sha256').update(png).digest('hex') };
    const files = [imagePath(this.dir, full), ...(display ? [displayPath(this.dir, full)] : [])];
    try {
      const written = await Promise.allSettled([
        writeFileDurable(files[0], png),
        display && writeFileDurable(files[1], display),
      ]);
      const failed = written.find((w) => w.status === 'rejected');
      if (failed) throw failed.reason;
      killInGroupForTest();
      await new Promise<void>((resolve, reject) => {
        this.ready.push({
          line: JSON.stringify(full) + '\n',
          folders: files.map((f) => path.dirname(f)),
          resolve,
          reject,
        });
        this.committing ??= this.commitReady();
      });
    } catch (err) {
      // No file stays without its line: the folder holds only listed files, as open() leaves it.
      await Promise.all(files.map((f) => fs.rm(f, { force: true })));
      this.ids.delete(entry.id);
      throw err;
    }
    this.entries.push(full);
    this.counts.get(full.class)![full.split]++;
    return full;
  }

  // Commits groups until no add is waiting: the folders' new entries first (fsync), then the lines in one write, so a
  // kill leaves whole lines plus at most a torn tail that open() cuts off.
  private async commitReady(): Promise<void> {
    while (this.ready.length > 0) {
      const group = this.ready;
      this.ready = [];
      try {
        if (this.failed !== undefined) throw this.failed;
        await Promise.all([...new Set(group.flatMap((r) => r.folders))].map(syncDir));
        await this.manifest.write(group.map((r) => r.line).join(''));
        for (const r of group) r.resolve();
      } catch (err) {
        this.failed ??= err;
        for (const r of group) r.reject(err);
      }
    }
    this.committing = undefined;
  }

  async close(): Promise<void> {
    try {
      await this.manifest.close();
    } finally {
      this.lock.release();
    }
  }

  private track(e: ManifestEntry): void {
    if (this.ids.has(e.id))
      throw new Error(`${MANIFEST_FILE} lists image id '${e.id}' twice; remove the duplicate line`);
    this.ids.add(e.id);
    this.counts.get(e.class)![e.split]++;
  }
}

async function readJsonIfExists(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; it should be an array of class names in label order`);
  }
}

// Files an interrupted run wrote but never recorded (and its temp files) are deleted, so every file is listed.
async function removeUnlisted(dir: string, classes: string[], entries: ManifestEntry[]): Promise<void> {
  const listed = new Set<string>();
  for (const e of entries) {
    listed.add(imagePath(dir, e));
    listed.add(displayPath(dir, e));
  }
  for (const s of [...SPLITS, 'display']) {
    for (const c of classes) {
      const folder = path.join(dir, s, c);
      for (const name of await fs.readdir(folder)) {
        const file = path.join(folder, name);
        if (!listed.has(file)) await fs.rm(file, { force: true, recursive: false });
      }
    }
  }
}

// Entries whose image is on disk with the recorded sha256; the others are logged and left out, to be fetched again.
async function keepIntact(
  dir: string,
  entries: ManifestEntry[],
  log: (line: string) => void,
): Promise<ManifestEntry[]> {
  const kept: ManifestEntry[] = [];
  for (const e of entries) {
    const file = imagePath(dir, e);
    const bytes = await fs
      .readFile(file)
      .catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
    const why =
      bytes === null
        ? 'its image is missing'
        : createHash('sha256').update(bytes).digest('hex') !== e.sha256
          ? 'its image does not match the recorded sha256'
          : null;
    if (why)
      log(
        `${MANIFEST_FILE}: dropping '${e.id}' (${e.class}, ${e.split}): ${why}; it will be fetched or imported again`,
      );
    else kept.push(e);
  }
  return kept;
}
