// The JSON bodies the game API takes, checked before any handler touches them (issue #21): a size and nesting cap
// before parsing (a 100,000-deep array overflowed the stack), then a schema per route, so a value such as
// {"toString": 1} where a number belongs is a 400 that says which field, never a crash.
import { must } from '../util/must.js';
import { z } from 'zod';
import { RefusedRequestError } from './refused_request.js';

/** Largest JSON body accepted: the API's bodies are a few dozen bytes. */
export const MAX_JSON_BYTES = 16 * 1024;
/** Deepest nesting of arrays and objects accepted (the API's bodies are flat). */
export const MAX_JSON_DEPTH = 8;

/**
 * Throws a 400 RefusedRequestError when `text` nests deeper than
 * `maxDepth` (strings are skipped, so brackets in them don't count).
 */
export function checkJsonDepth(text: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth)
        throw new RefusedRequestError(
          400,
          `the JSON body nests deeper than ${maxDepth} levels; the API's bodies are flat objects`,
        );
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

export const startBody = z.strictObject({
  rounds: z.number().optional(),
  name: z.unknown().optional(),
});

export const guessBody = z.strictObject({ guess: z.unknown() });

/**
 * `body` (undefined when none was sent) checked against `schema`; a 400 RefusedRequestError naming the field otherwise.
 */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, shape: string): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new RefusedRequestError(400, `send a JSON object: ${shape}`);
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = must(parsed.error.issues[0], 'a failed zod parse has at least one issue');
  if (issue.code === 'unrecognized_keys') {
    const key = String(issue.keys[0]).slice(0, 40);
    const hint =
      key === 'seed'
        ? " (a game's seed is chosen by the server: one chosen by a player would let a second game replay the deal; " +
          'the operator can fix it with geospike play --seed)'
        : '';
    throw new RefusedRequestError(400, `unknown field '${key}'${hint}; send ${shape}`);
  }
  throw new RefusedRequestError(400, `field '${issue.path.join('.')}': ${issue.message}; send ${shape}`);
}
