// Benches and fixtures reuse a few inputs over many requests: the i-th request takes input i mod their count.
import { must } from './must.js';

/** `xs[i % xs.length]`, for a non-empty list (an empty one is a bug in the caller, and says so). */
export function cycle<T>(xs: readonly T[], i: number): T {
  return must(xs[i % xs.length], 'cycle over a non-empty list');
}
