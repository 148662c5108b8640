import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  toFloat32,
  SafetensorsError,
  type SafeTensor,
} from '../../src/io/safetensors.js';
import { loadGolden } from '../helpers/golden.js';

/** Hand-built file: an explicit header length (default: the header's), the header text, then `data`. */
function craft(header: string | object, data: Uint8Array | number = 0, headerLen?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

function rejects(bytes: Uint8Array, fragment: RegExp): void {
  assert.throws(
    () => parseSafetensors(bytes, 'crafted.safetensors'),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
      assert.match(e.message, /^crafted\.safetensors: /);
      assert.match(e.message, fragment);
      return true;
    },
  );
}

const f32 = (name: string, shape: number[], begin: number, end: number) => ({
  [name]: { dtype: 'F32', shape, data_offsets: [begin, end] },
});

function sample(): Record<string, SafeTensor> {
  return {
    f64: { dtype: 'F64', shape: [2, 2], data: new Float64Array([1.5, -2.25, 1e300, Number.MIN_VALUE]) },
    f32: { dtype: 'F32', shape: [3], data: new Float32Array([0.1, -0, Infinity]) },
    f16: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
    bf16: { dtype: 'BF16', shape: [1, 2], data: new Uint16Array([0x3f80, 0xc040]) },
    i64: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 7n]) },
    i32: { dtype: 'I32', shape: [2], data: new Int32Array([-2147483648, 2147483647]) },
    i16: { dtype: 'I16', shape: [3], data: new Int16Array([-32768, 0, 32767]) },
    i8: { dtype: 'I8', shape: [1], data: new Int8Array([-128]) },
    u8: { dtype: 'U8', shape: [2, 1], data: new Uint8Array([0, 255]) },
    bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
    scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
    empty: { dtype: 'I32', shape: [0, 5], data: new Int32Array(0) },
  };
}

test('every dtype round-trips with shape, values and metadata intact', () => {
  const tensors = sample();
  const parsed = parseSafetensors(serializeSafetensors(tensors, { format: 'pt', note: 'ünïcode' }));
  assert.deepEqual(parsed.metadata, { format: 'pt', note: 'ünïcode' });
  assert.deepEqual([...parsed.tensors.keys()].sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const got = parsed.tensors.get(name)!;
    assert.equal(got.dtype, t.dtype, name);
    assert.deepEqual(got.shape, t.shape, name);
    assert.equal(got.data.constructor, t.data.constructor, name);
    assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>), name);
  }
});

test('the header is space-padded to 8 bytes and tensors are aligned copies', () => {
  const bytes = serializeSafetensors({
    a: { dtype: 'U8', shape: [1], data: new Uint8Array([9]) },
    b: { dtype: 'F64', shape: [1], data: new Float64Array([3.25]) },
  });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  assert.match(Buffer.from(bytes.subarray(8, 8 + n)).toString(), /^\{.*\} *$/);
  // b starts at data offset 1, unaligned in the file; the parsed array must still be usable.
  const t = parseSafetensors(bytes).tensors.get('b')!;
  assert.equal(t.data.byteOffset % 8, 0);
  assert.equal((t.data as Float64Array)[0], 3.25);
});

test('parsing works on a Uint8Array view at an odd offset into a larger buffer', () => {
  const bytes = serializeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
  const big = new Uint8Array(bytes.length + 3);
  big.set(bytes, 3);
  const t = parseSafetensors(big.subarray(3)).tensors.get('x')!;
  assert.deepEqual(Array.from(t.data as Float32Array), [1, 2]);
});

test('serialization is byte-exact deterministic regardless of insertion order', () => {
  const a = sample();
  const reversed = new Map(Object.entries(a).reverse());
  const one = serializeSafetensors(a, { z: '1', a: '2' });
  const two = serializeSafetensors(reversed, { a: '2', z: '1' });
  assert.deepEqual(Buffer.from(one), Buffer.from(two));
  const n = Number(new DataView(one.buffer).getBigUint64(0, true));
  const keys = Object.keys(JSON.parse(Buffer.from(one.subarray(8, 8 + n)).toString()));
  assert.deepEqual(
    keys.filter((k) => k !== '__metadata__'),
    Object.keys(a).sort(),
  );
});

test('toFloat32 decodes half, bfloat16, integers and bools', () => {
  const half = toFloat32({
    dtype: 'F16',
    shape: [7],
    data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x7e00]),
  });
  assert.deepEqual(Array.from(half.subarray(0, 6)), [1, -2, 65504, 2 ** -24, Infinity, -0]);
  assert.ok(Number.isNaN(half[6]));
  const bf = toFloat32({ dtype: 'BF16', shape: [3], data: new Uint16Array([0x3f80, 0xc040, 0xff80]) });
  assert.deepEqual(Array.from(bf), [1, -3, -Infinity]);
  assert.deepEqual(Array.from(toFloat32({ dtype: 'I64', shape: [2], data: new BigInt64Array([-5n, 1n << 40n]) })), [
    -5,
    2 ** 40,
  ]);
  assert.deepEqual(Array.from(toFloat32({ dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) })), [1, 0]);
  assert.deepEqual(Array.from(toFloat32({ dtype: 'F64', shape: [1], data: new Float64Array([0.5]) })), [0.5]);
  assert.deepEqual(Array.from(toFloat32({ dtype: 'I8', shape: [1], data: new Int8Array([-7]) })), [-7]);
});

