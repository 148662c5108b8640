// `geospike bench`: seconds per training step or inference batch of a preset, images/s and peak memory; with
// --vs-pytorch, the same model timed in PyTorch (bench/peer/step.py) in the same invocation.
import { defineCommand } from 'citty';
import { benchModel, benchTorch, DEFAULT_PEER_SCRIPT, peerProblem, type BenchMode, type BenchResult } from '../bench/model.js';
import { DEFAULT_PRESET, PRESETS } from '../models/registry.js';
import { backendArg } from './args.js';

function positiveInt(name: string, v: string | undefined, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

const line = (r: BenchResult) =>
  `  ${r.runner.padEnd(22)} ${r.secPerBatch.toFixed(3).padStart(8)} s/batch ${r.imagesPerSec.toFixed(1).padStart(8)} images/s   ` +
  `peak RSS ${r.peakRssMB} MB` + (r.gflops ? `   ${r.gflops.toFixed(1)} GFLOP/s` : '') +
  (r.gpu ? `   GPU memory ${r.gpu.peakMB} MB on ${r.gpu.adapter}` : '') +
  (r.load ? `   (load ${r.load[0].toFixed(1)} -> ${r.load[1].toFixed(1)})` : '');

export default defineCommand({
  meta: { name: 'bench', description: 'Time training steps or inference batches of a model preset (optionally against PyTorch)' },
  args: {
    model: { type: 'string', description: `Preset (${Object.keys(PRESETS).join(', ')})`, default: DEFAULT_PRESET },
    batch: { type: 'string', description: 'Images per batch', default: '64' },
    steps: { type: 'string', description: 'Timed batches (the median is reported)', default: '3' },
    warmup: { type: 'string', description: 'Untimed batches first', default: '1' },
    mode: { type: 'string', description: 'train (forward, backward, AdamW) or infer (forward only)', default: 'train' },
    backend: backendArg,
    timesteps: { type: 'string', description: "Spikformer time steps T (default: the preset's, 4)" },
    threads: { type: 'string', description: 'Threads for the native backend and for PyTorch', default: '2' },
    json: { type: 'boolean', description: 'Print JSON', default: false },
    'vs-pytorch': { type: 'boolean', description: 'Also run the PyTorch reference on the same model, batch, T and threads', default: false },
    'torch-script': { type: 'string', description: 'PyTorch peer script (default: bench/peer/step.py)', default: DEFAULT_PEER_SCRIPT },
  },
  async run({ args }) {
    const mode = args.mode as BenchMode;
    if (mode !== 'train' && mode !== 'infer') throw new Error(`--mode must be train or infer, got '${args.mode}'`);
    if (!Object.hasOwn(PRESETS, args.model)) throw new Error(`unknown model preset '${args.model}'; known presets: ${Object.keys(PRESETS).join(', ')}`);
    const threads = positiveInt('threads', args.threads);
    const opts = {
      preset: args.model, mode, backend: args.backend,
      batch: positiveInt('batch', args.batch), steps: positiveInt('steps', args.steps), warmup: positiveInt('warmup', args.warmup, 0),
      overrides: args.timesteps === undefined ? undefined : { timeSteps: positiveInt('timesteps', args.timesteps) },
    };
    const script = args['torch-script'];
    if (args['vs-pytorch']) {
      const problem = peerProblem(script);
      if (problem) throw new Error(problem);
    }
    // Thread count and OpenMP wait policy must be in the environment before the addon (and libgomp) load.
    process.env.OMP_NUM_THREADS = `${threads}`;
    process.env.OMP_WAIT_POLICY ??= 'passive';
    const ours = await benchModel(opts);
    // The peer runs with the same OpenMP settings, so neither side spins while the other sleeps.
    const peer = args['vs-pytorch'] ? benchTorch(script, opts, threads, { ...process.env }) : undefined;
    const ratio = peer && { time: ours.secPerBatch / peer.secPerBatch, memory: ours.peakRssMB / peer.peakRssMB };
    if (args.json) {
      console.log(JSON.stringify({ geospike: ours, pytorch: peer, ratio, threads }, null, 2));
      return;
    }
    const T = opts.overrides?.timeSteps;
    console.log(`${opts.preset}, ${mode}, batch ${opts.batch}${T ? `, T ${T}` : ''}, ${threads} threads: median of ${opts.steps} after ${opts.warmup} warm-up`);
    console.log(line(ours));
    if (peer && ratio) {
      console.log(line(peer));
      console.log(`  geospike/PyTorch: time ${ratio.time.toFixed(2)}, peak memory ${ratio.memory.toFixed(2)}`);
    }
  },
});
