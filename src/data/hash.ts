// Stable 32-bit hashing for seeded, order-independent decisions (which cell is validation, which seed a class uses).
import { createHash } from 'node:crypto';

export function hash32(...parts: (string | number)[]): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32LE(0);
}
