// Strict reader and writer for the safetensors format (huggingface/safetensors):
// 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON header, then the raw
// little-endian data buffer. Validation follows the official implementation: tensors must
// tile the data buffer exactly (no overlaps, no holes, no trailing bytes).
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { writeFileAtomic } from './atomic.js';
import { must } from '../util/must.js';

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
/** Uint16Array holds the raw bits of F16/BF16 tensors; BOOL uses Uint8Array (0 or 1). */
export type TensorData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array;
export interface SafeTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SafetensorsError';
  }
}

/** The official implementation's limit on the JSON header (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

type ArrayCtor = { new (buffer: ArrayBuffer): TensorData; readonly BYTES_PER_ELEMENT: number; readonly name: string };
const DTYPES: Record<DType, { size: number; array: ArrayCtor }> = {
  F64: { size: 8, array: Float64Array },
  F32: { size: 4, array: Float32Array },
  F16: { size: 2, array: Uint16Array },
  BF16: { size: 2, array: Uint16Array },
  I64: { size: 8, array: BigInt64Array },
  I32: { size: 4, array: Int32Array },
  I16: { size: 2, array: Int16Array },
  I8: { size: 1, array: Int8Array },
  U8: { size: 1, array: Uint8Array },
  BOOL: { size: 1, array: Uint8Array },
};
const DTYPE_NAMES = Object.keys(DTYPES).join(', ');

// Typed arrays use the host byte order; the format is little-endian.
function assertLittleEndianHost(): void {
  if (endianness() !== 'LE')
    throw new SafetensorsError('safetensors I/O needs a little-endian host (this one is big-endian)');
}

function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.hasOwn(DTYPES, s);
}

function describe(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Product of the dims (1 for a 0-d scalar). */
function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

type Fail = (msg: string) => never;

export function parseSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  assertLittleEndianHost();
  const where = source ?? 'safetensors data';
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${where}: ${msg}`);
  };
  const { header, headerLen } = readHeader(bytes, fail);
  const { metadata, entries } = parseHeader(header, fail);
  const dataStart = 8 + headerLen;
  checkTiling(entries, bytes.byteLength - dataStart, fail);
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const start = bytes.byteOffset + dataStart + e.begin;
    // slice() copies into a fresh ArrayBuffer, so the typed array is aligned whatever the offset.
    const buf = bytes.buffer.slice(start, start + (e.end - e.begin)) as ArrayBuffer;
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: new DTYPES[e.dtype].array(buf) });
  }
  return { tensors, metadata };
}

/** The 8-byte header length, then the header: UTF-8 JSON of an object, inside the file and the size limit. */
function readHeader(bytes: Uint8Array, fail: Fail): { header: Record<string, unknown>; headerLen: number } {
  if (bytes.byteLength < 8) {
    fail(
      `file is ${bytes.byteLength} bytes, shorter than the 8-byte header length; it is truncated or not a ` +
        `safetensors file`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen === 0n) fail('header length is 0; a safetensors header is a JSON object of at least 2 bytes');
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    fail(
      `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit; the file is corrupt or not a ` +
        `safetensors file`,
    );
  }
  const n = Number(headerLen);
  if (8 + n > bytes.byteLength) {
    fail(
      `header length ${n} runs past the end of the file (${bytes.byteLength} bytes, so at ` +
        `most ${bytes.byteLength - 8}); the file is truncated`,
    );
  }

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(`header must be a JSON object mapping tensor names to {dtype, shape, data_offsets}, got ${describe(header)}`);
  }
  return { header: header as Record<string, unknown>, headerLen: n };
}

/** The header's string metadata and its tensor entries, each checked. */
function parseHeader(
  header: Record<string, unknown>,
  fail: Fail,
): { metadata: Record<string, string>; entries: Entry[] } {
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      // null is what other writers emit for "no metadata"; the official reader accepts it.
      if (info === null) continue;
      if (typeof info !== 'object' || Array.isArray(info)) {
        fail(`"${METADATA_KEY}" must be an object of string values, got ${describe(info)}`);
      }
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"${METADATA_KEY}" value for key "${k}" must be a string, got ${describe(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    entries.push(parseEntry(name, info, fail));
  }
  return { metadata, entries };
}

/** Tensors must tile the data buffer in offset order: no overlap, no hole, nothing after. */
function checkTiling(entries: Entry[], dataLen: number, fail: Fail): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.end > dataLen) {
      fail(
        `tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] run past the data buffer (${dataLen} bytes); the ` +
          `file is truncated or the offsets are wrong`,
      );
    }
    if (e.begin < pos) {
      const p = must(prev, 'a tensor before it ended at pos > 0');
      fail(`tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap tensor "${p.name}" [${p.begin}, ${p.end}]`);
    }
    if (e.begin > pos) {
      fail(
        `data buffer bytes [${pos}, ${e.begin}) belong to no tensor (hole before tensor "${e.name}"); safetensors ` +
          `requires tensors to cover the buffer contiguously`,
      );
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) {
    fail(
      `data buffer has ${dataLen} bytes but the tensors cover only ${pos}; ${dataLen - pos} trailing bytes belong to ` +
        `no tensor`,
    );
  }
}

function parseEntry(name: string, info: unknown, fail: Fail): Entry {
  const t = `tensor "${name}"`;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    fail(`${t}: entry must be an object {dtype, shape, data_offsets}, got ${describe(info)}`);
  }
  // Unknown extra fields are ignored, as the official reader does.
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (dtype === undefined) fail(`${t}: missing "dtype"`);
  if (!isDType(dtype)) fail(`${t}: unknown dtype ${describe(dtype)}; supported: ${DTYPE_NAMES}`);
  if (shape === undefined) fail(`${t}: missing "shape"`);
  if (!Array.isArray(shape)) fail(`${t}: "shape" must be an array of non-negative integers, got ${describe(shape)}`);
  for (const [i, d] of (shape as unknown[]).entries()) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      fail(`${t}: shape ${describe(shape)} dim ${i} is ${describe(d)}; dims must be non-negative integers`);
    }
  }
  if (offsets === undefined) fail(`${t}: missing "data_offsets"`);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`${t}: "data_offsets" must be two non-negative integers [begin, end], got ${describe(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (begin! > end!) fail(`${t}: data_offsets [${begin}, ${end}] have begin > end`);
  const dims = shape as number[];
  const count = elementCount(dims);
  const expected = count * DTYPES[dtype as DType].size;
  if (!Number.isSafeInteger(expected)) fail(`${t}: shape ${describe(dims)} has too many elements`);
  if (end! - begin! !== expected) {
    fail(
      `${t}: data_offsets [${begin}, ${end}] span ${end! - begin!} bytes but shape ${describe(dims)} of ${dtype} ` +
        `needs ${count} x ${DTYPES[dtype as DType].size} = ${expected} bytes`,
    );
  }
  return { name, dtype: dtype as DType, shape: [...dims], begin: begin!, end: end! };
}

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(`cannot read safetensors file ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseSafetensors(bytes, path);
}

function checkTensor(name: string, t: SafeTensor): void {
  const where = `cannot serialize tensor "${name}"`;
  if (name === METADATA_KEY)
    throw new SafetensorsError(`${where}: the name is reserved for metadata; rename the tensor`);
  if (typeof t !== 'object' || t === null)
    throw new SafetensorsError(`${where}: expected {dtype, shape, data}, got ${describe(t)}`);
  if (!isDType(t.dtype))
    throw new SafetensorsError(`${where}: unknown dtype ${describe(t.dtype)}; supported: ${DTYPE_NAMES}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(`${where}: shape ${describe(t.shape)} must be an array of non-negative integers`);
  }
  const ctor = DTYPES[t.dtype].array;
  if (!(t.data instanceof ctor)) {
    throw new SafetensorsError(
      `${where}: dtype ${t.dtype} needs a ${ctor.name}, got ${t.data?.constructor?.name ?? describe(t.data)}`,
    );
  }
  const count = elementCount(t.shape);
  if (count !== t.data.length) {
    throw new SafetensorsError(
      `${where}: shape ${describe(t.shape)} has ${count} elements but data has ${t.data.length}`,
    );
  }
  if (t.dtype === 'BOOL') {
    const bad = (t.data as Uint8Array).findIndex((v) => v > 1);
    if (bad >= 0)
      throw new SafetensorsError(
        `${where}: BOOL data must be 0 or 1, element ${bad} is ${(t.data as Uint8Array)[bad]}`,
      );
  }
}

