// The pickle machine's state and the reads its instructions share: a cursor over the bytes (every read checks that
// the bytes are there), the stack with its marks, the memo, and the only ways a global is ever resolved or called.
import { GlobalRef, Opaque, PickleError, type Allowed, type PickleOptions } from './pickle_values.js';

export const MARK = Symbol('mark');

export class PickleMachine {
  pos = 0;
  readonly stack: unknown[] = [];
  readonly memo = new Map<number, unknown>();

  constructor(
    readonly buf: Buffer,
    readonly opts: PickleOptions,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new PickleError('the pickle ends in the middle of an instruction');
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    this.pos += 2;
    return this.buf.readUInt16LE(this.pos - 2);
  }
  u32(): number {
    this.need(4);
    this.pos += 4;
    return this.buf.readUInt32LE(this.pos - 4);
  }
  i32(): number {
    this.need(4);
    this.pos += 4;
    return this.buf.readInt32LE(this.pos - 4);
  }
  /** An 8-byte length, no larger than the file (so a hostile length cannot ask for more than is there). */
  u64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    if (v > BigInt(this.buf.length)) throw new PickleError('a length in the pickle is larger than the file');
    return Number(v);
  }
  f64be(): number {
    this.need(8);
    this.pos += 8;
    return this.buf.readDoubleBE(this.pos - 8);
  }
  bytes(n: number): Buffer {
    this.need(n);
    this.pos += n;
    return this.buf.subarray(this.pos - n, this.pos);
  }
  /** A text instruction's argument: up to the newline. */
  line(): string {
    const end = this.buf.indexOf(10, this.pos);
    if (end < 0) throw new PickleError('the pickle ends in the middle of a text instruction');
    const s = this.buf.toString('latin1', this.pos, end);
    this.pos = end + 1;
    return s;
  }

  push(v: unknown): void {
    this.stack.push(v);
  }
  pop(): unknown {
    if (!this.stack.length) throw new PickleError('the pickle pops an empty stack');
    return this.stack.pop();
  }
  /** Everything above the topmost mark, which is removed with it. */
  popMark(): unknown[] {
    const at = this.stack.lastIndexOf(MARK);
    if (at < 0) throw new PickleError('the pickle closes a group it never opened');
    const items = this.stack.splice(at);
    items.shift();
    return items;
  }
  top(): unknown {
    if (!this.stack.length) throw new PickleError('the pickle uses an empty stack');
    return this.stack[this.stack.length - 1];
  }

  /** The function the caller allowed for module.name, or else its name as an opaque reference. */
  lookup(module: string, name: string): unknown {
    const key = `${module}.${name}`;
    return this.opts.allowed?.[key] ?? new GlobalRef(key);
  }
  /** A call (REDUCE): an allowed function runs; a global named in opaqueCalls makes an Opaque; any other is refused. */
  call(fn: unknown, args: unknown[]): unknown {
    if (typeof fn === 'function') return (fn as Allowed)(args);
    if (fn instanceof GlobalRef) {
      if (!this.opts.opaqueCalls?.has(fn.name))
        throw new PickleError(`it calls ${fn.name}, which data has no reason to; refused, and nothing in it was run`);
      return new Opaque(fn.name, args);
    }
    return new Opaque('(call of a non-global)', args);
  }
  /** Key, value pairs set on a dict; on an opaque object (a dict subclass geospike does not rebuild) dropped. */
  setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map)) {
      if (target instanceof Opaque) return;
      throw new PickleError('the pickle sets items on something that is not a dict');
    }
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  }
  persistent(pid: unknown): unknown {
    if (!this.opts.persistentLoad) throw new PickleError('the pickle refers to outside data (a persistent id)');
    return this.opts.persistentLoad(pid);
  }
}

/** A protocol-0 integer: decimal text, with an L for a long; 00 and 01 are False and True. */
export function textInt(s: string): number | boolean {
  const t = s.replace(/L$/, '');
  if (t === '00') return false;
  if (t === '01') return true;
  const n = Number(t);
  if (!Number.isFinite(n)) throw new PickleError(`the pickle holds a malformed integer '${s}'`);
  return n;
}

/** A little-endian two's-complement integer of any length: a number where it is safe, else a bigint. */
export function longBytes(b: Buffer): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (const byte of [...b].reverse()) v = (v << 8n) | BigInt(byte);
  if (b.readUInt8(b.length - 1) & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
