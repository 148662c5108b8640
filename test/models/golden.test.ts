// The models against the goldens computed by an independent PyTorch implementation (test/golden/README.md):
// eval and train logits, loss, every gradient, BN running stats after a train forward, three AdamW steps under
// timm's parameter groups.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { toFloat32, type SafetensorsFile, type SafeTensor } from '../../src/io/safetensors.js';
import type { Model } from '../../src/models/model.js';
import { createModel, isSpiking, resolveConfig, type ModelConfig } from '../../src/models/registry.js';
import { fromTorchLayout, loadStateDict, toTorchLayout } from '../../src/models/state_dict.js';
import { AdamW } from '../../src/train/adamw.js';
import { noDecayNames, timmDecays, WEIGHT_DECAY_RULE } from '../../src/train/param_groups.js';
import { lossAndGrads } from '../../src/train/grads.js';
import { crossEntropy } from '../../src/train/loss.js';
import { must } from '../../src/util/must.js';
import { assertCloseToScale } from '../helpers/compare.js';
import { loadGolden } from '../helpers/golden.js';
import { requireBackend, TEST_BACKENDS } from '../helpers/backends.js';

const REL = 1e-4;
/** Absolute floor for gradients that vanish in exact arithmetic (see assertCloseToScale). */
const ZERO_FLOOR = 1e-7;
/**
 * webgpu computes in float32 only (WGSL has no f64), so a gradient that vanishes in exact arithmetic (a bias feeding
 * a train-mode BatchNorm) keeps a float residue of about 1e-6 of the weight gradients' scale, where the CPU backends,
 * which accumulate batch-norm gradients in double, stay below 1e-7.
 */
const zeroFloor = (backend: string) => (backend === 'webgpu' ? 1e-6 : ZERO_FLOOR);

interface Case {
  file: string;
  config: (meta: Record<string, string>) => ModelConfig;
}

const CASES: Case[] = [
  {
    file: 'spikformer-tiny.safetensors',
    config: (m) =>
      resolveConfig('spikformer-1-64', {
        dim: Number(m.dim),
        depth: Number(m.depth),
        heads: Number(m.heads),
        timeSteps: Number(m.T),
        classes: Number(m.classes),
        mlpRatio: Number(m.mlp_ratio),
      }),
  },
  {
    file: 'sdt-tiny.safetensors',
    config: (m) =>
      resolveConfig('sdt-2-128', {
        dim: Number(m.dim),
        depth: Number(m.depth),
        heads: Number(m.heads),
        timeSteps: Number(m.T),
        classes: Number(m.classes),
        mlpRatio: Number(m.mlp_ratio),
      }),
  },
  {
    file: 'resnet18-w8.safetensors',
    config: (m) => resolveConfig('resnet18-w8', { width: Number(m.width), classes: Number(m.classes) }),
  },
];

function group(g: SafetensorsFile, prefix: string): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [k, t] of g.tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), t);
  return out;
}

function tensorOf(t: SafeTensor): tf.Tensor {
  return tf.tensor(toFloat32(t), t.shape, 'float32');
}

function loadModel(c: Case, g: SafetensorsFile): Model {
  const model = createModel(c.config(g.metadata), 1);
  loadStateDict(model.store, group(g, 'param.'), c.file);
  return model;
}

