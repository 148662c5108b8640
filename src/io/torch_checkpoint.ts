// PyTorch checkpoints (`torch.save`, PyTorch 1.6 and later: a zip of `data.pkl` and one file per tensor storage),
// read without Python: the restricted unpickler (pickle.ts) rebuilds tensors, OrderedDicts and dicts, and leaves
// everything else (the `args` Namespace the official scripts save, numpy scalars) as opaque data. The state dict is
// found under `state_dict` or `model` (or is the whole file) and DataParallel's `module.` prefix is dropped.
import { readFileSync } from 'node:fs';
import type { DType, SafeTensor } from './safetensors.js';
import { GlobalRef, Opaque, PickleError, unpickle } from './pickle.js';
import { isZip, readZip } from './zip.js';

export class TorchCheckpointError extends Error {}

const STORAGES: Record<string, { dtype: DType; bytes: number }> = {
  'torch.FloatStorage': { dtype: 'F32', bytes: 4 },
  'torch.DoubleStorage': { dtype: 'F64', bytes: 8 },
  'torch.HalfStorage': { dtype: 'F16', bytes: 2 },
  'torch.BFloat16Storage': { dtype: 'BF16', bytes: 2 },
  'torch.LongStorage': { dtype: 'I64', bytes: 8 },
  'torch.IntStorage': { dtype: 'I32', bytes: 4 },
  'torch.ShortStorage': { dtype: 'I16', bytes: 2 },
  'torch.CharStorage': { dtype: 'I8', bytes: 1 },
  'torch.ByteStorage': { dtype: 'U8', bytes: 1 },
  'torch.BoolStorage': { dtype: 'BOOL', bytes: 1 },
};

/** Calls that official checkpoints hold and that make plain data (kept opaque, never run). */
const OPAQUE_CALLS = new Set([
  'argparse.Namespace',
  'numpy.core.multiarray.scalar',
  'numpy.core.multiarray._reconstruct',
  'numpy.dtype',
  'numpy.ndarray',
  '_codecs.encode',
  'torch.device',
  'torch.Size',
  'builtins.set',
  'builtins.frozenset',
  'builtins.slice',
  'builtins.complex',
  'builtins.bytearray',
  'collections.defaultdict',
]);

interface Storage {
  dtype: DType;
  bytes: number;
  read: () => Buffer;
}

/** A tensor rebuilt from its storage: float types as float32 (F32), integers as int64 (I64), contiguous. */
export class TorchTensor {
  constructor(
    readonly tensor: SafeTensor,
    readonly sourceDtype: DType,
  ) {}
}

export interface TorchCheckpoint {
  /** The state dict, names without `module.`, in the file's order. */
  stateDict: Map<string, SafeTensor>;
  /** Where in the file it was (`state_dict`, `model`, or `(top level)`). */
  foundAt: string;
  /** Class names the checkpoint lists under `classes`, if any. */
  classes: string[] | null;
  /** The other top-level entries, by name, and what each is (e.g. `args: argparse.Namespace`). */
  others: Record<string, string>;
}

export function readTorchCheckpoint(file: string): TorchCheckpoint {
  const buf = readFileSync(file);
  if (!isZip(buf)) {
    if (buf[0] === 0x80) {
      throw new TorchCheckpointError(
        `${file} is in PyTorch's legacy format (saved by PyTorch before 1.6, or with ` +
          `_use_new_zipfile_serialization=False), ` +
          `which geospike does not read; re-save it with PyTorch 1.6 or later: ` +
          `torch.save(torch.load('${file}', map_location='cpu'), 'new.pth'), loading only a file you trust`,
      );
    }
    throw new TorchCheckpointError(
      `${file} is not a PyTorch checkpoint (neither a torch.save zip nor a legacy pickle)`,
    );
  }
  const entries = readZip(buf, file);
  const pkl = [...entries.keys()].find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pkl) throw new TorchCheckpointError(`${file} is a zip without data.pkl, so not a torch.save checkpoint`);
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const storages = new Map<string, Storage>();
  const storage = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage')
      throw new TorchCheckpointError(`${file}: data.pkl refers to outside data geospike does not know`);
    const [, type, key] = pid as [string, unknown, string];
    const typeName = type instanceof GlobalRef ? type.name : String(type);
    const kind = STORAGES[typeName];
    if (!kind)
      throw new TorchCheckpointError(`${file}: a tensor is stored as ${typeName}, which geospike does not read`);
    const cached = storages.get(String(key));
    if (cached) return cached;
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry) throw new TorchCheckpointError(`${file}: storage ${key} is missing from the archive`);
    const s = { ...kind, read: entry };
    storages.set(String(key), s);
    return s;
  };
  const rebuild = (args: unknown[]) => {
    const [s, offset, size, stride] = args as [Storage, number, number[], number[]];
    return materialize(s, offset, size, stride, file);
  };
  let top: unknown;
  try {
    top = unpickle(entries.get(pkl)!(), {
      persistentLoad: storage,
      opaqueCalls: OPAQUE_CALLS,
      allowed: {
        'collections.OrderedDict': (args) => new Map((args[0] as [unknown, unknown][] | undefined) ?? []),
        'torch._utils._rebuild_tensor_v2': rebuild,
        'torch._utils._rebuild_tensor': rebuild,
        'torch._utils._rebuild_parameter': (args) => args[0],
        'torch._utils._rebuild_parameter_with_state': (args) => args[0],
      },
    });
  } catch (err) {
    if (err instanceof PickleError) throw new TorchCheckpointError(`${file}: ${err.message}`);
    throw err;
  }
  return findStateDict(top, file);
}

