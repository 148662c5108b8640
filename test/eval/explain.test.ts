// Evidence maps and the deletion test on models whose evidence is known by construction (the class logit reads one
// corner of the image), then on the real presets: the maps have the patch grid and carry evidence.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { area, deletionTest, evidenceMaps, maskPatches, perClassMaps, rankPatches } from '../../src/eval/explain.js';
import { overlayPng } from '../../src/eval/explain_image.js';
import { decodeSimplePng } from '../../src/data/png.js';
import type { Model } from '../../src/models/model.js';
import { createModel, isSpiking, resolveConfig } from '../../src/models/registry.js';

before(async () => {
  await initEngine('cpu');
});

const S = 8; // a 2x2 grid of 4x4 patches
const corner = (x: tf.Tensor4D) => tf.mean(tf.slice(x, [0, 0, 0, 0], [-1, 4, 4, -1]), [1, 2, 3]);

/** Class 0's logit is 5 x the mean of the top-left patch; class 1's is 0. */
const spiky: Model = {
  config: { arch: 'spikformer', classes: 2, imageSize: S, inChannels: 1 },
  store: null as never,
  forward: (x) => tf.stack([tf.mul(corner(x), 5), tf.zerosLike(corner(x))], 1) as tf.Tensor2D,
};

const ones = (n: number) => new Float32Array(n * S * S).fill(1);

test('gradient x input puts all the evidence on the patch the logit reads', () => {
  const {
    maps: [map],
    grid,
    method,
  } = evidenceMaps(spiky, ones(1), 1, Int32Array.of(0));
  assert.ok(map, 'one map');
  assert.equal(grid, 2);
  assert.match(method, /gradient x input/);
  // d logit / d pixel = 5/16 on the 16 corner pixels, each x 1: 5 in all.
  assert.deepEqual(Array.from(map.slice(1)), [0, 0, 0]);
  assert.ok(Math.abs(map[0]! - 5) < 1e-5, `${map}`);
  assert.deepEqual(rankPatches(map), [0, 1, 2, 3]);
});

test('deletion test: the true map passes, a map that ranks the evidence last fails', () => {
  const x = ones(4);
  const { maps } = evidenceMaps(spiky, x, 4, new Int32Array(4));
  const honest = deletionTest(spiky, x, 4, maps, new Int32Array(4), { steps: 4, randomOrders: 4 });
  // Masking by the map drops the probability at once from sigmoid(5) to 1/2; at random only when the corner goes.
  const [unmasked = NaN, quarter = NaN] = honest.map;
  assert.ok(Math.abs(unmasked - 1 / (1 + Math.exp(-5))) < 1e-5);
  assert.ok(Math.abs(quarter - 0.5) < 1e-6);
  assert.ok(honest.passed && honest.areaMap < honest.areaRandom);
  const liar = maps.map((m) => Float32Array.from(m, (v) => -v));
  const failed = deletionTest(spiky, x, 4, liar, new Int32Array(4), { steps: 4, randomOrders: 4 });
  assert.equal(failed.passed, false);
  assert.ok(failed.areaMap > failed.areaRandom);
});

test('Grad-CAM reads the tapped feature map: evidence on the cell the logit uses, spread over its patches', () => {
  // A stand-in for ResNet18 (width 1): 16x16 image -> 2x2x8 features by 8x8 average pooling -> logit of cell (0,0).
  const cam: Model = {
    config: { arch: 'resnet18', classes: 2, imageSize: 16, inChannels: 1, width: 1 } as Model['config'],
    store: null as never,
    forward: (x, opts) => {
      let f = tf.tile(tf.avgPool(x, 8, 8, 'valid'), [1, 1, 1, 8]) as tf.Tensor4D;
      if (opts.tap) f = opts.tap('layer4', f);
      const l0 = tf.mul(tf.mean(tf.slice(f, [0, 0, 0, 0], [-1, 1, 1, -1]), [1, 2, 3]), 3);
      return tf.stack([l0, tf.zerosLike(l0)], 1) as tf.Tensor2D;
    },
  };
  // The image is bright in its top-left quadrant only, so only feature cell (0,0) is active; Grad-CAM weighs channels
  // by their mean gradient and keeps the positive part of the weighted features.
  const image = Float32Array.from({ length: 256 }, (_, i) => (Math.floor(i / 16) < 8 && i % 16 < 8 ? 1 : 0));
  const {
    maps: [map],
    grid,
    method,
  } = evidenceMaps(cam, image, 1, Int32Array.of(0));
  assert.ok(map, 'one map');
  assert.equal(grid, 4);
  assert.match(method, /Grad-CAM/);
  const hot = [0, 1, 4, 5]; // the 2x2 patches under feature cell (0,0)
  assert.equal(map.length, 16);
  for (const [p, v] of map.entries()) assert.equal(v > 0, hot.includes(p), `patch ${p}: ${v}`);
});

test('the real presets give a map per image on the 8x8 patch grid', () => {
  for (const preset of ['spikformer-1-64', 'sdt-2-128', 'resnet18-w8']) {
    const config = resolveConfig(preset, { classes: 3, ...(isSpiking(resolveConfig(preset)) ? { timeSteps: 1 } : {}) });
    const model = createModel(config, 3);
    try {
      const x = Float32Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => Math.sin(i));
      const { maps, grid } = evidenceMaps(model, x, 2, Int32Array.of(0, 1));
      assert.equal(grid, 8);
      assert.equal(maps.length, 2);
      assert.ok(
        maps.every((m) => m.length === 64 && m.every(Number.isFinite)),
        preset,
      );
      assert.ok(
        maps[0]?.some((v) => v !== 0),
        `${preset}: an all-zero map`,
      );
    } finally {
      model.store.dispose();
    }
  }
});

test('masking, ranking, areas, per-class averages and the overlay image', () => {
  const img = new Float32Array(S * S).fill(1);
  maskPatches(img, S, 1, [3]);
  assert.equal(img[4 * S + 4], 0);
  assert.equal(img[0], 1);
  assert.equal(
    img.reduce((a, b) => a + b, 0),
    48,
  );
  assert.equal(area([0, 0.5, 1], [1, 0.5, 0]), 0.5);
  const avg = perClassMaps(
    [Float32Array.of(2, 0, 0, 0), Float32Array.of(0, 4, 0, -1), Float32Array.of(9, 9, 9, 9)],
    [0, 0, 1],
    [0, 0, 0],
    ['a', 'b'],
  );
  assert.deepEqual(avg[0], { class: 'a', images: 2, map: [0.5, 0.5, 0, 0] });
  assert.equal(avg[1]?.images, 0, 'wrong guesses are left out');
  const png = overlayPng(new Uint8Array(32 * 32 * 3).fill(100), 32, new Float32Array(64).fill(0).fill(1, 0, 1), 8);
  const back = decodeSimplePng(png)!;
  assert.equal(back.width, 256);
  const [red = 0, green = 255] = back.data;
  assert.ok(red > 150 && green < red, 'the hot patch is tinted red');
  assert.deepEqual(
    Array.from(back.data.subarray(255 * 3, 255 * 3 + 3)),
    [100, 100, 100],
    'a patch without evidence is untouched',
  );
});
