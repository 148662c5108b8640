// For tests of the torch engine: whether this machine can run it (the reason to skip, shown by node:test when not),
// and a way to run a Python snippet with the geospike_torch package importable and read its JSON answer.
import { spawnSync } from 'node:child_process';
import { probeTorch, pythonEnv, pythonPath } from '../../src/torch/python.js';

let cached: string | false | undefined;

/** False when torch can run here, else why not (for `test(name, { skip: torchMissing() }, ...)`). */
export function torchMissing(): string | false {
  if (cached === undefined) {
    const info = probeTorch();
    cached = info.problem ? `torch engine unavailable: ${info.problem}` : false;
  }
  return cached;
}

/** Runs `code` under the torch engine's Python; its last stdout line is parsed as JSON. */
export function python<T = unknown>(code: string, args: string[] = []): T {
  const r = spawnSync(pythonPath(), ['-c', code, ...args], { encoding: 'utf8', env: pythonEnv(), maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}