test('a hand-built minimal file parses', () => {
  const data = new Uint8Array(new Float32Array([1, 2]).buffer);
  const f = parseSafetensors(craft({ ...f32('x', [2], 0, 8), __metadata__: { k: 'v' } }, data));
  assert.deepEqual(Array.from(f.tensors.get('x')!.data as Float32Array), [1, 2]);
  assert.deepEqual(f.metadata, { k: 'v' });
  assert.deepEqual(parseSafetensors(craft({ __metadata__: null })).metadata, {});
});

test('rejects bad header lengths', () => {
  rejects(new Uint8Array(5), /5 bytes, shorter than the 8-byte header length/);
  rejects(craft('{}', 0, 0n), /header length is 0/);
  rejects(craft('{}', 0, 100_000_001n), /header length 100000001 exceeds the 100000000-byte limit/);
  rejects(craft('{}', 0, 2n ** 63n), /exceeds the 100000000-byte limit/);
  rejects(craft('{}', 0, 50n), /header length 50 runs past the end of the file \(10 bytes, so at most 2\)/);
});

test('rejects headers that are not a JSON object', () => {
  rejects(craft('{"x": '), /header is not valid JSON/);
  rejects(craft('[1,2]'), /header must be a JSON object.*got \[1,2\]/);
  rejects(craft('null'), /header must be a JSON object/);
  const badUtf8 = craft('{"a":1}');
  badUtf8[10] = 0xff;
  rejects(badUtf8, /not valid UTF-8/);
});