export function serializeSafetensors(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  assertLittleEndianHost();
  const all = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  // Sorted names give the same bytes for the same content, whatever the insertion order.
  all.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new SafetensorsError(
        `cannot serialize: metadata must be an object of string values, got ${describe(metadata)}`,
      );
    }
    const meta: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) {
      const v = metadata[k];
      if (typeof v !== 'string')
        throw new SafetensorsError(
          `cannot serialize: metadata value for key "${k}" must be a string, got ${describe(v)}`,
        );
      meta[k] = v;
    }
    if (Object.keys(meta).length > 0) header[METADATA_KEY] = meta;
  }
  let offset = 0;
  for (const [name, t] of all) {
    checkTensor(name, t);
    const size = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }

  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `cannot serialize: header would be ${padded} bytes, over the ${MAX_HEADER_BYTES}-byte limit readers enforce`,
    );
  }
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded); // pad with spaces, as the official writer does
  let pos = 8 + padded;
  for (const [, t] of all) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Writes atomically: a temp file in the same directory, fsync, then rename over `path`. */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = serializeSafetensors(tensors, metadata); // validate before touching the disk
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw new SafetensorsError(`cannot write safetensors file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Converts any dtype to float32 (F16/BF16 decoded from their bits, integers and BOOL by value). */
export function toFloat32(t: SafeTensor): Float32Array {
  const src = t.data;
  const out = new Float32Array(src.length);
  switch (t.dtype) {
    case 'F16':
      for (let i = 0; i < src.length; i++) out[i] = f16ToNumber((src as Uint16Array)[i]!);
      break;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = (src as Uint16Array)[i]! << 16;
      break;
    }
    case 'I64':
      for (let i = 0; i < src.length; i++) out[i] = Number((src as BigInt64Array)[i]!);
      break;
    default:
      out.set(src as Exclude<TensorData, BigInt64Array>);
  }
  return out;
}
