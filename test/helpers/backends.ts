// The backends every backend-sensitive test runs on: all that geospike registers (src/engine/backend.ts), as tfjs's
// ALL_ENVS does, so a new backend gets the whole suite by registering itself. A registered backend that cannot load
// here fails those tests, saying why (CI must run them all); GEOSPIKE_TEST_BACKENDS=cpu,native narrows the list by
// hand.
import assert from 'node:assert/strict';
import { backendNames, initEngine, unavailableReason } from '../../src/engine/backend.js';

export const TEST_BACKENDS: string[] = process.env.GEOSPIKE_TEST_BACKENDS
  ? process.env.GEOSPIKE_TEST_BACKENDS.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  : backendNames();

/** Activates a named backend, failing the test when it cannot load: never passing on a fallback. */
export async function requireBackend(name: string): Promise<void> {
  const got = await initEngine(name);
  assert.equal(got, name, `the ${name} backend did not load: ${unavailableReason(name) ?? `tfjs activated ${got}`}`);
}
