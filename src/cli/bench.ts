// `geospike bench`: seconds per training step or inference batch of a preset, or (--epoch) per whole training epoch
// on a dataset folder with where the time goes. With --vs-pytorch, geospike and the PyTorch peer (bench/peer/*.py)
// run in alternating fresh processes, --rounds each, and the median ratio is quoted with its range.
import { existsSync } from 'node:fs';
import { defineCommand } from 'citty';
import { benchEpoch, describePhases, peerEpochArgs, type EpochBenchResult } from '../bench/epoch.js';
import { benchModel, peerScript, torchArgs, type BenchMode, type BenchResult } from '../bench/model.js';
import {
  describeRounds,
  interleave,
  PEER_SETUP,
  peerEnv,
  PYTHON,
  runOurs,
  runPeer,
  type Round,
} from '../bench/rounds.js';
import { describeProfile } from '../bench/kernel_profile.js';
import { DEFAULT_PRESET, PRESETS, resolveConfig } from '../models/registry.js';
import { backendArg, intOption, jsonArg } from './args.js';
import type { EpochTiming } from '../train/timing.js';

/** A whole-number flag that has a default (so it is always given), at least `min`. */
const count = (name: string, v: string | undefined, min = 1): number => intOption(`--${name}`, v ?? '', min) ?? min;

const line = (r: BenchResult) =>
  `  ${r.runner.padEnd(22)} ${r.secPerBatch.toFixed(3).padStart(8)} s/batch ${r.imagesPerSec.toFixed(1).padStart(8)} images/s   ` +
  `peak RSS ${r.peakRssMB} MB` +
  (r.cpuSecPerBatch ? `   ${r.cpuSecPerBatch.toFixed(2)} CPU-s/batch` : '') +
  (r.gflops ? `   ${r.gflops.toFixed(1)} GFLOP/s` : '') +
  (r.gpu ? `   GPU memory ${r.gpu.peakMB} MB on ${r.gpu.adapter}` : '') +
  (r.load ? `   (load ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)})` : '');

const epochLines = (r: EpochBenchResult) => [
  `  ${r.runner.padEnd(22)} ${r.secPerEpoch.toFixed(2).padStart(8)} s/epoch ${r.imagesPerSec.toFixed(1).padStart(8)} images/s   peak RSS ${r.peakRssMB} MB` +
    `   (load ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)})`,
  `  where the time went: ${describePhases(r.epochs)}`,
];

// The flags a geospike round gets: this invocation's, less the comparison, as JSON.
const FORWARDED = [
  'model',
  'batch',
  'steps',
  'warmup',
  'mode',
  'backend',
  'time-steps',
  'threads',
  'data',
  'epochs',
] as const;

