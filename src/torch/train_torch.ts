// `geospike train --engine torch`: the TypeScript side resolves and checks the config as for its own trainer, then
// hands the run to torch_engine/geospike_torch/train.py (one process, or torchrun's ranks), holding the run folder's
// lock meanwhile. The run folder it gets back is the one src/train/run_folder.ts describes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readClasses } from '../data/dataset.js';
import { isSpiking, resolveConfig } from '../models/registry.js';
import type { TrainConfig } from '../train/config.js';
import { runPaths } from '../train/run_folder.js';
import { lockFolder } from '../util/lock.js';
import { stopOnSignal } from '../util/stop_on_signal.js';
import { TEST_FAULT_ENV } from '../util/test_fault.js';
import { probeTorch, pythonEnv, whyTorchCannotRun } from './python.js';

export const ENGINES = ['ts', 'torch'] as const;
export type Engine = (typeof ENGINES)[number];

export interface TorchOptions {
  resume: boolean;
  device: 'auto' | 'cpu' | 'cuda';
  /** Processes per node (torchrun --nproc_per_node); 1 runs one plain process. */
  gpus: number;
  nnodes: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  amp?: 'bf16' | 'fp16';
  syncBn: boolean;
}

export interface TorchResult {
  status: 'finished' | 'interrupted';
  epochsDone: number;
  best: { valAcc: number; epoch: number } | null;
  lastCheckpoint: string;
}

export class TorchEngineError extends Error {}

/** The engine a run folder's `last` checkpoint was trained with ('ts' when it does not say: older runs). */
export function engineOfRun(out: string): Engine | null {
  const last = runPaths(out).last;
  if (!existsSync(last)) return null;
  const meta = JSON.parse(readFileSync(last, 'utf8')) as { train?: { engine?: string } };
  return meta.train?.engine === 'torch' ? 'torch' : 'ts';
}

/** Checks the torch-only flags against the engine: a flag that would be ignored is an error instead. */
export function checkEngineFlags(engine: Engine, o: Partial<TorchOptions>, given: string[]): void {
  if (engine === 'ts' && given.length) {
    throw new TorchEngineError(
      `${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} for --engine torch only; add --engine torch or ` +
        `drop ${given.length === 1 ? 'it' : 'them'}`,
    );
  }
  if (o.device && !['auto', 'cpu', 'cuda'].includes(o.device))
    throw new TorchEngineError(`--device must be auto, cpu or cuda, got '${o.device}'`);
  if (o.amp && !['bf16', 'fp16'].includes(o.amp))
    throw new TorchEngineError(`--amp must be bf16 or fp16, got '${o.amp}'`);
  if (o.amp && o.device === 'cpu')
    throw new TorchEngineError(`--amp ${o.amp} runs on CUDA only; drop --amp or use --device cuda`);
}

/** DDP gives every process an equal share of a batch: refuse one that does not split (a flag check, before any I/O). */
export function checkBatchSplit(batch: number, o: TorchOptions): void {
  const world = o.gpus * o.nnodes;
  if (batch % world)
    throw new TorchEngineError(
      `--batch ${batch} does not split evenly over ${world} processes; choose a multiple of ${world}`,
    );
}

export async function trainWithTorch(
  cfg: TrainConfig,
  o: TorchOptions,
  log: (l: string) => void,
): Promise<TorchResult> {
  const info = probeTorch();
  const why = whyTorchCannotRun(info, o.device, o.gpus);
  if (why) throw new TorchEngineError(`the torch engine cannot run: ${why}`);
  if (o.amp && info.cudaDevices.length === 0)
    throw new TorchEngineError(`--amp ${o.amp} runs on CUDA only, and torch here sees no CUDA device; drop --amp`);
  if (o.amp === 'bf16' && !info.bf16)
    throw new TorchEngineError('--amp bf16: this GPU does not support bfloat16; use --amp fp16');
  checkBatchSplit(cfg.batch, o);
  mkdirSync(cfg.out, { recursive: true });
  const lock = lockFolder(cfg.out, 'train');
  const jobDir = mkdtempSync(join(tmpdir(), 'geospike-torch-job-'));
  try {
    const paths = runPaths(cfg.out);
    if (!o.resume && existsSync(paths.last))
      throw new TorchEngineError(
        `${cfg.out} already holds a run (${paths.last}); add --resume to continue it, or choose another --out`,
      );
    if (o.resume && !existsSync(paths.last))
      throw new TorchEngineError(`nothing to resume: ${paths.last} does not exist; run without --resume to start`);
    if (o.resume && engineOfRun(cfg.out) === 'ts')
      log(
        `${cfg.out} was trained by the ts engine; continuing it on torch (same weights, AdamW moments and data stream)`,
      );
    const classes = await readClasses(cfg.data);
    const model = resolveConfig(
      cfg.model,
      isSpiking(resolveConfig(cfg.model))
        ? { classes: classes.length, timeSteps: cfg.timeSteps }
        : { classes: classes.length },
    );
    const job = join(jobDir, 'job.json');
    writeFileSync(
      job,
      JSON.stringify({ train: cfg, model, resume: o.resume, device: o.device, amp: o.amp ?? null, syncBn: o.syncBn }),
    );
    const trainer = ['-m', 'geospike_torch.train', '--job', job];
    const distributed = o.gpus > 1 || o.nnodes > 1;
    const args = distributed
      ? [
          '-m',
          'geospike_torch.launch', // torchrun, repaired for Python 3.11 (launch.py)
          ...(o.nnodes === 1 ? ['--standalone'] : ['--nnodes', String(o.nnodes)]),
          '--nproc_per_node',
          String(o.gpus),
          ...(o.nodeRank === undefined ? [] : ['--node_rank', String(o.nodeRank)]),
          ...(o.masterAddr === undefined ? [] : ['--master_addr', o.masterAddr]),
          ...(o.masterPort === undefined ? [] : ['--master_port', String(o.masterPort)]),
          ...trainer,
        ]
      : trainer;
    return await runTrainer(info.python, args, log);
  } finally {
    rmSync(jobDir, { recursive: true, force: true });
    lock.release();
  }
}

/** Runs the trainer with stderr passed through; Ctrl-C and SIGTERM are handed on (the trainer saves and stops). */
function runTrainer(python: string, args: string[], log: (l: string) => void): Promise<TorchResult> {
  const env = pythonEnv();
  // The trainer honours the same test points as the TypeScript loop (pause-after-step); nothing else reads it there.
  if (process.env[TEST_FAULT_ENV]) env[TEST_FAULT_ENV] = process.env[TEST_FAULT_ENV];
  const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  // The trainer saves and stops on the first signal; a later Ctrl-C kills it (a later SIGTERM is handed on again).
  const stop = stopOnSignal(log, {
    afterProgress: true,
    onStop: (sig) => child.kill(sig),
    force: (sig) => child.kill(sig === 'SIGINT' ? 'SIGKILL' : sig),
  });
  return new Promise((resolve, reject) => {
    child.on('error', (err) => reject(new TorchEngineError(`cannot start ${python}: ${err.message}`)));
    child.on('close', (code, signal) => {
      stop.release();
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) return resolve(JSON.parse(line) as TorchResult);
      reject(
        new TorchEngineError(
          signal
            ? `the torch trainer was killed (${signal}); run the same command with --resume to continue from the ` +
                `last checkpoint`
            : `the torch trainer stopped with exit code ${code} (its error is above)`,
        ),
      );
    });
  });
}
