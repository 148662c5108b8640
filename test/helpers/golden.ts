// Locates the golden reference files in test/golden (what each holds and how it was made: test/golden/README.md).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type SafetensorsFile } from '../../src/io/safetensors.js';

// Compiled to dist/test/helpers/, so three levels up is the repository root.
export const GOLDEN_DIR = new URL('../../../test/golden/', import.meta.url);

/** Absolute path of a golden file; throws a clear error when it is missing. */
export function goldenPath(name: string): string {
  const dir = fileURLToPath(GOLDEN_DIR);
  if (!existsSync(dir)) {
    throw new Error(`golden folder ${dir} is missing: it is part of the repository (git checkout test/golden)`);
  }
  const path = fileURLToPath(new URL(name, GOLDEN_DIR));
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing (see ${dir}README.md for the list)`);
  return path;
}

export function loadGolden(name: string): SafetensorsFile {
  return readSafetensors(goldenPath(name));
}
