// Settings named on the command line are looked up as own properties: names that every object inherits
// ('constructor', '__proto__', 'toString') are unknown values, refused before any work is done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_REGIONS, selectRegions } from '../../src/data/cities.js';
import { resolveCosts } from '../../src/eval/energy.js';
import { resolveConfig } from '../../src/models/registry.js';
import { ConfigError, resolveTrainConfig } from '../../src/train/config.js';

const inherited = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];

test('--model with an inherited property name is an unknown preset', () => {
  for (const name of inherited) {
    assert.throws(
      () => resolveTrainConfig({}, { data: 'd', out: 'o', model: name, epochs: 30 }),
      (e: Error) => e instanceof ConfigError && /model \(--model\): must be one of/.test(e.message),
      name,
    );
    assert.throws(() => resolveConfig(name), /unknown model preset/, name);
  }
});

test('a model override with an inherited property name is not a setting', () => {
  assert.throws(() => resolveConfig('resnet18-w8', { toString: 3 }), /'toString' is not a setting of resnet18/);
});

test('--cities __proto__ and friends are unknown cities', () => {
  for (const name of inherited) {
    assert.throws(() => selectRegions(BUILTIN_REGIONS, [name]), /unknown city/, name);
  }
});

test('--costs constructor is an unknown energy preset', () => {
  for (const name of inherited) assert.throws(() => resolveCosts(name), /unknown energy preset/, name);
});
