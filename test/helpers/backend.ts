// Tests that run on a named backend: one that cannot load must fail the test saying why, never pass on a fallback.
import assert from 'node:assert/strict';
import { initEngine, unavailableReason } from '../../src/engine/backend.js';

export async function requireBackend(name: string): Promise<void> {
  const got = await initEngine(name);
  assert.equal(got, name, `the ${name} backend did not load: ${unavailableReason(name) ?? `tfjs activated ${got}`}`);
}
