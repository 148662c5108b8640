// Measured energy from a powercap tree laid out as Linux does (a temporary folder stands in for /sys/class/powercap):
// joules from the package zones only, a wrap handled, and null with a reason where there is no counter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureEnergy, raplCounter } from '../../src/eval/energy_measure.js';
import { tempRoot } from './run_fixtures.js';

function zone(root: string, name: string, uj: number, range = 262143328850) {
  mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, name, 'energy_uj'), `${uj}\n`);
  writeFileSync(join(root, name, 'max_energy_range_uj'), `${range}\n`);
  writeFileSync(join(root, name, 'name'), name.split(':').length === 2 ? 'package-0\n' : 'core\n');
}

test('RAPL: joules per image from the package zones, sub-zones not counted twice, a wrap added back', (t) => {
  const root = tempRoot(t);
  zone(root, 'intel-rapl:0', 1_000_000);
  zone(root, 'intel-rapl:0:0', 500_000); // the cores inside package 0
  zone(root, 'intel-rapl:1', 262143328850 - 1_000_000); // about to wrap
  const counter = raplCounter(root);
  assert.ok(typeof counter !== 'string', String(counter));
  const m = measureEnergy(counter, () => {
    writeFileSync(join(root, 'intel-rapl:0', 'energy_uj'), '4000000\n'); // +3 J
    writeFileSync(join(root, 'intel-rapl:0:0', 'energy_uj'), '2500000\n'); // part of the 3 J, not added
    writeFileSync(join(root, 'intel-rapl:1', 'energy_uj'), '1000000\n'); // wrapped: +2 J
    return 100;
  });
  assert.ok(Math.abs(m.joules! - 5) < 1e-9, `joules ${m.joules}`);
  assert.ok(Math.abs(m.joulesPerImage! - 0.05) < 1e-12);
  assert.match(m.source!, /RAPL/);
});

test('no counter: null joules with a sentence saying why, and the work still runs', (t) => {
  const root = tempRoot(t);
  const missing = raplCounter(join(root, 'nope'));
  assert.equal(typeof missing, 'string');
  let ran = false;
  const m = measureEnergy(missing, () => {
    ran = true;
    return 10;
  });
  assert.ok(ran);
  assert.equal(m.joulesPerImage, null);
  assert.equal(m.joules, null);
  assert.match(m.note, /^not measured: this machine has no .* \(no powercap\/RAPL energy counter is exposed\)$/);
  assert.match(String(raplCounter(root)), /no package-level intel-rapl zone/);
});
