// `geospike bench`: seconds per training step or inference batch of a preset, or (--epoch) per whole training epoch
// on a dataset folder with where the time goes. With --vs-pytorch, geospike and the PyTorch peer (bench/peer/*.py)
// run in alternating fresh processes, --rounds each, and the median ratio is quoted with its range.
import { existsSync } from 'node:fs';
import { defineCommand } from 'citty';
import {
  benchEpoch,
  describePhases,
  peerEpochArgs,
  type EpochBenchOptions,
  type EpochBenchResult,
} from '../bench/epoch.js';
import {
  benchModel,
  peerScript,
  torchArgs,
  type BenchMode,
  type BenchOptions,
  type BenchResult,
} from '../bench/model.js';
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
import { backendArg, backendOption, checkedDataset, intOption, jsonArg } from './args.js';
import type { EpochTiming } from '../train/timing.js';
import { must } from '../util/must.js';

/** A whole-number flag that has a default (so it is always given), at least `min`. */
const count = (name: string, v: string | undefined, min = 1): number => intOption(`--${name}`, v ?? '', min) ?? min;

const line = (r: BenchResult) =>
  `  ${r.runner.padEnd(22)} ${r.secPerBatch.toFixed(3).padStart(8)} s/batch ${r.imagesPerSec.toFixed(1).padStart(8)} ` +
  `images/s   ` +
  `peak RSS ${r.peakRssMB} MB` +
  (r.cpuSecPerBatch ? `   ${r.cpuSecPerBatch.toFixed(2)} CPU-s/batch` : '') +
  (r.gflops ? `   ${r.gflops.toFixed(1)} GFLOP/s` : '') +
  (r.gpu ? `   GPU memory ${r.gpu.peakMB} MB on ${r.gpu.adapter}` : '') +
  (r.load ? `   (load ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)})` : '');

const epochLines = (r: EpochBenchResult) => [
  `  ${r.runner.padEnd(22)} ${r.secPerEpoch.toFixed(2).padStart(8)} s/epoch ${r.imagesPerSec.toFixed(1).padStart(8)} ` +
    `images/s   peak RSS ${r.peakRssMB} MB` +
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
    const plan = await benchPlan(args);
    // The thread count must be in the environment before the addon (and libgomp) load; geospike rounds inherit it,
    // and the peer gets the same OpenMP settings (each side libgomp's default wait policy unless the user set one:
    // PyTorch's small-kernel models ran 35% slower with OMP_WAIT_POLICY=passive, and the peer is timed at its best).
    process.env.OMP_NUM_THREADS = `${plan.threads}`;
    if (plan.engines) return benchEngines(plan, plan.engines);
    if (plan.peer) return benchVsPytorch(plan, plan.peer, args);
    if (plan.epoch) return benchEpochAlone(plan, plan.epoch);
    return benchStepsAlone(plan);
  },
});

type BenchArgs = Partial<Record<(typeof FORWARDED)[number] | 'profile' | 'engine' | 'device' | 'rounds', string>> &
  Partial<Record<'torch-script' | 'python', string>> & { epoch?: boolean; json?: boolean; 'vs-pytorch'?: boolean };

/** What `geospike bench` runs, from its flags: every one checked before any engine, round or peer starts. */
interface BenchPlan {
  steps: BenchOptions;
  /** With --epoch: the epochs to time. */
  epoch: EpochBenchOptions | undefined;
  /** With --engine torch: the device the torch engine trains on. */
  engines: { device: 'auto' | 'cpu' | 'cuda' } | undefined;
  /** With --vs-pytorch: the rounds of each, the peer's script and interpreter. */
  peer: { rounds: number; script: string; python: string } | undefined;
  threads: number;
  timeSteps: number | undefined;
  json: boolean;
}

async function benchPlan(args: BenchArgs): Promise<BenchPlan> {
  const mode = args.mode as BenchMode;
  const model = args.model ?? DEFAULT_PRESET;
  if (mode !== 'train' && mode !== 'infer') throw new Error(`--mode must be train or infer, got '${args.mode}'`);
  if (!Object.hasOwn(PRESETS, model))
    throw new Error(`unknown model preset '${model}'; known presets: ${Object.keys(PRESETS).join(', ')}`);
  if (args.epoch && !args.data)
    throw new Error('--epoch needs --data DIR, a dataset folder (e.g. from `geospike import fashion-mnist --out DIR`)');
  if (args.epoch && mode !== 'train') throw new Error('--epoch times training epochs; drop --mode infer');
  const timeSteps = args['time-steps'] === undefined ? undefined : count('time-steps', args['time-steps']);
  const steps: BenchOptions = {
    preset: model,
    mode,
    backend: backendOption(args.backend),
    batch: count('batch', args.batch),
    steps: count('steps', args.steps),
    warmup: count('warmup', args.warmup, 0),
    overrides: timeSteps === undefined ? undefined : { timeSteps },
    profile: profileArg(args.profile),
  };
  const engines =
    args.engine === undefined ? undefined : { device: engineDevice(args.engine, args.device, args.epoch) };
  const epoch =
    args.epoch && args.data
      ? {
          data: await checkedDataset(args.data),
          preset: model,
          batch: steps.batch,
          epochs: count('epochs', args.epochs),
          backend: steps.backend,
          timeSteps,
        }
      : undefined;
  return {
    steps,
    epoch,
    engines,
    peer: args['vs-pytorch'] ? peerPlan(args) : undefined,
    threads: count('threads', args.threads),
    timeSteps,
    json: args.json === true,
  };
}

