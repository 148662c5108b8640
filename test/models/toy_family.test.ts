// Adding a model family touches its own file and one table registration, nothing else: a toy spiking MLP, defined
// here and registered through registerArchitecture() only, goes through the ordinary paths: created from its
// preset, trained (train() on a fixture dataset, checkpoints and all), evaluated, its energy measured from its layer
// graph, its state dict round-tripped. And renaming every layer of a graph leaves every energy number as it was.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe as describeModel } from '../../src/cli/info.js';
import { openDataset } from '../../src/data/dataset.js';
import { initEngine } from '../../src/engine/backend.js';
import { countEnergy, type MeasuredRates } from '../../src/eval/energy.js';
import { countMemory } from '../../src/eval/energy_memory.js';
import { energyOfCheckpoint } from '../../src/eval/jobs.js';
import type { ArchitectureSpec, SpikingModelConfig } from '../../src/models/architecture.js';
import { linearLayer, type ComputeLayer } from '../../src/models/layer_graph.js';
import { Linear } from '../../src/models/layers.js';
import type { ForwardOptions, Model } from '../../src/models/model.js';
import { ParamStore } from '../../src/models/params.js';
import {
  createModel,
  isSpiking,
  layerGraph,
  registerArchitecture,
  resolveConfig,
  type ModelConfig,
} from '../../src/models/registry.js';
import { SDT } from '../../src/models/sdt.js';
import { SPIKFORMER } from '../../src/models/spikformer.js';
import { loadStateDict, toStateDict } from '../../src/models/state_dict.js';
import { lif } from '../../src/snn/lif.js';
import { loadModelFromCheckpoint } from '../../src/train/checkpoint.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/loop.js';
import { Progress } from '../../src/train/progress.js';
import { runPaths } from '../../src/train/run_folder.js';
import { must } from '../../src/util/must.js';
import { Rng } from '../../src/util/rng.js';
import { makeDataset } from '../serve/helpers.js';

// ---- the toy family: all of it, as its own model file would hold it ----

interface ToyConfig extends SpikingModelConfig {
  arch: 'toy-mlp';
  hidden: number;
}

const FC1_LIF = 'fc1_lif';

/** images -> Linear -> LIF over T steps -> Linear head at every step -> mean over T. */
class ToyMlp implements Model {
  readonly store: ParamStore;
  private readonly fc1: Linear;
  private readonly head: Linear;
  constructor(
    readonly config: ToyConfig,
    seed: number,
  ) {
    const { imageSize: S, inChannels: C, hidden, classes } = config;
    this.store = new ParamStore(new Rng(seed));
    this.fc1 = new Linear(this.store, 'fc1', S * S * C, hidden, 'torch');
    this.head = new Linear(this.store, 'head', hidden, classes, 'torch');
  }
  forward(images: tf.Tensor4D, opts: ForwardOptions): tf.Tensor2D {
    const { timeSteps: T, hidden } = this.config;
    const B = images.shape[0];
    return tf.tidy(() => {
      const h = this.fc1.apply(tf.reshape(images, [B, -1])); // the same input at every step: computed once
      const s = lif(tf.tile(tf.reshape(h, [1, B * hidden]), [T, 1]), { tau: 2 });
      opts.rates?.set(FC1_LIF, must(tf.mean(s).dataSync()[0], 'a mean is one value'));
      return tf.mean(this.head.apply(tf.reshape(s, [T, B, hidden])), 0) as tf.Tensor2D;
    });
  }
}

function toyLayers(c: ToyConfig): ComputeLayer[] {
  const fc1 = linearLayer('fc1', 1, c.imageSize ** 2 * c.inChannels, c.hidden, {
    input: 'image',
    spikes: null,
    feeds: FC1_LIF,
  });
  return [
    { ...fc1, once: true },
    linearLayer('head', 1, c.hidden, c.classes, { input: FC1_LIF, spikes: { lif: FC1_LIF } }),
  ];
}

const TOY: ArchitectureSpec<ToyConfig> = {
  arch: 'toy-mlp',
  title: 'toy spiking MLP',
  spiking: true,
  presets: {
    'toy-mlp-16': {
      about: 'a toy spiking MLP (test only)',
      config: { arch: 'toy-mlp', hidden: 16, timeSteps: 3, classes: 5, imageSize: 32, inChannels: 3 },
    },
  },
  create: (config, seed) => new ToyMlp(config, seed),
  layers: toyLayers,
  head: 'head',
};

// ---- the one registration ----
registerArchitecture(TOY);

const root = mkdtempSync(path.join(tmpdir(), 'geospike-toy-'));
const data = path.join(root, 'data');

before(async () => {
  await initEngine('cpu');
  await makeDataset(data, { train: 4, validation: 3 });
});
after(() => rmSync(root, { recursive: true, force: true }));

test('the table refuses a family or preset name twice, and a preset listed under another family', () => {
  assert.throws(() => registerArchitecture(TOY), /architecture 'toy-mlp' is already registered/);
  assert.throws(
    () => registerArchitecture({ ...(TOY as unknown as ArchitectureSpec), arch: 'toy-2' }),
    /preset 'toy-mlp-16' of toy-2 is already/,
  );
  const toy16 = TOY.presets['toy-mlp-16'];
  assert.ok(toy16, 'the toy has the preset toy-mlp-16');
  const misfiled = {
    ...(TOY as unknown as ArchitectureSpec),
    arch: 'toy-3',
    presets: { 'toy-3-a': toy16 },
  };
  assert.throws(
    () => registerArchitecture(misfiled),
    /preset 'toy-3-a' has arch 'toy-mlp', but is listed under 'toy-3'/,
  );
  assert.throws(
    () => createModel({ arch: 'nope', classes: 2, imageSize: 8, inChannels: 1 }),
    /unknown model architecture 'nope'; known: spikformer, sdt, resnet18, toy-mlp/,
  );
});

