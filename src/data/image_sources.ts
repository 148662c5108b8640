// Where an importer finds a table's photos: zip archives read in place (entries are inflated one at a time into
// memory, never extracted) and folders already extracted. An image is matched by its file name wherever it sits, so
// copies that nest the photos in a folder and copies that do not both work. A name from an archive is only ever
// compared with the table's ids: nothing is written under it.
import { close, type Dirent, open, promises as fs, read } from 'node:fs';
import { Readable } from 'node:stream';
import path from 'node:path';
import { promisify } from 'node:util';
import { crc32, inflateRaw } from 'node:zlib';
import yauzl from 'yauzl';

/** Largest image an entry or file may hold; a street photo is well under it, so a bigger one is skipped as unsafe. */
export const MAX_IMAGE_BYTES = 32 * 1024 * 1024;

/** An entry or file that cannot be used (corrupt, too large, gone): the importer names it, counts it, and goes on. */
export class ImageReadError extends Error {
  constructor(
    message: string,
    readonly reason: 'corrupt' | 'too-large' | 'unreadable',
  ) {
    super(message);
    this.name = 'ImageReadError';
  }
}

export interface ImageRef {
  /** For messages: `archive.zip:inner/name.jpg` or the file's path. */
  where: string;
  read(): Promise<Buffer>;
}

export interface IndexResult {
  /** Matching key (a file name, or the name without its extension) -> where its bytes are. */
  found: Map<string, ImageRef>;
  /** Keys seen more than once (the first one found is used). */
  duplicates: number;
  /** Archives that could not be opened or listed (each named in the log). */
  badArchives: number;
}

