// The flags `geospike train` takes for the torch engine (--engine torch and its device and distribution settings),
// and the dispatch to it before the TypeScript trainer starts; kept here so train.ts changes by three lines.
import type { TrainConfig } from '../train/config.js';
import { runPaths } from '../train/run_folder.js';
import {
  checkBatchSplit,
  checkEngineFlags,
  ENGINES,
  trainWithTorch,
  type Engine,
  type TorchOptions,
} from '../torch/train_torch.js';
import { intOption, resumeCommand } from './args.js';

export const torchArgs = {
  engine: {
    type: 'string',
    description: 'Trainer: ts (this process, default) or torch (PyTorch; docs/torch-engine.md)',
  },
  device: { type: 'string', description: 'torch engine: auto, cpu or cuda (default auto)' },
  gpus: { type: 'string', description: 'torch engine: processes per node, via torchrun (default 1)' },
  nnodes: { type: 'string', description: 'torch engine: machines taking part (torchrun --nnodes, default 1)' },
  'node-rank': { type: 'string', description: "torch engine: this machine's rank (torchrun --node_rank)" },
  'master-addr': { type: 'string', description: 'torch engine: the rank-0 machine (torchrun --master_addr)' },
  'master-port': { type: 'string', description: 'torch engine: its port (torchrun --master_port)' },
  amp: { type: 'string', description: 'torch engine on CUDA: mixed precision, bf16 or fp16' },
  'sync-bn': { type: 'boolean', description: 'torch engine: BatchNorm statistics over all processes', default: false },
} as const;

type Args = { [K in keyof typeof torchArgs]?: string | boolean } & { resume?: boolean };

/** Runs the training on the torch engine when --engine torch and returns true; false leaves it to the TS trainer. */
/**
 * Checks the engine flags, then (flags first, so a wrong flag is named before a wrong path) runs `checkData`; with
 * --engine torch, runs the whole training on PyTorch and returns true.
 */
export async function torchDispatch(cfg: TrainConfig, args: Args, checkData: () => Promise<unknown>): Promise<boolean> {
  const engine = (args.engine ?? 'ts') as Engine;
  if (!ENGINES.includes(engine)) throw new Error(`--engine must be ts or torch, got '${args.engine}'`);
  const given = (['device', 'gpus', 'nnodes', 'node-rank', 'master-addr', 'master-port', 'amp', 'sync-bn'] as const)
    .filter((k) => args[k] !== undefined && args[k] !== false)
    .map((k) => `--${k}`);
  const o: TorchOptions = {
    resume: Boolean(args.resume),
    device: (args.device ?? 'auto') as TorchOptions['device'],
    gpus: intOption('--gpus', args.gpus as string | undefined, 1) ?? 1,
    nnodes: intOption('--nnodes', args.nnodes as string | undefined, 1) ?? 1,
    nodeRank: intOption('--node-rank', args['node-rank'] as string | undefined, 0),
    masterAddr: args['master-addr'] as string | undefined,
    masterPort: intOption('--master-port', args['master-port'] as string | undefined, 1),
    amp: args.amp as TorchOptions['amp'],
    syncBn: Boolean(args['sync-bn']),
  };
  checkEngineFlags(engine, o, given);
  if (engine === 'torch') checkBatchSplit(cfg.batch, o);
  await checkData();
  if (engine !== 'torch') return false;
  const say = (l: string) => process.stderr.write(`${l}\n`);
  const result = await trainWithTorch(cfg, o, say);
  if (result.status === 'interrupted') {
    console.log(`interrupted; resume with:\n  ${resumeCommand(cfg.out, 'torch')}`);
    process.exitCode = 130; // as the ts engine: the shell's "stopped by Ctrl-C"
  } else {
    const best = result.best
      ? `best validation accuracy ${(100 * result.best.valAcc).toFixed(2)}% at epoch ${result.best.epoch}`
      : '';
    const p = runPaths(cfg.out);
    console.log(`done: ${result.epochsDone} epochs; ${best}\n  checkpoints: ${p.best}, ${p.last}`);
  }
  return true;
}