test('the toy is created from its preset and described by info like any other model', () => {
  const config = resolveConfig('toy-mlp-16', { timeSteps: 2 });
  assert.equal(isSpiking(config), true);
  const model = createModel(config, 3);
  assert.ok(model instanceof ToyMlp);
  const out = tf.tidy(() => model.forward(tf.zeros([2, 32, 32, 3]), { training: false }));
  assert.deepEqual(out.shape, [2, 5]);
  out.dispose();
  model.store.dispose();
  const info = describeModel('toy-mlp-16', 5);
  assert.equal(info.params, 3072 * 16 + 16 + 16 * 5 + 5);
  assert.equal(info.macsPerStep, 3072 * 16 + 16 * 5);
});

test('the toy trains, checkpoints, and its energy is measured from its graph on real images', async () => {
  const out = path.join(root, 'run');
  const cfg = resolveTrainConfig(
    {},
    { data, out, model: 'toy-mlp-16', epochs: 2, warmupEpochs: 0, batch: 5, lr: 5e-3, mixup: 0, seed: 1 },
  );
  const result = await train(cfg, { progress: new Progress({ write: () => true }), log: () => {} });
  assert.equal(result.status, 'finished');
  assert.equal(result.epochsDone, 2);
  // Training moved the weights away from the seed's.
  const { model, meta } = loadModelFromCheckpoint(runPaths(out).last);
  const fresh = createModel(meta.model, cfg.seed);
  const moved = tf.tidy(() =>
    tf.max(tf.abs(tf.sub(model.store.params.get('fc1.weight')!, fresh.store.params.get('fc1.weight')!))).dataSync(),
  )[0];
  assert.ok(moved !== undefined && moved > 0, 'a training step changed fc1.weight');
  fresh.store.dispose();
  model.store.dispose();

  const e = energyOfCheckpoint(runPaths(out).best, await openDataset(data), { images: 15, baseline: null });
  const rate = e.rates?.[FC1_LIF];
  assert.ok(rate !== undefined && rate >= 0 && rate <= 1, `${FC1_LIF} rate ${rate}`);
  const T = (meta.model as ToyConfig).timeSteps;
  const [fc1, head] = e.report.layers;
  assert.ok(fc1 && head, 'the toy has two layers');
  assert.equal(fc1.macs, 3072 * 16); // analog input, once per image
  assert.equal(head.sops, rate * T * 16 * 5);
  assert.equal(e.report.total.energy, 3072 * 16 * 4.6 + rate * T * 16 * 5 * 0.9);
});

test("the toy's state dict round-trips under its official names", () => {
  const config = resolveConfig('toy-mlp-16');
  const a = createModel(config, 1);
  const b = createModel(config, 2);
  const sd = toStateDict(a.store);
  assert.deepEqual([...sd.keys()].sort(), ['fc1.bias', 'fc1.weight', 'head.bias', 'head.weight']);
  loadStateDict(b.store, sd);
  const x = tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
  const [ya, yb] = [a, b].map((m) => m.forward(x, { training: false }).dataSync());
  assert.deepEqual(yb, ya);
  tf.dispose(x);
  a.store.dispose();
  b.store.dispose();
});

/** The family under another name, with every layer and input label renamed: the counters must not notice. */
function renamed<C extends ModelConfig>(spec: ArchitectureSpec<C>): ArchitectureSpec<C> {
  const arch = `${spec.arch}-renamed`;
  const presets = Object.fromEntries(
    Object.entries(spec.presets).map(([name, p]) => [`${name}-renamed`, { ...p, config: { ...p.config, arch } }]),
  );
  const layers = (c: C) => spec.layers(c).map((l, i) => ({ ...l, name: `layer ${i}`, input: `whatever ${i}` }));
  return { ...spec, arch, presets, layers, demoRole: undefined };
}

test('renaming every layer changes no energy, SOP or memory number (Spikformer, SDT, the toy)', () => {
  for (const spec of [SPIKFORMER, SDT, TOY] as ArchitectureSpec[]) registerArchitecture(renamed(spec));
  for (const preset of ['spikformer-2-128', 'sdt-2-128', 'toy-mlp-16']) {
    const config = resolveConfig(preset);
    const other = resolveConfig(`${preset}-renamed`);
    assert.notEqual(layerGraph(other)[1]?.name, layerGraph(config)[1]?.name);
    // Rates for every LIF and recorded map the graph reads, from their ids (which stay).
    const ids = new Set<string>();
    const walk = (s: unknown): void => {
      if (s && typeof s === 'object')
        for (const [k, v] of Object.entries(s)) typeof v === 'string' && k !== 'input' ? ids.add(v) : walk(v);
    };
    walk(layerGraph(config).map((l) => l.spikes));
    const rates = Object.fromEntries([...ids].map((id, i) => [id, 0.05 + 0.01 * i]));
    const measured: MeasuredRates = { rates, inputRates: rates };
    const strip = (layers: { name: string; input: string }[]) => layers.map(({ name, input, ...rest }) => rest);
    const e1 = countEnergy(config, measured),
      e2 = countEnergy(other, measured);
    assert.deepEqual(e2.total, e1.total, preset);
    assert.deepEqual(strip(e2.layers), strip(e1.layers), preset);
    const m1 = countMemory(config, measured),
      m2 = countMemory(other, measured);
    assert.deepEqual(m2.total, m1.total, preset);
    assert.ok(e1.total.sops > 0 && m1.total.pJ > 0);
  }
});
