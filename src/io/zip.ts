// The entries of a zip archive (what torch.save writes since PyTorch 1.6): the end-of-central-directory record, the
// central directory, and each entry's data, stored or deflated. Enough for checkpoints; no zip64, no encryption.
import { inflateRawSync } from 'node:zlib';

export class ZipError extends Error {}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function isZip(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32LE(0) === LOCAL;
}

/** Entry name -> its bytes (lazily inflated). */
export function readZip(buf: Buffer, file: string): Map<string, () => Buffer> {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    throw new ZipError(`${file} is not a whole zip archive (no end record); the file is truncated or damaged`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff)
    throw new ZipError(`${file} is a zip64 archive (over 4 GB), which geospike does not read`);
  const out = new Map<string, () => Buffer>();
  for (let e = 0; e < count; e++) {
    if (at + 46 > buf.length || buf.readUInt32LE(at) !== CENTRAL)
      throw new ZipError(`${file}: the zip directory is damaged at entry ${e}`);
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
    at += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== LOCAL)
      throw new ZipError(`${file}: entry ${name} points outside the archive`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + compressed > buf.length) throw new ZipError(`${file}: entry ${name} runs past the end of the file`);
    const raw = buf.subarray(start, start + compressed);
    if (method !== 0 && method !== 8)
      throw new ZipError(
        `${file}: entry ${name} uses zip compression method ${method}; only stored and deflate are read`,
      );
    out.set(name, method === 0 ? () => raw : () => inflateRawSync(raw));
  }
  return out;
}