function materialize(s: Storage, offset: number, size: number[], stride: number[], file: string): TorchTensor {
  const raw = s.read();
  const count = raw.length / s.bytes;
  const n = size.reduce((a, b) => a * b, 1);
  const value = (i: number): number | bigint => {
    const at = i * s.bytes;
    switch (s.dtype) {
      case 'F32':
        return raw.readFloatLE(at);
      case 'F64':
        return raw.readDoubleLE(at);
      case 'F16':
        return half(raw.readUInt16LE(at));
      case 'BF16': {
        const b = Buffer.alloc(4);
        b.writeUInt16LE(raw.readUInt16LE(at), 2);
        return b.readFloatLE(0);
      }
      case 'I64':
        return raw.readBigInt64LE(at);
      case 'I32':
        return raw.readInt32LE(at);
      case 'I16':
        return raw.readInt16LE(at);
      case 'I8':
        return raw.readInt8(at);
      default:
        return raw.readUInt8(at);
    }
  };
  const float = ['F32', 'F64', 'F16', 'BF16'].includes(s.dtype);
  const data = float ? new Float32Array(n) : new BigInt64Array(n);
  const idx = new Array(size.length).fill(0);
  for (let k = 0; k < n; k++) {
    let src = offset;
    for (let d = 0; d < size.length; d++) src += idx[d] * stride[d]!;
    if (src >= count) throw new TorchCheckpointError(`${file}: a tensor reads past the end of its storage`);
    const v = value(src);
    if (float) (data as Float32Array)[k] = Number(v);
    else (data as BigInt64Array)[k] = BigInt(v);
    for (let d = size.length - 1; d >= 0; d--) {
      if (++idx[d] < size[d]!) break;
      idx[d] = 0;
    }
  }
  return new TorchTensor({ dtype: float ? 'F32' : 'I64', shape: [...size], data }, s.dtype);
}

function half(h: number): number {
  const e = (h >> 10) & 31;
  const m = h & 1023;
  const sign = h & 0x8000 ? -1 : 1;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

const isTensorDict = (v: unknown): v is Map<string, TorchTensor> =>
  v instanceof Map && v.size > 0 && [...v.values()].every((t) => t instanceof TorchTensor);

function describe(v: unknown): string {
  if (v instanceof Opaque) return v.type;
  if (v instanceof TorchTensor) return `tensor [${v.tensor.shape}]`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (Array.isArray(v)) return `list of ${v.length}`;
  return v === null ? 'None' : typeof v;
}

function findStateDict(top: unknown, file: string): TorchCheckpoint {
  let found: Map<string, TorchTensor> | undefined;
  let foundAt = '(top level)';
  const others: Record<string, string> = {};
  let classes: string[] | null = null;
  if (isTensorDict(top)) found = top;
  else if (top instanceof Map) {
    for (const key of ['state_dict', 'model', 'state_dict_ema', 'model_ema', 'module']) {
      const v = top.get(key);
      if (isTensorDict(v)) {
        found = v;
        foundAt = key;
        break;
      }
    }
    for (const [k, v] of top) if (k !== foundAt) others[String(k)] = describe(v);
    const c = top.get('classes');
    if (Array.isArray(c) && c.every((x) => typeof x === 'string')) classes = c as string[];
  }
  if (!found) {
    throw new TorchCheckpointError(
      `${file} holds no state dict (a dict of tensors at the top, or under state_dict or model); it has ` +
        (top instanceof Map ? `entries ${[...top.keys()].join(', ')}` : describe(top)),
    );
  }
  const keys = [...found.keys()].map(String);
  const strip = keys.every((k) => k.startsWith('module.'));
  const stateDict = new Map<string, SafeTensor>();
  for (const [k, t] of found) stateDict.set(strip ? String(k).slice('module.'.length) : String(k), t.tensor);
  return { stateDict, foundAt, classes, others };
}
