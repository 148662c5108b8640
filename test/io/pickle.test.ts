// The restricted unpickler on hand-written pickles (no Python needed): data comes back as data, allowed globals run
// the caller's functions, a Namespace-like NEWOBJ + BUILD stays opaque, and a call of any other global (os.system
// through REDUCE) is refused before anything could run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Opaque, PickleError, unpickle } from '../../src/io/pickle.js';

const p = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x))));

test('protocol 2 data: dicts, lists, tuples, numbers, strings, memo', () => {
  // {'a': [1, 300, -2, 1.5, True, None], 'b': ('x', 'x')} with the tuple's second 'x' from the memo.
  const pkl = p(
    [0x80, 2],
    '}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01M\x2c\x01J\xfe\xff\xff\xffG\x3f\xf8\x00\x00\x00\x00\x00\x00\x88Ne',
    'X\x01\x00\x00\x00bq\x03X\x01\x00\x00\x00xq\x04h\x04\x86q\x05u.',
  );
  const v = unpickle(pkl) as Map<string, unknown>;
  assert.deepEqual(v.get('a'), [1, 300, -2, 1.5, true, null]);
  assert.deepEqual(v.get('b'), ['x', 'x']);
});

test('allowed globals run the given function; NEWOBJ + BUILD of another class stays opaque data', () => {
  // collections.OrderedDict() then argparse.Namespace with state {'lr': 0.1}, in a tuple.
  const pkl = p(
    [0x80, 2],
    'ccollections\nOrderedDict\n)R',
    'cargparse\nNamespace\n)\x81}X\x02\x00\x00\x00lrG\x3f\xb9\x99\x99\x99\x99\x99\x9asb',
    '\x86.',
  );
  const [od, ns] = unpickle(pkl, { allowed: { 'collections.OrderedDict': () => new Map([['made', true]]) } }) as [
    Map<string, boolean>,
    Opaque,
  ];
  assert.equal(od.get('made'), true);
  assert.ok(ns instanceof Opaque);
  assert.equal(ns.type, 'argparse.Namespace');
  assert.equal((ns.state as Map<string, number>).get('lr'), 0.1);
});

test('a call of a global nobody allowed is refused: os.system through REDUCE, protocol 0 and 2', () => {
  for (const pkl of [
    p("cos\nsystem\n(S'touch /tmp/x'\ntR."),
    p([0x80, 2], 'cposix\nsystem\nX\x0c\x00\x00\x00touch /tmp/x\x85R.'),
  ]) {
    assert.throws(
      () => unpickle(pkl),
      (e: Error) => e instanceof PickleError && /calls (os|posix)\.system/.test(e.message),
    );
  }
  // The same call allowed as opaque data (what numpy scalars need) gives a value and runs nothing.
  const v = unpickle(p("cos\nsystem\n(S'x'\ntR."), { opaqueCalls: new Set(['os.system']) });
  assert.ok(v instanceof Opaque && v.type === 'os.system');
});

test('truncated and unknown instructions are errors, not crashes', () => {
  assert.throws(() => unpickle(p([0x80, 2], 'X\xff\x00\x00\x00ab')), /ends in the middle/);
  assert.throws(() => unpickle(p([0x80, 2, 0xff])), /unknown instruction 0xff/);
  assert.throws(() => unpickle(p([0x80, 2], '\x82\x01.')), /extension registry/);
});
