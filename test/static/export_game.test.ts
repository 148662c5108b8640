// The static export in a real browser: `export-game` writes a folder, a plain static server serves it, and Chromium
// (playwright-core over Debian's chromium, as test/serve/browser.test.ts) plays the daily challenge with the models
// running in the page, checks the share line, compares the page's predictions with `geospike predict --json` on 20
// photos for a Spikformer and a ResNet18, and opens the game again with the network off.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { initEngine } from '../../src/engine/backend.js';
import { dailyDeal } from '../../src/static/daily.js';
import { exportGame, SITE_FILE, type Site } from '../../src/static/export.js';
import { serveStatic, type StaticServer } from '../../src/static/serve.js';
import { packageRoot } from '../../src/util/package_root.js';
import { CITIES, makeCheckpoint, makeDataset } from '../serve/helpers.js';
import { excitedCheckpoint, variedPhoto } from './fixtures.js';
import { must } from '../../src/util/must.js';

const CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);
let root: string;
let site: string;
let server: StaticServer;
let context: BrowserContext;
let checkpoints: string[];

before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);
  await initEngine();
  root = mkdtempSync(path.join(tmpdir(), 'geospike-static-'));
  const data = await makeDataset(path.join(root, 'data'), { validation: 2 });
  checkpoints = [
    await excitedCheckpoint(root, 'snn', 'spikformer-1-64'),
    await excitedCheckpoint(root, 'ann', 'resnet18-w8', 4),
  ];
  site = path.join(root, 'site');
  await exportGame({ checkpoints, data, out: site, photos: 8, seed: 7, rounds: 3 });
  server = await serveStatic(site, { port: 0 });
  context = await chromium.launchPersistentContext(path.join(root, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    viewport: { width: 1100, height: 1000 },
  });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const state = (page: Page, s: string) => page.waitForSelector(`body[data-state="${s}"]`);

async function open(): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`# page error: ${err.message}`));
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="1"]');
  return page;
}

test(
  "the daily challenge deals the date's five photos, scores each model, " + 'and shares a line that gives nothing away',
  async () => {
    const meta = JSON.parse(readFileSync(path.join(site, SITE_FILE), 'utf8')) as Site;
    const page = await open();
    assert.match((await page.locator('#static-note').textContent()) ?? '', /answers are in the page.*not a contest/);
    const date = await page.evaluate(() => {
      const d = new Date();
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    });
    const expected = dailyDeal(date, meta.seed, meta.photos.length).map((i) => meta.photos[i]?.image);
    const reveals: any[] = [];
    const shown: string[] = [];
    await page.click('#daily');
    for (let i = 0; i < 5; i++) {
      await state(page, 'guessing');
      assert.equal(await page.locator('#round-label').textContent(), `Round ${i + 1} / 5`);
      shown.push(new URL((await page.locator('#photo').getAttribute('src'))!, server.url).pathname.slice(1));
      // Alternate keys, so the player is right on some rounds and wrong on others.
      await page.keyboard.press(String((i % 2) + 1));
      await state(page, 'revealed');
      reveals.push(
        await page.evaluate(() => ({
          answer: Number(document.querySelector('.choice.answer')!.getAttribute('data-label')),
          rows: [...document.querySelectorAll('#guess-rows tr td:nth-child(3)')].map((td) => td.className === 'ok'),
        })),
      );
      assert.equal(await page.locator('#bars .bars').count(), 2, "each model's top classes");
      // Each score reads right answers over the rounds played so far ("2 / 3"), not over the game's length.
      const scores = await page.$$eval('#scoreboard .score', (boxes) =>
        boxes.map((b) => `${b.querySelector('.n')?.textContent}${b.querySelector('.of')?.textContent}`),
      );
      assert.deepEqual(
        scores,
        [0, 1, 2].map((k) => `${reveals.filter((r) => r.rows[k]).length} / ${i + 1}`),
      );
      await page.waitForFunction(() => document.getElementById('seal')!.textContent!.includes('proves nothing'));
      await page.keyboard.press('Enter');
    }
    assert.deepEqual(shown, expected, "the date's five photos, in the daily deal's order");
    await state(page, 'summary');
    const line = (await page.locator('#share-line').textContent())!;
    const lines = line.split('\n');
    assert.equal(lines[0], `geospike daily ${date}`);
    const squares = (k: number) => reveals.map((r) => (r.rows[k] ? '🟩' : '🟥')).join('');
    const right = (k: number) => reveals.filter((r) => r.rows[k]).length;
    assert.match(lines[1] ?? '', new RegExp(`^me ${squares(0)} ${right(0)}/5 [\\d,]+ pts$`));
    assert.match(lines[2] ?? '', new RegExp(`^spikformer-1-64 ${squares(1)} ${right(1)}/5 [\\d,]+ pts$`));
    assert.match(lines[3] ?? '', new RegExp(`^resnet18-w8 ${squares(2)} ${right(2)}/5 [\\d,]+ pts$`));
    const finals = await page.locator('#final .score .n').allTextContents();
    assert.deepEqual(finals.map(Number), [right(0), right(1), right(2)], 'the share line agrees with the final score');
    assert.deepEqual(await page.locator('#final .score .of').allTextContents(), [' / 5', ' / 5', ' / 5']);
    for (const c of [...CITIES, 'New York', 'Seoul', 'photo', '.jpg'])
      assert.ok(!line.toLowerCase().includes(c.toLowerCase()), `the share line names no ${c}`);
    // Opened again the same day, the page shows the result kept on this device.
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    assert.equal(await page.locator('#daily-done').textContent(), line);
    await page.close();
  },
);

