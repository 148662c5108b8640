// Text from players (and from results files anyone may have edited) that reaches a terminal or a page: control
// characters (C0, C1), line/paragraph separators and the bidi controls can rewrite a terminal, reorder a table row or
// make one name look like another. Names with them are refused at the API; every output escapes them anyway.

/**
 * C0 and C1 controls, DEL, line and paragraph separators, and the Unicode bidi controls (marks, embeddings, isolates).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** True when `s` holds a character a name must not have. */
export function hasUnsafeCharacters(s: string): boolean {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s);
}

/** `s` with every unsafe character written as a visible `\u{hex}` escape, for a terminal or a page. */
export function escapeUnsafe(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** UNSAFE less C0, which JSON.stringify escapes in strings itself (and uses, as new lines, between tokens). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** JSON text with every unsafe character as a `\uXXXX` escape: the same JSON value, safe to print. */
export function safeJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`,
  );
}

/** A copy of `value` (plain JSON data) with escapeUnsafe applied to every string in it, keys included. */
export function escapeStrings<T>(value: T): T {
  if (typeof value === 'string') return escapeUnsafe(value) as T;
  if (Array.isArray(value)) return value.map(escapeStrings) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeUnsafe(k), escapeStrings(v)])) as T;
  return value;
}
