// Locates the shared golden reference files (../shared/golden beside the repo root).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type SafetensorsFile } from '../../src/io/safetensors.js';

// Compiled to dist/test/helpers/, so four levels up is the folder holding the repo.
const GOLDEN_DIR = new URL('../../../../shared/golden/', import.meta.url);

/** Absolute path of a golden file; throws a clear error when ../shared/golden is missing. */
export function goldenPath(name: string): string {
  const dir = fileURLToPath(GOLDEN_DIR);
  if (!existsSync(dir)) {
    throw new Error(`golden folder ${dir} is missing: the tests expect the shared reference data in ../shared/golden next to the repository root`);
  }
  const path = fileURLToPath(new URL(name, GOLDEN_DIR));
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing (see ${dir}README.md for the list)`);
  return path;
}

export function loadGolden(name: string): SafetensorsFile {
  return readSafetensors(goldenPath(name));
}