test('the page predicts 20 photos as `geospike predict --json` does, for a Spikformer and a ResNet18', async () => {
  const dir = path.join(root, 'photos');
  mkdirSync(dir);
  const files: string[] = [];
  for (let i = 0; i < 20; i++) {
    // Sizes that crop and resize differently (wider, taller, larger than 16x the input); PNG so both decodes agree.
    const sizes = [
      [120, 96],
      [96, 140],
      [640, 520],
      [33, 40],
    ] as const;
    const [w, h] = must(sizes[i % sizes.length], 'an index modulo the length');
    const f = path.join(dir, `p${i}.png`);
    writeFileSync(f, await variedPhoto(i, w, h));
    files.push(f);
  }
  const page = await open();
  const backend = await page.evaluate(async () => {
    await (globalThis as any).geospike.modelsReady;
    return (globalThis as any).geospike.timing.backend;
  });
  assert.equal(backend, 'cpu', "the page's default backend is tfjs's cpu (wasm is asked for with ?backend=wasm)");
  const main = path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  for (const [m, ckpt] of checkpoints.entries()) {
    const { stdout } = await run(process.execPath, [main, 'predict', '--checkpoint', ckpt, '--json', ...files], {
      maxBuffer: 1 << 24,
    });
    const cli = JSON.parse(stdout) as {
      image: string;
      label: number;
      probabilities: { class: string; probability: number }[];
    }[];
    assert.equal(cli.length, 20);
    let worst = 0;
    for (const [i, f] of files.entries()) {
      await page.locator('#own-result').evaluate((e) => (e.dataset.done = ''));
      await page.setInputFiles('#own-photo', f);
      await page.waitForSelector('#own-result[data-done="1"]');
      const preds = JSON.parse((await page.locator('#own-result').getAttribute('data-predictions'))!);
      const mine = preds[m];
      const theirs = cli[i];
      assert.ok(theirs, `the command line predicted ${path.basename(f)}`);
      assert.equal(mine.label, theirs.label, `${path.basename(f)}: same top-1 (${mine.model})`);
      assert.deepEqual(
        mine.probabilities.map((p: any) => p.class),
        theirs.probabilities.map((p) => p.class),
        `${path.basename(f)}: the same ranking of every class`,
      );
      const byClass = new Map(mine.probabilities.map((p: any) => [p.class, p.probability]));
      for (const p of theirs.probabilities) {
        const d = Math.abs((byClass.get(p.class) as number) - p.probability);
        worst = Math.max(worst, d);
        assert.ok(d <= 1e-4, `${path.basename(f)} ${p.class}: browser ${byClass.get(p.class)} vs CLI ${p.probability}`);
      }
    }
    // The comparison means something only if the model's answer depends on the photo.
    const spread = new Set(cli.map((r) => r.probabilities.map((p) => p.probability.toFixed(4)).join()));
    assert.ok(spread.size >= 10, `${path.basename(ckpt)} gives different probabilities to different photos`);
    assert.ok(
      new Set(cli.map((r) => r.label)).size >= 2,
      `${path.basename(ckpt)}: the top class changes with the photo`,
    );
    console.log(
      `# ${path.basename(ckpt)}: top-1 classes ${[...new Set(cli.map((r) => r.label))].length} of 5 seen; ` +
        `largest probability difference browser vs CLI ${worst.toExponential(2)}`,
    );
  }
  await page.close();
});

