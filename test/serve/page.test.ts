// The page in Debian's Chromium (playwright-core): its question follows the dataset ("Which city is this?" over street
// photos with locations, a question about classes over anything else), and it verifies the whole revealed seal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { initEngine } from '../../src/engine/backend.js';
import { openDeck } from '../../src/serve/deck.js';
import { GameHall } from '../../src/serve/game.js';
import { Predictor } from '../../src/serve/predictor.js';
import { buildServer } from '../../src/serve/server.js';
import { makeCheckpoint, makeDataset } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
let root: string;
let browser: Browser;
const cleanup: (() => Promise<void> | void)[] = [];

before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
  root = mkdtempSync(path.join(tmpdir(), 'geospike-question-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
});

after(async () => {
  for (const f of cleanup.reverse()) await f();
  await browser?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A server over a dataset of `classes`, with or without coordinates; returns its base URL. */
async function serve(name: string, classes: string[], coordinates: boolean): Promise<string> {
  const data = await makeDataset(path.join(root, name), { classes, coordinates, validation: 1 });
  const predictor = Predictor.load(
    await makeCheckpoint(path.join(root), { preset: 'resnet18-w8', classes, kind: name }),
  );
  const app: FastifyInstance = await buildServer({
    hall: new GameHall(await openDeck(data), [predictor], {
      defaultRounds: 1,
      resultsFile: path.join(root, `${name}.jsonl`),
    }),
    predictors: [predictor],
  });
  cleanup.push(
    () => predictor.dispose(),
    () => app.close(),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

/** The page's tagline, heading and title over a dataset of `classes`, with or without coordinates. */
async function pageText(name: string, classes: string[], coordinates: boolean) {
  const base = await serve(name, classes, coordinates);
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-ready="1"]');
  const text = {
    tagline: await page.locator('.tagline').textContent(),
    heading: await page.locator('#intro h2').textContent(),
    title: await page.title(),
  };
  await page.close();
  return text;
}

test('street photos with locations are asked about as cities', async () => {
  const t = await pageText('cities', ['seoul', 'paris'], true);
  assert.match(t.tagline!, /^Which city is this\?/);
  assert.equal(t.heading, 'Guess the city');
});

test('Fashion-MNIST-like classes without locations are not asked about as cities', async () => {
  const t = await pageText('clothes', ['sneaker', 'shirt', 'bag'], false);
  assert.match(t.tagline!, /^Which class is this\?/);
  assert.equal(t.heading, 'Guess the class');
  assert.doesNotMatch(`${t.tagline} ${t.heading} ${t.title}`, /city/i);
});

/** Plays one round with the reveal passed through `tamper`; returns the page's verdict on the seal. */
async function sealVerdict(base: string, tamper: (reveal: any) => void): Promise<string | null> {
  const page = await browser.newPage();
  await page.route('**/guess', async (route) => {
    const res = await route.fetch();
    const reveal = await res.json();
    tamper(reveal);
    await route.fulfill({ response: res, json: reveal });
  });
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-ready="1"]');
  await page.click('#start');
  await page.waitForSelector('body[data-state="guessing"]');
  await page.locator('#choices button').first().click();
  await page.waitForSelector('#seal[data-verified]');
  const verdict = await page.locator('#seal').getAttribute('data-verified');
  await page.close();
  return verdict;
}

test('the page verifies the whole seal: every name, label, confidence and the number of guesses', async () => {
  const base = await serve('sealed', ['seoul', 'paris'], true);
  assert.equal(await sealVerdict(base, () => {}), 'yes');
  const tampers: [string, (r: any) => void][] = [
    [
      'a confidence',
      (r) => {
        r.models[0].confidence = r.models[0].confidence / 2;
      },
    ],
    [
      'a name',
      (r) => {
        r.models[0].name = 'someone-else';
      },
    ],
    [
      'a class',
      (r) => {
        r.models[0].class = r.models[0].class === 'seoul' ? 'paris' : 'seoul';
      },
    ],
    [
      'an extra guess',
      (r) => {
        r.models.push({ ...r.models[0], name: 'extra' });
      },
    ],
  ];
  for (const [what, tamper] of tampers) assert.equal(await sealVerdict(base, tamper), 'no', `tampered ${what}`);
});