function engineDevice(engine: string, device: string | undefined, epoch: boolean | undefined): 'auto' | 'cpu' | 'cuda' {
  if (engine !== 'torch' || !epoch)
    throw new Error('--engine takes torch, with --epoch --data DIR (the same epochs on both engines)');
  const d = device ?? 'cpu';
  if (d !== 'auto' && d !== 'cpu' && d !== 'cuda') throw new Error(`--device takes auto, cpu or cuda, got '${d}'`);
  return d;
}

function peerPlan(args: BenchArgs): NonNullable<BenchPlan['peer']> {
  const rounds = count('rounds', args.rounds);
  const script = args['torch-script'] ?? peerScript(args.epoch ? 'epoch.py' : 'step.py');
  if (!existsSync(script)) throw new Error(`the PyTorch peer script is missing: ${script} (pass --torch-script PATH)`);
  const python = args.python ?? PYTHON;
  if (python.includes('/') && !existsSync(python))
    throw new Error(`${python} does not exist; pass --python PATH, or install PyTorch: ${PEER_SETUP}`);
  return { rounds, script, python };
}

/** --engine torch: the same epochs on the TypeScript engine and on the torch engine. */
async function benchEngines(plan: BenchPlan, engines: NonNullable<BenchPlan['engines']>): Promise<void> {
  const { benchTorchEngine, benchTsEngine, compareEngines } = await import('../bench/torch_engine.js');
  const o = must(plan.epoch, '--engine was checked to come with --epoch --data');
  const ts = await benchTsEngine(o);
  const torch = await benchTorchEngine(o, engines.device);
  if (plan.json) return void console.log(JSON.stringify({ ts, torch, threads: plan.threads }, null, 2));
  console.log(`${o.preset}, ${o.epochs} epoch(s) of batch ${o.batch} on ${o.data}, ${plan.threads} threads`);
  for (const r of [ts, torch])
    console.log(`  ${r.runner.padEnd(34)} ${r.trainImagesPerSec.toFixed(1).padStart(8)} training images/s`);
  console.log(`  ${compareEngines(ts, torch)}`);
}

async function benchEpochAlone(plan: BenchPlan, o: EpochBenchOptions): Promise<void> {
  const r = await benchEpoch(o);
  if (plan.json)
    return void console.log(JSON.stringify({ geospike: r, threads: plan.threads, pid: process.pid }, null, 2));
  console.log(`${r.model}, ${r.epochs.length} epoch(s) of batch ${r.batch} on ${o.data}, ${plan.threads} threads`);
  for (const l of epochLines(r)) console.log(l);
}

async function benchStepsAlone(plan: BenchPlan): Promise<void> {
  const o = plan.steps;
  const ours = await benchModel(o);
  if (plan.json)
    return void console.log(JSON.stringify({ geospike: ours, threads: plan.threads, pid: process.pid }, null, 2));
  console.log(
    `${o.preset}, ${o.mode}, batch ${o.batch}${plan.timeSteps ? `, T ${plan.timeSteps}` : ''}, ${plan.threads} ` +
      `threads: median of ${o.steps} after ${o.warmup} warm-up`,
  );
  console.log(line(ours));
  if (ours.profile) for (const l of describeProfile(ours.profile, o.steps)) console.log(l);
}

/** --vs-pytorch: geospike and the PyTorch peer in alternating fresh processes, the median ratio with its range. */
async function benchVsPytorch(plan: BenchPlan, peer: NonNullable<BenchPlan['peer']>, args: BenchArgs): Promise<void> {
  const { steps: o, threads, json } = plan;
  const epoch = plan.epoch;
  const forwarded = FORWARDED.flatMap((k) => (args[k] === undefined ? [] : [`--${k}`, String(args[k])]));
  const childArgs = ['bench', ...forwarded, ...(epoch ? ['--epoch'] : []), '--json'];
  const peerArgs = epoch
    ? peerEpochArgs(epoch, threads)
    : torchArgs(resolveConfig(o.preset, o.overrides), o.batch, o.steps, o.mode, threads);
  const report = interleave(
    peer.rounds,
    () => runOurs(childArgs),
    () => runPeer(peer.python, peer.script, peerArgs, peerEnv(process.env, threads)),
    (runner, r) => roundSeconds(runner, r, epoch !== undefined),
    (r) =>
      json ||
      process.stderr.write(
        `  round ${r.round} ${r.runner}: ${r.seconds.toFixed(3)} s   (load ${r.load[1].toFixed(1)})\n`,
      ),
  );
  if (json) {
    const kind = epoch ? 'epoch' : o.mode;
    console.log(JSON.stringify({ kind, model: o.preset, batch: o.batch, threads, ...report }, null, 2));
    return;
  }
  const unit = epoch ? 's/epoch' : 's/batch';
  const what = epoch
    ? `${epoch.epochs} epoch(s) on ${epoch.data}`
    : `${o.mode}, median of ${o.steps} after ${o.warmup} warm-up`;
  console.log(
    `${o.preset}, batch ${o.batch}${plan.timeSteps ? `, T ${plan.timeSteps}` : ''}, ${threads} ` +
      `threads, ${what}, ${peer.rounds} rounds each:`,
  );
  for (const l of describeRounds(report, unit)) console.log(l);
  if (epoch) {
    const timings = report.rounds
      .filter((r) => r.runner === 'geospike')
      .flatMap((r) => (r.result.geospike as EpochBenchResult).epochs as EpochTiming[]);
    console.log(`  geospike's epochs: ${describePhases(timings)}`);
  }
}

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
      `the ${runner} round reported ` +
        `no ${epoch ? 'sec_per_epoch' : 'sec_per_batch'}: ${JSON.stringify(r).slice(0, 200)}`,
    );
  return s;
}