for (const backend of TEST_BACKENDS) {
  describe(`goldens on the ${backend} backend`, () => {
    before(async () => {
      await requireBackend(backend);
    });

    for (const c of CASES) {
      describe(c.file, () => {
        const g = loadGolden(c.file);
        // NCHW -> NHWC
        const x = tf.tidy(() => tf.transpose(tensorOf(g.tensors.get('input.x')!), [0, 2, 3, 1]) as tf.Tensor4D);
        const y = Int32Array.from(toFloat32(g.tensors.get('input.y')!));
        after(() => x.dispose());

        test('eval logits (running statistics)', () => {
          const model = loadModel(c, g);
          const logits = tf.tidy(() => model.forward(x, { training: false }));
          const want = toFloat32(g.tensors.get('eval.logits')!);
          assert.ok(
            want.some((v) => v !== 0),
            "the golden's eval logits are not all zero (spikes reach the head)",
          );
          assertCloseToScale(logits, want, REL, 'eval.logits');
          logits.dispose();
          model.store.dispose();
        });

        test('train logits, loss, gradients, running statistics and firing rates', () => {
          const model = loadModel(c, g);
          const rates = new Map<string, number>();
          let logits: tf.Tensor | undefined;
          const { loss, grads } = lossAndGrads(model.store, () => {
            const out = model.forward(x, { training: true, rates });
            logits = tf.keep(out);
            return crossEntropy(out, y, 0.1);
          });
          assertCloseToScale(logits!, toFloat32(g.tensors.get('train.logits')!), REL, 'train.logits');
          assertCloseToScale(loss, toFloat32(g.tensors.get('train.loss')!), REL, 'train.loss');

          const expectedGrads = group(g, 'grad.');
          assert.equal(grads.size, expectedGrads.size, 'one gradient per trainable parameter');
          for (const [name, expected] of expectedGrads) {
            const grad = grads.get(name);
            assert.ok(grad, `no gradient for ${name}`);
            const torch = toTorchLayout(model.store, name, grad);
            assert.deepEqual(torch.shape, expected.shape, `grad.${name} shape`);
            assertCloseToScale(torch, toFloat32(expected), REL, `grad.${name}`, { floor: zeroFloor(backend) });
            torch.dispose();
          }

          const afterStats = group(g, 'after.');
          assert.ok(afterStats.size > 0);
          for (const [name, expected] of afterStats) {
            assertCloseToScale(model.store.buffers.get(name)!, toFloat32(expected), REL, `after.${name}`);
          }
          for (const [name, n] of model.store.counters) assert.equal(n, 1, `${name} after one train forward`);

          // Identical spike decisions give identical firing rates, layer by layer. A spiking model's golden must
          // carry them (a golden without rates fails here), and a model without neurons records none.
          const spiking = isSpiking(model.config);
          assert.equal(
            g.metadata.train_lif_rates !== undefined,
            spiking,
            `${c.file}: train_lif_rates in the metadata ${spiking ? 'is missing' : 'is unexpected'} for ` +
              `a ${model.config.arch}`,
          );
          const lifRates = spiking ? must(g.metadata.train_lif_rates, 'its presence asserted above') : '{}';
          const expectedRates = JSON.parse(lifRates) as Record<string, number>;
          assert.deepEqual([...rates.keys()].sort(), Object.keys(expectedRates).sort());
          for (const [name, r] of Object.entries(expectedRates)) {
            assert.ok(Math.abs(rates.get(name)! - r) < 1e-7, `${name} firing rate ${rates.get(name)} vs ${r}`);
          }
          tf.dispose([logits!, loss, ...grads.values()]);
          model.store.dispose();
        });

        test("timm's AdamW parameter groups: the names the golden gives weight decay 0", () => {
          const model = loadModel(c, g);
          // The official state dict's shapes, the unused modules' included (they have no gradient, so no update).
          const shapes = new Map<string, readonly number[]>([
            ...[...model.store.params.keys()].map((n) => [n, model.store.info.get(n)!.torchShape] as const),
            ...[...model.store.unused].map(([n, u]) => [n, u.shape] as const),
          ]);
          const ours = [...shapes].filter(([n, shape]) => !timmDecays(n, shape)).map(([n]) => n);
          const noDecay = g.metadata.adamw_no_decay;
          assert.ok(noDecay, `${c.file}: adamw_no_decay in the metadata`);
          const want = JSON.parse(noDecay) as string[];
          assert.deepEqual([...ours].sort(), [...want].sort());
          assert.deepEqual(
            noDecayNames(model.store, WEIGHT_DECAY_RULE),
            ours.filter((n) => model.store.params.has(n)),
          );
          model.store.dispose();
        });

        test('three AdamW steps under those groups, reusing the golden gradients: every parameter within 1e-6', () => {
          const model = loadModel(c, g);
          const opt = new AdamW({
            lr: 5e-4,
            weightDecay: 6e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            noDecay: noDecayNames(model.store, WEIGHT_DECAY_RULE),
          });
          const grads = new Map<string, tf.Tensor>();
          for (const [name, t] of group(g, 'grad.')) {
            grads.set(
              name,
              tf.tidy(() => fromTorchLayout(model.store, name, tensorOf(t))),
            );
          }
          for (let step = 0; step < 3; step++) assert.ok(opt.apply(model.store.params, grads));
          let compared = 0;
          for (const [name, expected] of group(g, 'adamw3.')) {
            const p = model.store.params.get(name);
            if (!p) {
              // The official model's unused modules (LayerNorms, talking_heads) have no gradient: AdamW leaves them be.
              assert.ok(model.store.unused.has(name), `adamw3.${name} is not a parameter of the model`);
              assert.deepEqual(toFloat32(expected), toFloat32(g.tensors.get(`param.${name}`)!));
              continue;
            }
            const torch = toTorchLayout(model.store, name, p);
            const ours = torch.dataSync() as Float32Array;
            const want = toFloat32(expected);
            let worst = 0;
            for (const [i, w] of want.entries()) worst = Math.max(worst, Math.abs((ours[i] ?? NaN) - w)); // short: NaN
            assert.ok(worst <= 1e-6, `adamw3.${name}: largest difference ${worst.toExponential(2)} over 1e-6`);
            torch.dispose();
            compared++;
          }
          assert.equal(compared, model.store.params.size, 'every parameter checked');
          tf.dispose([...grads.values()]);
          opt.dispose();
          model.store.dispose();
        });
      });
    }
  });
}
