// The run folder's layout, in one place: what `geospike train` writes and `eval`, `energy`, `compare`, `demo` and
// `play` read. Every other module asks here for a path instead of spelling a name.
//   RUN/config.json            resolved training config, model config and classes
//   RUN/summary.csv            one row per epoch (src/train/run_log.ts)
//   RUN/metrics.jsonl          the same per epoch, with per-layer firing rates
//   RUN/checkpoints/last.json  checkpoint sidecar (src/train/checkpoint.ts) naming its safetensors files
//   RUN/checkpoints/best.json  the best validation accuracy's checkpoint
//   RUN/eval.json              `geospike eval`'s full validation pass, for `compare`
//   RUN/energy.json            `geospike energy`'s result, for `compare`
//   RUN/explain.json           `geospike explain`'s per-class maps and deletion test, for `compare`
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export const EVAL_FILE = 'eval.json';
export const ENERGY_FILE = 'energy.json';
export const EXPLAIN_FILE = 'explain.json';
export type ResultFile = typeof EVAL_FILE | typeof ENERGY_FILE | typeof EXPLAIN_FILE;

const CHECKPOINTS = 'checkpoints';
const CONFIG = 'config.json';

/** The files of a run folder. */
export type RunPaths = ReturnType<typeof runPaths>;

export function runPaths(dir: string) {
  const checkpoints = join(dir, CHECKPOINTS);
  return {
    dir,
    config: join(dir, CONFIG),
    summary: join(dir, 'summary.csv'),
    metrics: join(dir, 'metrics.jsonl'),
    checkpoints,
    last: join(checkpoints, 'last.json'),
    best: join(checkpoints, 'best.json'),
    eval: join(dir, EVAL_FILE),
    energy: join(dir, ENERGY_FILE),
    explain: join(dir, EXPLAIN_FILE),
  };
}

/** The sidecar of a checkpoint kind ('last', 'best') inside a checkpoints folder. */
export function sidecarIn(checkpointsDir: string, kind: string): string {
  return join(checkpointsDir, `${kind}.json`);
}

/** The run folder that holds a checkpoint (`RUN/checkpoints/best.json` -> `RUN`), or null if it is elsewhere. */
export function runDirOf(checkpointJson: string): string | null {
  const dir = dirname(resolve(checkpointJson));
  return basename(dir) === CHECKPOINTS && existsSync(join(dirname(dir), CONFIG)) ? dirname(dir) : null;
}

/** A checkpoints folder given as a run folder or as the checkpoints folder itself: its `last` sidecar, if any. */
export function lastSidecarUnder(path: string): string | undefined {
  return [sidecarIn(path, 'last'), runPaths(path).last].find(existsSync);
}
