// The page's question follows the dataset: "Which city is this?" over street photos with locations, a question
// about classes over anything else (Fashion-MNIST, a folder import). Debian's Chromium through playwright-core.
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
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);
  await initEngine();
  root = mkdtempSync(path.join(tmpdir(), 'geospike-question-'));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  for (const f of cleanup.reverse()) await f();
  await browser?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** The page's tagline, heading and title over a dataset of `classes`, with or without coordinates. */
async function pageText(name: string, classes: string[], coordinates: boolean) {
  const data = await makeDataset(path.join(root, name), { classes, coordinates, validation: 1 });
  const predictor = Predictor.load(await makeCheckpoint(path.join(root), { preset: 'resnet18-w8', classes, kind: name }));
  const app: FastifyInstance = await buildServer({ hall: new GameHall(await openDeck(data), [predictor], { defaultRounds: 1, resultsFile: path.join(root, `${name}.jsonl`) }), predictors: [predictor] });
  cleanup.push(() => predictor.dispose(), () => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/`);
  await page.waitForSelector('body[data-ready="1"]');
  const text = { tagline: await page.locator('.tagline').textContent(), heading: await page.locator('#intro h2').textContent(), title: await page.title() };
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