export default defineCommand({
  meta: {
    name: 'bench',
    description:
      'Time training steps, inference batches or whole training epochs of a model preset (optionally against PyTorch)',
  },
  args: {
    model: { type: 'string', description: `Preset (${Object.keys(PRESETS).join(', ')})`, default: DEFAULT_PRESET },
    batch: { type: 'string', description: 'Images per batch', default: '64' },
    steps: { type: 'string', description: 'Timed batches (the median is reported)', default: '3' },
    warmup: { type: 'string', description: 'Untimed batches first', default: '1' },
    mode: { type: 'string', description: 'train (forward, backward, AdamW) or infer (forward only)', default: 'train' },
    epoch: {
      type: 'boolean',
      description: 'Time whole training epochs on --data through the train loop (data, steps, validation, checkpoints)',
      default: false,
    },
    data: { type: 'string', description: 'Dataset folder for --epoch (from collect or import)' },
    epochs: { type: 'string', description: 'Epochs per run with --epoch (the median is reported)', default: '1' },
    backend: backendArg,
    'time-steps': { type: 'string', description: "Spiking models' time steps T (default: the preset's, 4)" },
    threads: { type: 'string', description: 'Threads for the native backend and for PyTorch', default: '2' },
    profile: {
      type: 'string',
      description:
        'Print where the timed steps spent their time: per kernel (kernel) or per kernel and input shapes (shape)',
    },
    json: jsonArg('with --vs-pytorch: every round'),
    engine: { type: 'string', description: 'With --epoch: torch trains the same epochs on the torch engine too' },
    device: {
      type: 'string',
      description: 'With --engine torch: auto, cpu or cuda (default cpu, beside the CPU backends)',
    },
    'vs-pytorch': {
      type: 'boolean',
      description: 'Alternate geospike and PyTorch rounds on the same model, batch, T and threads',
      default: false,
    },
    rounds: { type: 'string', description: 'Rounds of each with --vs-pytorch (each a fresh process)', default: '3' },
    'torch-script': {
      type: 'string',
      description: 'The peer script (default bench/peer/step.py, or bench/peer/epoch.py with --epoch)',
    },
    python: { type: 'string', description: 'Python interpreter with PyTorch for the peer', default: PYTHON },
  },
  async run({ args }) {
    const mode = args.mode as BenchMode;
    if (mode !== 'train' && mode !== 'infer') throw new Error(`--mode must be train or infer, got '${args.mode}'`);
    if (!Object.hasOwn(PRESETS, args.model))
      throw new Error(`unknown model preset '${args.model}'; known presets: ${Object.keys(PRESETS).join(', ')}`);
    if (args.epoch && !args.data)
      throw new Error(
        '--epoch needs --data DIR, a dataset folder (e.g. from `geospike import fashion-mnist --out DIR`)',
      );
    if (args.epoch && mode !== 'train') throw new Error('--epoch times training epochs; drop --mode infer');
    const threads = count('threads', args.threads);
    const timeSteps = args['time-steps'] === undefined ? undefined : count('time-steps', args['time-steps']);
    const opts = {
      preset: args.model,
      mode,
      backend: args.backend,
      batch: count('batch', args.batch),
      steps: count('steps', args.steps),
      warmup: count('warmup', args.warmup, 0),
      overrides: timeSteps === undefined ? undefined : { timeSteps },
      profile: profileArg(args.profile),
    };
    const epochOpts = {
      data: args.data!,
      preset: args.model,
      batch: opts.batch,
      epochs: count('epochs', args.epochs),
      backend: args.backend,
      timeSteps,
    };
    // Thread count and OpenMP wait policy must be in the environment before the addon (and libgomp) load; geospike
    // rounds inherit them, and the peer gets the same OpenMP settings, so neither side spins while the other sleeps.
    process.env.OMP_NUM_THREADS = `${threads}`;
    process.env.OMP_WAIT_POLICY ??= 'passive';

    if (args.engine !== undefined) {
      const { benchTorchEngine, benchTsEngine, compareEngines } = await import('../bench/torch_engine.js');
      if (args.engine !== 'torch' || !args.epoch)
        throw new Error('--engine takes torch, with --epoch --data DIR (the same epochs on both engines)');
      const ts = await benchTsEngine(epochOpts);
      const torch = await benchTorchEngine(epochOpts, (args.device ?? 'cpu') as 'auto' | 'cpu' | 'cuda');
      if (args.json) return void console.log(JSON.stringify({ ts, torch, threads }, null, 2));
      console.log(
        `${args.model}, ${epochOpts.epochs} epoch(s) of batch ${epochOpts.batch} on ${epochOpts.data}, ${threads} threads`,
      );
      for (const r of [ts, torch])
        console.log(`  ${r.runner.padEnd(34)} ${r.trainImagesPerSec.toFixed(1).padStart(8)} training images/s`);
      console.log(`  ${compareEngines(ts, torch)}`);
      return;
    }
    if (!args['vs-pytorch']) {
      if (args.epoch) {
        const r = await benchEpoch(epochOpts);
        if (args.json) return void console.log(JSON.stringify({ geospike: r, threads, pid: process.pid }, null, 2));
        console.log(
          `${r.model}, ${r.epochs.length} epoch(s) of batch ${r.batch} on ${epochOpts.data}, ${threads} threads`,
        );
        for (const l of epochLines(r)) console.log(l);
        return;
      }
      const ours = await benchModel(opts);
      if (args.json) return void console.log(JSON.stringify({ geospike: ours, threads, pid: process.pid }, null, 2));
      console.log(
        `${opts.preset}, ${mode}, batch ${opts.batch}${timeSteps ? `, T ${timeSteps}` : ''}, ${threads} threads: median of ${opts.steps} after ${opts.warmup} warm-up`,
      );
      console.log(line(ours));
      if (ours.profile) for (const l of describeProfile(ours.profile, opts.steps)) console.log(l);
      return;
    }

    const rounds = count('rounds', args.rounds);
    const script = args['torch-script'] ?? peerScript(args.epoch ? 'epoch.py' : 'step.py');
    if (!existsSync(script))
      throw new Error(`the PyTorch peer script is missing: ${script} (pass --torch-script PATH)`);
    if (args.python.includes('/') && !existsSync(args.python))
      throw new Error(`${args.python} does not exist; pass --python PATH, or install PyTorch: ${PEER_SETUP}`);
    const forwarded = FORWARDED.flatMap((k) => (args[k] === undefined ? [] : [`--${k}`, String(args[k])]));
    const childArgs = ['bench', ...forwarded, ...(args.epoch ? ['--epoch'] : []), '--json'];
    const peerArgs = args.epoch
      ? peerEpochArgs(epochOpts, threads)
      : torchArgs(resolveConfig(opts.preset, opts.overrides), opts.batch, opts.steps, mode, threads);
    const report = interleave(
      rounds,
      () => runOurs(childArgs),
      () => runPeer(args.python, script, peerArgs, peerEnv(process.env, threads)),
      (runner, r) => roundSeconds(runner, r, args.epoch),
      (r) =>
        args.json ||
        process.stderr.write(
          `  round ${r.round} ${r.runner}: ${r.seconds.toFixed(3)} s   (load ${r.load[1].toFixed(1)})\n`,
        ),
    );
    if (args.json) {
      console.log(
        JSON.stringify(
          { kind: args.epoch ? 'epoch' : mode, model: opts.preset, batch: opts.batch, threads, ...report },
          null,
          2,
        ),
      );
      return;
    }
    const unit = args.epoch ? 's/epoch' : 's/batch';
    const what = args.epoch
      ? `${epochOpts.epochs} epoch(s) on ${epochOpts.data}`
      : `${mode}, median of ${opts.steps} after ${opts.warmup} warm-up`;
    console.log(
      `${opts.preset}, batch ${opts.batch}${timeSteps ? `, T ${timeSteps}` : ''}, ${threads} threads, ${what}, ${rounds} rounds each:`,
    );
    for (const l of describeRounds(report, unit)) console.log(l);
    if (args.epoch) {
      const timings = report.rounds
        .filter((r) => r.runner === 'geospike')
        .flatMap((r) => (r.result.geospike as EpochBenchResult).epochs as EpochTiming[]);
      console.log(`  geospike's epochs: ${describePhases(timings)}`);
    }
  },
});

function profileArg(v: string | undefined): 'kernel' | 'shape' | undefined {
  if (v === undefined) return undefined;
  if (v === 'kernel') return 'kernel';
  if (v === 'shape') return 'shape';
  throw new Error(`--profile takes kernel or shape, got '${v}'`);
}

/** A round's seconds: per batch (steps) or per epoch, from geospike's JSON or the peer's. */
function roundSeconds(runner: Round['runner'], r: Record<string, unknown>, epoch: boolean): number {
  const ours = r.geospike as Record<string, number> | undefined;
  const s =
    runner === 'geospike'
      ? ours?.[epoch ? 'secPerEpoch' : 'secPerBatch']
      : r[epoch ? 'sec_per_epoch' : 'sec_per_batch'];
  if (typeof s !== 'number' || !(s > 0))
    throw new Error(
      `the ${runner} round reported no ${epoch ? 'sec_per_epoch' : 'sec_per_batch'}: ${JSON.stringify(r).slice(0, 200)}`,
    );
  return s;
}
