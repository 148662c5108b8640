import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MissingValueError, must } from '../../src/util/must.js';

test('must returns a present value unchanged, falsy ones included', () => {
  assert.equal(must(0, 'zero is a value'), 0);
  assert.equal(must('', 'the empty string is a value'), '');
  assert.equal(must(null, 'null is a value, only undefined is missing'), null);
  const list = [3, 4];
  assert.equal(must(list[1], 'second element'), 4);
});

test('must throws a MissingValueError that names why the value should have been there', () => {
  const list: number[] = [];
  assert.throws(
    () => must(list[0], 'the list was checked to be non-empty'),
    (err: unknown) =>
      err instanceof MissingValueError &&
      err.name === 'MissingValueError' &&
      err.message.includes('the list was checked to be non-empty'),
  );
});
