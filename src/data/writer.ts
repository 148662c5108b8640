// Writes a dataset folder crash-safely: each image (and display copy) is written and fsynced, then its folder is
// fsynced, then its manifest line is appended; the manifest is the commit record. Before an image's files are
// created, their names are appended to the pending journal (.geospike-pending) and synced: that journal is geospike's
// proof that it wrote a file. Opening a folder again cuts a torn last manifest line, drops (with a logged reason)
// every line whose 32x32 image is missing or no longer has its recorded sha256, and deletes the journaled files the
// manifest does not list, so a run killed at any moment (even kill -9, or a power loss) resumes from a consistent
// state and refetches what was lost. Anything else in the folder is the user's: it is never deleted or overwritten.
// Group commit: adds whose files are synced wait together for one fsync per folder and one manifest write of all
// their lines. A commit starts as soon as one add is ready and none is under way, so a lone add is never held back;
// under load the adds that became ready during one commit form the next.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkClassName, type ManifestEntry, parseManifest, sameClasses, type Split, SPLITS } from './manifest.js';
import { type FolderLock, LOCK_FILE, lockFolder } from '../util/lock.js';
import { syncDir, writeAll, writeFileAtomic, writeFileDurable } from '../io/atomic.js';
import { killInGroupForTest } from '../util/test_fault.js';

export const CLASSES_FILE = 'classes.json';
export const MANIFEST_FILE = 'manifest.jsonl';
/** Relative paths of image files about to be created, one a line: the files geospike may delete if never listed. */
export const JOURNAL_FILE = '.geospike-pending';

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
    private readonly journal: fs.FileHandle,
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
    await refuseForeignFolder(dir);
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
      await writeFileAtomic(classesFile, `${JSON.stringify(classes, null, 2)}\n`);
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
    const journalFile = path.join(dir, JOURNAL_FILE);
    const journal = await fs.open(journalFile, 'a');
    try {
      if (entries.length < parsed.entries.length) {
        // A dropped line's file was geospike's (its line said so): journal it before the line goes, then delete it.
        const dropped = parsed.entries.filter((e) => !entries.includes(e));
        await appendSynced(
          journal,
          dropped.flatMap((e) => ownFiles(dir, e)),
        );
        await writeFileAtomic(manifestFile, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
      }
      await removePending(dir, classes, entries, log);
      await journal.truncate(0);
      await journal.sync();
      const handle = await fs.open(manifestFile, 'a');
      return new DatasetWriter(dir, classes, entries, handle, journal, lock);
    } catch (err) {
      await journal.close();
      throw err;
    }
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
    const writes: [file: string, data: Buffer][] = [
      [imagePath(this.dir, full), png],
      ...(display ? [[displayPath(this.dir, full), display] as [string, Buffer]] : []),
    ];
    const files = writes.map(([file]) => file);
    const created: string[] = [];
    try {
      await appendSynced(
        this.journal,
        files.map((f) => path.relative(this.dir, f)),
      );
      const written = await Promise.allSettled(
        writes.map(([file, data]) => writeFileDurable(file, data).then(() => created.push(file))),
      );
      const failed = written.find((w) => w.status === 'rejected');
      if (failed) {
        const err = failed.reason as Error;
        if ((err.cause as NodeJS.ErrnoException | undefined)?.code !== 'EEXIST') throw err;
        const name = files.find((f) => !created.includes(f))!;
        throw new Error(
          `${name} already exists and geospike did not write it; move it out of ${this.dir} and run again`,
          { cause: err },
        );
      }
      killInGroupForTest();
      await new Promise<void>((resolve, reject) => {
        this.ready.push({
          line: `${JSON.stringify(full)}\n`,
          folders: files.map((f) => path.dirname(f)),
          resolve,
          reject,
        });
        this.committing ??= this.commitReady();
      });
    } catch (err) {
      // No file this add created stays without its line; a file that was there before is not this add's to delete.
      await Promise.all(created.map((f) => fs.rm(f, { force: true })));
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
        await writeAll(this.manifest, group.map((r) => r.line).join(''));
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
      await this.journal.close();
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

/** Files of an entry, relative to the dataset folder (the journal's lines). */
function ownFiles(dir: string, e: { split: Split; class: string; id: string }): string[] {
  return [imagePath(dir, e), displayPath(dir, e)].map((f) => path.relative(dir, f));
}

/** Appends one line per file (relative to the dataset folder) to the journal and syncs it, before any is created. */
async function appendSynced(journal: fs.FileHandle, files: string[]): Promise<void> {
  await writeAll(journal, files.map((f) => `${f}\n`).join(''));
  await journal.datasync();
}

/**
 * A relative path geospike names its own image files with: `<split>/<class>/<id>.png` or `display/<class>/<id>.jpg`.
 */
function ownName(rel: string, classes: string[]): boolean {
  const m = /^(train|validation|display)\/([a-z0-9][a-z0-9_-]{0,63})\/([A-Za-z0-9_-]{1,120})\.(png|jpg)$/.exec(rel);
  if (m === null) return false;
  const [, kind, cls, , extension] = m;
  return cls !== undefined && classes.includes(cls) && extension === (kind === 'display' ? 'jpg' : 'png');
}

/** Refuses a folder that holds something but is not a geospike dataset, before anything is created in it. */
async function refuseForeignFolder(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new Error(`${dir} is a file, not a folder; choose a new or empty --out folder`);
    throw err;
  }
  if (names.includes(CLASSES_FILE)) return;
  const other = names.filter((n) => !n.startsWith(LOCK_FILE) && n !== JOURNAL_FILE);
  if (other.length > 0) {
    throw new Error(
      `${dir} is not empty and is not a geospike dataset (it has no ${CLASSES_FILE}); choose a new or empty --out ` +
        `folder (it holds ${other.length} entries, e.g. ${other.slice(0, 3).join(', ')}; nothing was changed)`,
    );
  }
}

// Files an interrupted run created but never recorded are deleted: only those named in the journal, with geospike's
// own naming pattern, that are regular files and that no manifest line lists. Whatever else is in a class folder is
// counted and left alone.
async function removePending(
  dir: string,
  classes: string[],
  entries: ManifestEntry[],
  log: (line: string) => void,
): Promise<void> {
  const listed = new Set(entries.flatMap((e) => ownFiles(dir, e)));
  const text = await fs.readFile(path.join(dir, JOURNAL_FILE), 'utf8');
  for (const rel of new Set(text.split('\n'))) {
    if (!ownName(rel, classes) || listed.has(rel)) continue;
    const file = path.join(dir, rel);
    const st = await fs.lstat(file).catch(() => null);
    if (st?.isFile()) await fs.rm(file, { force: true });
  }
  const foreign: string[] = [];
  for (const s of [...SPLITS, 'display']) {
    for (const c of classes) {
      for (const name of await fs.readdir(path.join(dir, s, c))) {
        const rel = path.join(s, c, name);
        if (!listed.has(rel)) foreign.push(rel);
      }
    }
  }
  if (foreign.length > 0) {
    log(
      `${dir}: left alone ${foreign.length} entries geospike did not write (e.g. ${foreign.slice(0, 3).join(', ')}); ` +
        'they are not part of the dataset; move them elsewhere (`train` refuses a .png the manifest does not list)',
    );
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
