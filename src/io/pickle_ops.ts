// The pickle instructions geospike reads, as a table by opcode: each group lists its instructions by their names in
// Python's pickletools, with what each does to the machine (pickle_machine.ts). STOP is the reader's own (pickle.ts).
import { longBytes, MARK, type PickleMachine, textInt } from './pickle_machine.js';
import { GlobalRef, Opaque, PickleError } from './pickle_values.js';

type Op = [name: string, code: number, run: (m: PickleMachine, code: number) => void];

const asArgs = (args: unknown) => (Array.isArray(args) ? args : [args]);
const className = (cls: unknown) => (cls instanceof GlobalRef ? cls.name : '(object)');
const memoIndex = (m: PickleMachine) => textInt(m.line()) as number;

/** Protocol and framing: nothing for the reader to keep. */
const FRAMING: Op[] = [
  ['PROTO', 0x80, (m) => void m.u8()],
  ['FRAME', 0x95, (m) => void m.u64()],
  ['MARK', 0x28, (m) => m.push(MARK)],
];

const NUMBERS: Op[] = [
  ['NONE', 0x4e, (m) => m.push(null)],
  ['NEWTRUE', 0x88, (m) => m.push(true)],
  ['NEWFALSE', 0x89, (m) => m.push(false)],
  ['BININT', 0x4a, (m) => m.push(m.i32())],
  ['BININT1', 0x4b, (m) => m.push(m.u8())],
  ['BININT2', 0x4d, (m) => m.push(m.u16())],
  ['LONG1', 0x8a, (m) => m.push(longBytes(m.bytes(m.u8())))],
  ['LONG4', 0x8b, (m) => m.push(longBytes(m.bytes(m.u32())))],
  ['INT', 0x49, (m) => m.push(textInt(m.line()))],
  ['LONG', 0x4c, (m) => m.push(textInt(m.line()))],
  ['BINFLOAT', 0x47, (m) => m.push(m.f64be())],
  ['FLOAT', 0x46, (m) => m.push(Number(m.line()))],
];

