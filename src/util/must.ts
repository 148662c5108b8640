// Values the code relies on being there: an index inside a bound just checked, a key just set, the first element
// of a list known to be non-empty. With noUncheckedIndexedAccess such reads are typed `T | undefined`; `must`
// states why the value exists and, if that reasoning is ever wrong, fails at the read with a named error instead
// of carrying `undefined` into arithmetic (NaN) or a later, unrelated crash.

/** A value that was expected to exist was missing: a bug in the code that reads it, not in the user's input. */
export class MissingValueError extends Error {
  override name = 'MissingValueError';
}

/** `value`, or a MissingValueError that says `why` it should have been there. */
export function must<T>(value: T | undefined, why: string): T {
  if (value === undefined) throw new MissingValueError(`internal error: missing value (${why})`);
  return value;
}
