// A restricted reader of Python pickles (protocols 0-5): it rebuilds data (dicts as Maps, lists, tuples, strings,
// numbers, bytes) and calls only the JavaScript functions the caller names for a few (module, name) globals. Every
// other global is an opaque reference: calling or instantiating it makes an `Opaque` holding its arguments and
// state, so a pickle that names os.system or builtins.eval runs nothing. Extension codes are refused.
export class PickleError extends Error {}

/** An object of a class geospike does not rebuild (argparse.Namespace, a numpy scalar, ...): data only. */
export class Opaque {
  state: unknown = undefined;
  constructor(
    readonly type: string,
    readonly args: unknown[],
  ) {}
}

/** A global the caller did not allow: a name, never resolved to code. */
export class GlobalRef {
  constructor(readonly name: string) {}
}

export type Allowed = (args: unknown[]) => unknown;

export interface PickleOptions {
  /** `module.name` -> the function a call of that global runs instead (e.g. collections.OrderedDict -> new Map). */
  allowed?: Record<string, Allowed>;
  /**
   * Globals that may be called (REDUCE) to make an opaque value (numpy.core.multiarray.scalar, argparse.Namespace...).
   * A call of any other global that `allowed` does not name is refused: a checkpoint has no reason to call os.system.
   */
  opaqueCalls?: ReadonlySet<string>;
  /** What a persistent id (torch's storages) stands for. */
  persistentLoad?: (pid: unknown) => unknown;
}

const MARK = Symbol('mark');

export function unpickle(buf: Buffer, opts: PickleOptions = {}): unknown {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > buf.length) throw new PickleError('the pickle ends in the middle of an instruction');
  };
  const u8 = () => {
    need(1);
    pos += 1;
    return buf.readUInt8(pos - 1);
  };
  const u16 = () => {
    need(2);
    pos += 2;
    return buf.readUInt16LE(pos - 2);
  };
  const u32 = () => {
    need(4);
    pos += 4;
    return buf.readUInt32LE(pos - 4);
  };
  const i32 = () => {
    need(4);
    pos += 4;
    return buf.readInt32LE(pos - 4);
  };
  const u64 = () => {
    need(8);
    const v = buf.readBigUInt64LE(pos);
    pos += 8;
    if (v > BigInt(buf.length)) throw new PickleError('a length in the pickle is larger than the file');
    return Number(v);
  };
  const bytes = (n: number) => {
    need(n);
    pos += n;
    return buf.subarray(pos - n, pos);
  };
  const line = () => {
    const end = buf.indexOf(10, pos);
    if (end < 0) throw new PickleError('the pickle ends in the middle of a text instruction');
    const s = buf.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (!stack.length) throw new PickleError('the pickle pops an empty stack');
    return stack.pop();
  };
  const popMark = () => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new PickleError('the pickle closes a group it never opened');
    const items = stack.splice(at);
    items.shift();
    return items;
  };
  const top = () => {
    if (!stack.length) throw new PickleError('the pickle uses an empty stack');
    return stack[stack.length - 1];
  };
  const lookup = (module: string, name: string): unknown => {
    const key = `${module}.${name}`;
    const fn = opts.allowed?.[key];
    return fn ?? new GlobalRef(key);
  };
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (typeof fn === 'function') return (fn as Allowed)(args);
    if (fn instanceof GlobalRef) {
      if (!opts.opaqueCalls?.has(fn.name))
        throw new PickleError(`it calls ${fn.name}, which data has no reason to; refused, and nothing in it was run`);
      return new Opaque(fn.name, args);
    }
    return new Opaque('(call of a non-global)', args);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) {
      if (target instanceof Opaque) return; // e.g. a dict subclass geospike does not rebuild
      throw new PickleError('the pickle sets items on something that is not a dict');
    }
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const int = (s: string) => {
    const t = s.replace(/L$/, '');
    if (t === '00') return false;
    if (t === '01') return true;
    const n = Number(t);
    if (!Number.isFinite(n)) throw new PickleError(`the pickle holds a malformed integer '${s}'`);
    return n;
  };
  const longBytes = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b.readUInt8(b.length - 1) & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longBytes(bytes(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(longBytes(bytes(u32())));
        break;
      case 0x49: // INT
        stack.push(int(line()));
        break;
      case 0x4c: // LONG
        stack.push(int(line()));
        break;
      case 0x47: // BINFLOAT
        need(8);
        stack.push(buf.readDoubleBE(pos));
        pos += 8;
        break;
      case 0x46: // FLOAT
        stack.push(Number(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(bytes(u32()).toString('utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(bytes(u8()).toString('utf8'));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(bytes(u64()).toString('utf8'));
        break;
      case 0x54: // BINSTRING
        stack.push(bytes(u32()).toString('latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(bytes(u8()).toString('latin1'));
        break;
      case 0x53: // STRING
        stack.push(line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2'));
        break;
      case 0x56: // UNICODE
        stack.push(line());
        break;
      case 0x42: // BINBYTES
        stack.push(Buffer.from(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Buffer.from(bytes(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(Buffer.from(bytes(u64())));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x64: {
        // DICT
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      }
      case 0x6c: // LIST
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (Array.isArray(list)) list.push(v);
        else if (!(list instanceof Opaque)) throw new PickleError('the pickle appends to something that is not a list');
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (Array.isArray(list)) list.push(...items);
        else if (!(list instanceof Opaque)) throw new PickleError('the pickle appends to something that is not a list');
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const set = top();
        if (set instanceof Set) for (const v of items) set.add(v);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(int(line()) as number, top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET
        const k = op === 0x68 ? u8() : op === 0x6a ? u32() : (int(line()) as number);
        if (!memo.has(k)) throw new PickleError(`the pickle refers to memo entry ${k}, which it never stored`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(lookup(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        stack.push(lookup(String(module), String(name)));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(new Opaque(cls instanceof GlobalRef ? cls.name : '(object)', Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop();
        const args = pop();
        const cls = pop();
        stack.push(new Opaque(cls instanceof GlobalRef ? cls.name : '(object)', Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x6f: {
        // OBJ
        const [cls, ...args] = popMark();
        stack.push(new Opaque(cls instanceof GlobalRef ? cls.name : '(object)', args));
        break;
      }
      case 0x69: {
        // INST
        const name = `${line()}.${line()}`;
        stack.push(new Opaque(name, popMark()));
        break;
      }
      case 0x62: {
        // BUILD: the state of an object; kept on opaque ones, ignored elsewhere (nothing's __setstate__ runs)
        const state = pop();
        const obj = top();
        if (obj instanceof Opaque) obj.state = state;
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x50: // PERSID
        stack.push(persistent(line()));
        break;
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new PickleError('the pickle uses the extension registry, which geospike does not read');
      default:
        throw new PickleError(`the pickle holds an unknown instruction 0x${op.toString(16)} at byte ${pos - 1}`);
    }
  }

  function persistent(pid: unknown): unknown {
    if (!opts.persistentLoad) throw new PickleError('the pickle refers to outside data (a persistent id)');
    return opts.persistentLoad(pid);
  }
}
