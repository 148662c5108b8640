// The backends every backend-sensitive test runs on: all that geospike registers (src/engine/backend.ts), as tfjs's
// ALL_ENVS does, so a new backend gets the whole suite by registering itself. A registered backend that cannot load
// here fails those tests (CI must run them all); GEOSPIKE_TEST_BACKENDS=cpu,native narrows the list by hand.
import { backendNames } from '../../src/engine/backend.js';

export const TEST_BACKENDS: string[] = process.env.GEOSPIKE_TEST_BACKENDS
  ? process.env.GEOSPIKE_TEST_BACKENDS.split(',').map((s) => s.trim()).filter(Boolean)
  : backendNames();
