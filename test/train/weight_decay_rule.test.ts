// The AdamW parameter grouping a run trains with is recorded in its config.json; a run started before the record
// (every parameter decayed) resumes with that old rule and says so once.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../src/engine/backend.js';
import { importFashionMnist } from '../../src/data/importers/fashion_mnist.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { readCheckpoint } from '../../src/train/checkpoint.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { train } from '../../src/train/loop.js';
import { Progress } from '../../src/train/progress.js';

const root = mkdtempSync(join(tmpdir(), 'geospike-wd-rule-'));
const data = join(root, 'data');
const quiet = { write: () => true };

const config = (out: string, epochs = 2) =>
  resolveTrainConfig(
    {},
    { data, out: join(root, out), model: 'spikformer-1-64', epochs, warmupEpochs: 1, batch: 8, timeSteps: 2, seed: 3 },
  );
const configJson = (run: string) => JSON.parse(readFileSync(join(root, run, 'config.json'), 'utf8'));
const lastWeights = (run: string) =>
  readSafetensors(readCheckpoint(join(root, run, 'checkpoints', 'last.json')).weightsPath).tensors;

/** Runs train, collecting what it logs; stops (as Ctrl-C) after `steps` steps when given. */
async function run(out: string, opts: { resume?: boolean; steps?: number; epochs?: number } = {}) {
  const lines: string[] = [];
  const control = { stop: false };
  const progress = new Progress(quiet);
  const update = progress.update.bind(progress);
  let n = 0;
  progress.update = (...args) => {
    update(...args);
    if (++n === opts.steps) control.stop = true;
  };
  await train(config(out, opts.epochs), { resume: opts.resume, control, progress, log: (l) => lines.push(l) });
  return lines;
}

before(async () => {
  await initEngine('native');
  await importFashionMnist({ out: data, perClass: 2, valPerClass: 1 });
  await run('started', { steps: 2 });
  cpSync(join(root, 'started'), join(root, 'legacy'), { recursive: true });
  const old = configJson('legacy');
  delete old.weightDecayRule; // as a run started before the rule was recorded
  writeFileSync(join(root, 'legacy', 'config.json'), JSON.stringify(old));
});

test("a new run records timm's grouping in config.json and keeps it on resume, silently", async () => {
  assert.equal(configJson('started').weightDecayRule, 'timm-filter-bias-and-bn');
  const lines = await run('started', { resume: true });
  assert.equal(lines.filter((l) => l.includes('weightDecayRule')).length, 0);
  assert.equal(configJson('started').weightDecayRule, 'timm-filter-bias-and-bn');
});

test('a run whose config.json records no rule resumes decaying every parameter, and says so once', async () => {
  const lines = await run('legacy', { resume: true });
  const said = lines.filter((l) => l.includes('records no weightDecayRule'));
  assert.equal(said.length, 1, lines.join('\n'));
  assert.match(said[0] ?? '', /resumes decaying every parameter \('all'\)/);
  assert.equal(configJson('legacy').weightDecayRule, 'all');
  // The same steps from the same checkpoint under the two rules end with different biases (decayed only under 'all').
  const timm = lastWeights('started');
  const legacy = lastWeights('legacy');
  const bias = 'head.bias';
  assert.notDeepEqual(legacy.get(bias)!.data, timm.get(bias)!.data);
  const again = await run('legacy', { resume: true, epochs: 3 });
  assert.equal(again.filter((l) => l.includes('weightDecayRule')).length, 0, 'said once, not on every resume');
});

test('a config.json naming a rule this geospike does not know is refused, naming it', async () => {
  cpSync(join(root, 'started'), join(root, 'unknown'), { recursive: true });
  writeFileSync(
    join(root, 'unknown', 'config.json'),
    JSON.stringify({ ...configJson('started'), weightDecayRule: 'x' }),
  );
  await assert.rejects(
    run('unknown', { resume: true, epochs: 3 }),
    /weightDecayRule "x", which this geospike does not/,
  );
});