test('rejects unknown dtypes and missing or ill-typed fields', () => {
  rejects(
    craft({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1),
    /tensor "w": unknown dtype "F8"; supported: F64, F32/,
  );
  rejects(craft({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor "w": missing "dtype"/);
  rejects(craft({ w: { dtype: 'F32', data_offsets: [0, 4] } }, 4), /tensor "w": missing "shape"/);
  rejects(craft({ w: { dtype: 'F32', shape: [1] } }, 4), /tensor "w": missing "data_offsets"/);
  rejects(craft({ w: [1, 2] }, 0), /tensor "w": entry must be an object/);
  rejects(craft({ w: { dtype: 'F32', shape: '1', data_offsets: [0, 4] } }, 4), /tensor "w": "shape" must be an array/);
  rejects(
    craft({ w: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 4] } }, 4),
    /shape \[2,-1\] dim 1 is -1; dims must be non-negative integers/,
  );
  rejects(craft({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), /dim 0 is 1\.5/);
  rejects(craft({ w: { dtype: 'F32', shape: ['2'], data_offsets: [0, 8] } }, 8), /dim 0 is "2"/);
});

test('rejects malformed, out-of-range, overlapping and hole-leaving data_offsets', () => {
  rejects(
    craft({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, 8),
    /tensor "w": "data_offsets" must be two non-negative integers/,
  );
  rejects(
    craft({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, 8),
    /"data_offsets" must be two non-negative integers.*\[0,4\.5\]/,
  );
  rejects(
    craft({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, 8),
    /"data_offsets" must be two non-negative integers/,
  );
  rejects(
    craft({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8),
    /tensor "w": data_offsets \[8, 4\] have begin > end/,
  );
  rejects(craft(f32('w', [2], 0, 8), 4), /tensor "w" data_offsets \[0, 8\] run past the data buffer \(4 bytes\)/);
  rejects(
    craft({ ...f32('a', [2], 0, 8), ...f32('b', [2], 4, 12) }, 12),
    /tensor "b" data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/,
  );
  rejects(
    craft({ ...f32('a', [1], 0, 4), ...f32('b', [1], 8, 12) }, 12),
    /bytes \[4, 8\) belong to no tensor \(hole before tensor "b"\)/,
  );
  rejects(craft(f32('a', [1], 0, 4), 6), /data buffer has 6 bytes but the tensors cover only 4; 2 trailing bytes/);
});

test('rejects a byte span that does not match shape times dtype size, naming both', () => {
  rejects(
    craft(f32('w', [2, 3], 0, 20), 20),
    /tensor "w": data_offsets \[0, 20\] span 20 bytes but shape \[2,3\] of F32 needs 6 x 4 = 24 bytes/,
  );
  rejects(
    craft({ s: { dtype: 'F64', shape: [], data_offsets: [0, 4] } }, 4),
    /span 4 bytes but shape \[\] of F64 needs 1 x 8 = 8 bytes/,
  );
});

test('rejects __metadata__ that is not a string-to-string map', () => {
  rejects(craft({ __metadata__: ['a'] }), /"__metadata__" must be an object of string values/);
  rejects(craft({ __metadata__: 'x' }), /"__metadata__" must be an object of string values/);
  rejects(craft({ __metadata__: { epoch: 3 } }), /"__metadata__" value for key "epoch" must be a string, got 3/);
});

test('serialize validates its input', () => {
  const bad = (t: Record<string, unknown>, fragment: RegExp, meta?: unknown) =>
    assert.throws(
      () => serializeSafetensors(t as Record<string, SafeTensor>, meta as Record<string, string>),
      (e: unknown) => e instanceof SafetensorsError && fragment.test(e.message),
    );
  bad(
    { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } },
    /tensor "w": shape \[2,2\] has 4 elements but data has 3/,
  );
  bad(
    { w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } },
    /tensor "w": dtype F32 needs a Float32Array, got Float64Array/,
  );
  bad({ w: { dtype: 'F16', shape: [2], data: new Float32Array(2) } }, /dtype F16 needs a Uint16Array/);
  bad({ w: { dtype: 'Q4', shape: [2], data: new Uint8Array(2) } }, /tensor "w": unknown dtype "Q4"/);
  bad(
    { w: { dtype: 'U8', shape: [-2], data: new Uint8Array(2) } },
    /shape \[-2\] must be an array of non-negative integers/,
  );
  bad({ w: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 2]) } }, /BOOL data must be 0 or 1, element 1 is 2/);
  bad({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, /reserved for metadata/);
  bad({}, /metadata value for key "n" must be a string, got 1/, { n: 1 });
});

test('reads the lif golden file with the tensors its README lists', () => {
  const f = loadGolden('lif.safetensors');
  assert.match(f.metadata.neuron ?? '', /LIF/);
  const expected = ['x', 'spikes', 'upstream', 'grad_x'].flatMap((k) => ['vth1.0', 'vth0.5'].map((v) => `${v}.${k}`));
  assert.deepEqual([...f.tensors.keys()].sort(), expected.sort());
  for (const [name, t] of f.tensors) {
    assert.equal(t.dtype, 'F32', name);
    assert.deepEqual(t.shape, [6, 64], name);
    assert.ok((t.data as Float32Array).every(Number.isFinite), `${name} has non-finite values`);
  }
  for (const v of ['vth1.0', 'vth0.5']) {
    const spikes = f.tensors.get(`${v}.spikes`)!.data as Float32Array;
    assert.ok(
      spikes.every((s) => s === 0 || s === 1),
      `${v}.spikes holds values other than 0/1`,
    );
    assert.ok(spikes.some((s) => s === 1) && spikes.some((s) => s === 0), `${v}.spikes is constant`);
  }
});

test('readSafetensors names the file when it is missing or malformed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geospike-st-'));
  try {
    assert.throws(
      () => readSafetensors(join(dir, 'nope.safetensors')),
      (e: unknown) =>
        e instanceof SafetensorsError && /cannot read safetensors file .*nope\.safetensors: ENOENT/.test(e.message),
    );
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, 'abc');
    assert.throws(
      () => readSafetensors(junk),
      (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${junk}: file is 3 bytes`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeSafetensors replaces a file atomically and leaves no temp files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'geospike-st-'));
  const path = join(dir, 'model.safetensors');
  try {
    const old = { w: { dtype: 'F32', shape: [4], data: new Float32Array([1, 2, 3, 4]) } } satisfies Record<
      string,
      SafeTensor
    >;
    await writeSafetensors(path, old, { version: 'old' });
    const oldBytes = readFileSync(path);
    const big = new Float32Array(4 << 20).map((_, i) => i % 1000);
    const fresh = { w: { dtype: 'F32', shape: [big.length], data: big } } satisfies Record<string, SafeTensor>;
    const newBytes = Buffer.from(serializeSafetensors(fresh, { version: 'new' }));

    // Read once per event-loop turn while the write is in flight: every read sees the whole old or the whole new
    // file. The write takes several turns between creating its temp file and renaming it (open, write, fsync and
    // close each complete on a later turn), so some read is sure to find the temp file beside the old file: that
    // read overlapped the write.
    let done = false;
    const writing = writeSafetensors(path, fresh, { version: 'new' }).finally(() => {
      done = true;
    });
    let overlapped = 0;
    while (!done) {
      const temps = readdirSync(dir).filter((f) => f.endsWith('.tmp'));
      const bytes = readFileSync(path);
      const version = parseSafetensors(bytes).metadata.version!; // from the same read: the file may change between two
      assert.ok(
        bytes.equals(version === 'old' ? oldBytes : newBytes),
        `read a file that is neither old nor new (${bytes.length} bytes)`,
      );
      if (temps.length === 1 && version === 'old') overlapped++;
      await new Promise((r) => setImmediate(r));
    }
    await writing;
    assert.ok(overlapped > 0, 'no read found the new file being written beside the old one');
    assert.ok(readFileSync(path).equals(newBytes));
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);

    // Invalid input fails before touching the existing file.
    await assert.rejects(
      writeSafetensors(path, { w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
      SafetensorsError,
    );
    assert.ok(readFileSync(path).equals(newBytes));
    // An unwritable destination is a SafetensorsError naming the path, and leaves nothing behind.
    await assert.rejects(
      writeSafetensors(join(dir, 'missing', 'x.safetensors'), old),
      /cannot write safetensors file .*missing.x\.safetensors/,
    );
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