/** Text is decoded (UTF-8, or latin1 for Python 2's str); bytes are copied out of the file's buffer. */
const STRINGS: Op[] = [
  ['BINUNICODE', 0x58, (m) => m.push(m.bytes(m.u32()).toString('utf8'))],
  ['SHORT_BINUNICODE', 0x8c, (m) => m.push(m.bytes(m.u8()).toString('utf8'))],
  ['BINUNICODE8', 0x8d, (m) => m.push(m.bytes(m.u64()).toString('utf8'))],
  ['BINSTRING', 0x54, (m) => m.push(m.bytes(m.u32()).toString('latin1'))],
  ['SHORT_BINSTRING', 0x55, (m) => m.push(m.bytes(m.u8()).toString('latin1'))],
  ['STRING', 0x53, (m) => m.push(m.line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2'))],
  ['UNICODE', 0x56, (m) => m.push(m.line())],
  ['BINBYTES', 0x42, (m) => m.push(Buffer.from(m.bytes(m.u32())))],
  ['SHORT_BINBYTES', 0x43, (m) => m.push(Buffer.from(m.bytes(m.u8())))],
  ['BINBYTES8', 0x8e, (m) => m.push(Buffer.from(m.bytes(m.u64())))],
  ['BYTEARRAY8', 0x96, (m) => m.push(Buffer.from(m.bytes(m.u64())))],
];

/** Appending to a list; an opaque object (a list subclass geospike does not rebuild) takes nothing. */
function append(m: PickleMachine, items: unknown[]): void {
  const list = m.top();
  if (Array.isArray(list)) list.push(...items);
  else if (!(list instanceof Opaque)) throw new PickleError('the pickle appends to something that is not a list');
}

/** Dicts are Maps, lists and tuples arrays, sets Sets. */
const CONTAINERS: Op[] = [
  ['EMPTY_DICT', 0x7d, (m) => m.push(new Map())],
  ['EMPTY_LIST', 0x5d, (m) => m.push([])],
  ['EMPTY_TUPLE', 0x29, (m) => m.push([])],
  ['EMPTY_SET', 0x8f, (m) => m.push(new Set())],
  [
    'DICT',
    0x64,
    (m) => {
      const d = new Map();
      m.setItems(d, m.popMark());
      m.push(d);
    },
  ],
  ['LIST', 0x6c, (m) => m.push(m.popMark())],
  ['TUPLE', 0x74, (m) => m.push(m.popMark())],
  ['FROZENSET', 0x91, (m) => m.push(new Set(m.popMark()))],
  ['TUPLE1', 0x85, (m) => m.push([m.pop()])],
  [
    'TUPLE2',
    0x86,
    (m) => {
      const b = m.pop();
      m.push([m.pop(), b]);
    },
  ],
  [
    'TUPLE3',
    0x87,
    (m) => {
      const c = m.pop();
      const b = m.pop();
      m.push([m.pop(), b, c]);
    },
  ],
  ['APPEND', 0x61, (m) => append(m, [m.pop()])],
  ['APPENDS', 0x65, (m) => append(m, m.popMark())],
  [
    'ADDITEMS',
    0x90,
    (m) => {
      const items = m.popMark();
      const set = m.top();
      if (set instanceof Set) for (const v of items) set.add(v);
    },
  ],
  [
    'SETITEM',
    0x73,
    (m) => {
      const v = m.pop();
      const k = m.pop();
      m.setItems(m.top(), [k, v]);
    },
  ],
  [
    'SETITEMS',
    0x75,
    (m) => {
      const items = m.popMark();
      m.setItems(m.top(), items);
    },
  ],
];

function memoGet(m: PickleMachine, k: number): void {
  if (!m.memo.has(k)) throw new PickleError(`the pickle refers to memo entry ${k}, which it never stored`);
  m.push(m.memo.get(k));
}

const STACK_AND_MEMO: Op[] = [
  ['POP', 0x30, (m) => void m.pop()],
  ['POP_MARK', 0x31, (m) => void m.popMark()],
  ['DUP', 0x32, (m) => m.push(m.top())],
  ['BINPUT', 0x71, (m) => void m.memo.set(m.u8(), m.top())],
  ['LONG_BINPUT', 0x72, (m) => void m.memo.set(m.u32(), m.top())],
  ['PUT', 0x70, (m) => void m.memo.set(memoIndex(m), m.top())],
  ['MEMOIZE', 0x94, (m) => void m.memo.set(m.memo.size, m.top())],
  ['BINGET', 0x68, (m) => memoGet(m, m.u8())],
  ['LONG_BINGET', 0x6a, (m) => memoGet(m, m.u32())],
  ['GET', 0x67, (m) => memoGet(m, memoIndex(m))],
];

/**
 * Globals, calls and objects: a global resolves only to what the caller allowed (else a name), a call runs only an
 * allowed function, and every object of a class is an Opaque holding its arguments and state (no __setstate__ runs).
 */
const OBJECTS: Op[] = [
  [
    'GLOBAL',
    0x63,
    (m) => {
      const module = m.line();
      m.push(m.lookup(module, m.line()));
    },
  ],
  [
    'STACK_GLOBAL',
    0x93,
    (m) => {
      const name = m.pop();
      const module = m.pop();
      m.push(m.lookup(String(module), String(name)));
    },
  ],
  [
    'REDUCE',
    0x52,
    (m) => {
      const args = m.pop();
      m.push(m.call(m.pop(), asArgs(args)));
    },
  ],
  [
    'NEWOBJ',
    0x81,
    (m) => {
      const args = m.pop();
      m.push(new Opaque(className(m.pop()), asArgs(args)));
    },
  ],
  [
    'NEWOBJ_EX',
    0x92,
    (m) => {
      m.pop();
      const args = m.pop();
      m.push(new Opaque(className(m.pop()), asArgs(args)));
    },
  ],
  [
    'OBJ',
    0x6f,
    (m) => {
      const [cls, ...args] = m.popMark();
      m.push(new Opaque(className(cls), args));
    },
  ],
  [
    'INST',
    0x69,
    (m) => {
      const name = `${m.line()}.${m.line()}`;
      m.push(new Opaque(name, m.popMark()));
    },
  ],
  [
    'BUILD',
    0x62,
    (m) => {
      // The state of an object: kept on opaque ones, ignored elsewhere.
      const state = m.pop();
      const obj = m.top();
      if (obj instanceof Opaque) obj.state = state;
    },
  ],
  ['BINPERSID', 0x51, (m) => m.push(m.persistent(m.pop()))],
  ['PERSID', 0x50, (m) => m.push(m.persistent(m.line()))],
];

const refuseExtension = () => {
  throw new PickleError('the pickle uses the extension registry, which geospike does not read');
};
const EXTENSIONS: Op[] = [
  ['EXT1', 0x82, refuseExtension],
  ['EXT2', 0x83, refuseExtension],
  ['EXT4', 0x84, refuseExtension],
];

export const STOP = 0x2e;

/** Every instruction but STOP, by opcode. */
export const OPS: ReadonlyMap<number, Op[2]> = new Map(
  [...FRAMING, ...NUMBERS, ...STRINGS, ...CONTAINERS, ...STACK_AND_MEMO, ...OBJECTS, ...EXTENSIONS].map(
    ([, code, run]) => [code, run],
  ),
);