/** The keys a file name can match: the name itself and the name without its last extension. */
export function keysOf(fileName: string): string[] {
  const base = fileName.split(/[/\\]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? [base, base.slice(0, dot)] : [base];
}

const isZip = (name: string) => name.toLowerCase().endsWith('.zip');

/**
 * Lists every archive's entries and every folder's files (recursively), keeping those whose name matches a wanted
 * key. A path ending in .zip is an archive, also inside a folder; any other path a folder. Archives stay open
 * until close().
 */
export class ImageIndex {
  private readonly zips: yauzl.ZipFile[] = [];
  private constructor() {}

  static async build(
    sources: string[],
    wanted: (key: string) => boolean,
    log: (line: string) => void,
  ): Promise<{ index: ImageIndex } & IndexResult> {
    const index = new ImageIndex();
    const result: IndexResult = { found: new Map(), duplicates: 0, badArchives: 0 };
    const add = (name: string, ref: ImageRef) => {
      for (const key of keysOf(name)) {
        if (!wanted(key)) continue;
        if (result.found.has(key)) result.duplicates++;
        else result.found.set(key, ref);
        return;
      }
    };
    try {
      for (const source of sources) {
        const st = await fs.stat(source).catch((err: NodeJS.ErrnoException) => {
          throw new Error(
            `--images ${source} ${err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.code})`}`,
          );
        });
        const archive = async (file: string) => {
          try {
            index.zips.push(await listZip(file, add));
          } catch (err) {
            result.badArchives++;
            log(`skipped archive ${file}: ${(err as Error).message} (is it complete? download it again)`);
          }
        };
        if (st.isDirectory()) await listFolder(source, add, archive, log);
        else if (isZip(source)) await archive(source);
        else throw new Error(`--images ${source} is neither a folder nor a .zip archive`);
      }
    } catch (err) {
      index.close();
      throw err;
    }
    return { index, ...result };
  }

  close(): void {
    for (const z of this.zips) z.close();
    this.zips.length = 0;
  }
}

async function listFolder(
  root: string,
  add: (name: string, ref: ImageRef) => void,
  archive: (file: string) => Promise<void>,
  log: (line: string) => void,
): Promise<void> {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      log(`skipped folder ${dir}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
      continue;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(file);
      else if ((e.isFile() || e.isSymbolicLink()) && isZip(e.name)) await archive(file);
      else if (e.isFile() || e.isSymbolicLink()) add(e.name, { where: file, read: () => readFileCapped(file) });
    }
  }
}

async function readFileCapped(file: string): Promise<Buffer> {
  try {
    const st = await fs.stat(file);
    if (st.size > MAX_IMAGE_BYTES)
      throw new ImageReadError(
        `${file} holds ${st.size} bytes, more than an image may (${MAX_IMAGE_BYTES})`,
        'too-large',
      );
    return await fs.readFile(file);
  } catch (err) {
    if (err instanceof ImageReadError) throw err;
    throw new ImageReadError(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`, 'unreadable');
  }
}

/** Entry names as stored: UTF-8 when the entry says so, else byte for byte (only ASCII ids are ever matched). */
function entryName(e: yauzl.Entry): string {
  const raw = e.fileName as unknown as Buffer;
  return raw.toString(e.generalPurposeBitFlag & 0x800 ? 'utf8' : 'latin1');
}

/**
 * yauzl's reader over a file descriptor, with one read-ahead block while the central directory is listed: yauzl
 * reads each directory record with two small reads, and OpenStreetView-5M's archives hold tens of thousands of
 * entries each, so block reads make listing them several times cheaper. Entry data is read as asked.
 */
class ListingReader extends yauzl.RandomAccessReader {
  listing = true;
  private block: { start: number; bytes: Buffer } | undefined;
  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    // Positional reads of the shared descriptor, so several entries of one archive can be read at once.
    let at = start;
    const fd = this.fd;
    const stream = new Readable({
      read(size) {
        const want = Math.min(Math.max(size, 64 * 1024), end - at);
        if (want <= 0) return void stream.push(null);
        read(fd, Buffer.allocUnsafe(want), 0, want, at, (err, n, bytes) => {
          if (err) return void stream.destroy(err);
          if (n === 0) return void stream.destroy(new Error('unexpected end of the archive'));
          at += n;
          stream.push(bytes.subarray(0, n));
        });
      },
    });
    return stream;
  }
  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null, bytesRead?: number) => void,
  ): void {
    const b = this.block;
    if (this.listing && b && position >= b.start && position + length <= b.start + b.bytes.length) {
      b.bytes.copy(buffer, offset, position - b.start, position - b.start + length);
      queueMicrotask(() => callback(null, length)); // never synchronously: yauzl's entry loop would recurse
      return;
    }
    const want = this.listing ? Math.max(length, Math.min(LISTING_BLOCK, this.size - position)) : length;
    const into = want === length ? buffer : Buffer.allocUnsafe(want);
    read(this.fd, into, into === buffer ? offset : 0, want, position, (err, n) => {
      if (err) return callback(err);
      if (into !== buffer) {
        this.block = { start: position, bytes: into.subarray(0, n) };
        into.copy(buffer, offset, 0, Math.min(length, n));
      }
      callback(null, Math.min(length, n));
    });
  }
  override close(callback: (err: Error | null) => void): void {
    close(this.fd, callback);
  }
}

const LISTING_BLOCK = 256 * 1024;
const inflateRawAsync = promisify(inflateRaw);

async function listZip(file: string, add: (name: string, ref: ImageRef) => void): Promise<yauzl.ZipFile> {
  const fd = await new Promise<number>((resolve, reject) => open(file, 'r', (e, f) => (e ? reject(e) : resolve(f))));
  let size: number;
  try {
    size = (await fs.stat(file)).size;
  } catch (err) {
    close(fd, () => {});
    throw err;
  }
  const reader = new ListingReader(fd, size);
  return new Promise((resolve, reject) => {
    // decodeStrings: false keeps yauzl from rejecting the whole archive over one odd name (absolute, '..'): names
    // are only compared with ids here. validateEntrySizes makes a stream fail once it inflates past its stated size.
    yauzl.fromRandomAccessReader(
      reader,
      size,
      { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true },
      (err, zip) => {
        if (err || !zip) {
          close(fd, () => {});
          return reject(err ?? new Error('cannot be opened'));
        }
        zip.on('error', (e: Error) => {
          zip.close();
          reject(e);
        });
        zip.on('entry', (e: yauzl.Entry) => {
          const name = entryName(e);
          if (!name.endsWith('/'))
            add(name, { where: `${file}:${name}`, read: () => readEntry(zip, e, `${file}:${name}`) });
          zip.readEntry();
        });
        zip.on('end', () => {
          reader.listing = false;
          resolve(zip);
        });
        zip.readEntry();
      },
    );
  });
}

async function readEntry(zip: yauzl.ZipFile, e: yauzl.Entry, where: string): Promise<Buffer> {
  const fail = (why: string, reason: 'corrupt' | 'too-large') => new ImageReadError(`${where} ${why}`, reason);
  if (e.uncompressedSize > MAX_IMAGE_BYTES || e.compressedSize > MAX_IMAGE_BYTES)
    throw fail(`inflates to ${e.uncompressedSize} bytes, more than an image may (${MAX_IMAGE_BYTES})`, 'too-large');
  if (e.compressionMethod !== 0 && e.compressionMethod !== 8)
    throw fail(`uses compression method ${e.compressionMethod}, which is neither stored nor deflate`, 'corrupt');
  // The stored bytes in one piece, then one inflate call: a photo is small, and this costs a fraction of a stream.
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const options = (e.compressionMethod === 8 ? { decompress: false } : {}) as yauzl.ZipFileOptions;
    try {
      zip.openReadStream(e, options, (err, stream) => {
        if (err || !stream) return reject(fail(`cannot be read (${err?.message ?? 'no stream'})`, 'corrupt'));
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', (e2: Error) => reject(fail(`is damaged (${e2.message})`, 'corrupt')));
        stream.on('end', () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
      });
    } catch (err) {
      reject(fail(`cannot be read (${(err as Error).message})`, 'corrupt')); // yauzl throws on odd entries
    }
  });
  let data = raw;
  if (e.compressionMethod === 8) {
    try {
      // maxOutputLength stops an entry that inflates past its stated size (a bomb) without inflating the rest.
      data = await inflateRawAsync(raw, { maxOutputLength: Math.max(1, e.uncompressedSize) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw fail(`inflates past its stated size of ${e.uncompressedSize} bytes`, 'too-large');
      throw fail(`is damaged (${(err as Error).message})`, 'corrupt');
    }
  }
  if (data.length !== e.uncompressedSize)
    throw fail(`holds ${data.length} bytes where its header says ${e.uncompressedSize}`, 'corrupt');
  // yauzl does not check the CRC; a stored (uncompressed) entry with flipped bytes is caught only here.
  if (crc32(data) >>> 0 !== e.crc32 >>> 0) throw fail('is damaged (its CRC-32 does not match)', 'corrupt');
  return data;
}