test('after one visit the game opens and plays with the network off (service worker)', async () => {
  const page = await open();
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  // No server at all from here: every file must come from the worker's cache.
  await server.close();
  await context.setOffline(true);
  try {
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    await page.click('#start');
    await state(page, 'guessing');
    await page.keyboard.press('1');
    await state(page, 'revealed');
  } finally {
    await context.setOffline(false);
    await page.close();
  }
});

test('export-game refuses a folder it did not write, and replaces only its own files on a re-export', async () => {
  const other = path.join(root, 'mine');
  mkdirSync(other);
  writeFileSync(path.join(other, 'notes.txt'), 'keep me');
  await assert.rejects(
    exportGame({ checkpoints, data: path.join(root, 'data'), out: other }),
    /not empty and holds no site written by geospike export-game/,
  );
  assert.equal(readFileSync(path.join(other, 'notes.txt'), 'utf8'), 'keep me');
  const again = path.join(root, 'again');
  await exportGame({ checkpoints, data: path.join(root, 'data'), out: again, photos: 6, seed: 1 });
  writeFileSync(path.join(again, 'notes.txt'), 'keep me too');
  const r = await exportGame({ checkpoints, data: path.join(root, 'data'), out: again, photos: 3, seed: 1 });
  assert.equal(r.photos, 3);
  assert.ok(!existsSync(path.join(again, 'photos', '5.jpg')), "the earlier export's extra photos are gone");
  assert.equal(readFileSync(path.join(again, 'notes.txt'), 'utf8'), 'keep me too');
});

test('spikformer-2-128 + resnet18-w16 leave over 2 MB of a 10 MB site for 100 photos (21 KB each)', async () => {
  const out = path.join(root, 'sized');
  const models = [
    await makeCheckpoint(root, { preset: 'spikformer-2-128', kind: 'big-snn' }),
    await makeCheckpoint(root, { preset: 'resnet18-w16', kind: 'big-ann' }),
  ];
  const r = await exportGame({ checkpoints: models, data: path.join(root, 'data'), out, photos: 5, seed: 2 });
  const meta = JSON.parse(readFileSync(path.join(out, SITE_FILE), 'utf8')) as Site;
  const perPhoto = meta.files.filter((f) => /^(photos|inputs)\//.test(f)).map((f) => statSync(path.join(out, f)).size);
  const fixed = r.bytes - perPhoto.reduce((a, b) => a + b, 0);
  console.log(`# the site without its photos: ${(fixed / 1e6).toFixed(2)} MB`);
  assert.ok(fixed < 10e6 - 100 * 21e3, `${fixed} bytes before any photo`);
});
