// The game in a real browser: Debian's Chromium driven by playwright-core (which never downloads a browser).
// Screenshots go to $GEOSPIKE_SCREENSHOTS when set (to look at the page), else to a temporary folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page, type Response } from 'playwright-core';
import sharp from 'sharp';
import { initEngine } from '../../src/engine/backend.js';
import { openDeck } from '../../src/serve/deck.js';
import { GameHall } from '../../src/serve/game.js';
import { Predictor } from '../../src/serve/predictor.js';
import { buildServer } from '../../src/serve/server.js';
import { CITIES, makeCheckpoint, makeDataset } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
/** How the page names the fixture's classes. */
const SHOWN: Record<string, string> = { seoul: 'Seoul', tokyo: 'Tokyo', newyork: 'New York', london: 'London', paris: 'Paris' };
let root: string;
let shots: string;
let app: FastifyInstance;
let base: string;
let hall: GameHall;
let predictors: Predictor[];
let context: BrowserContext;

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);
  await initEngine();
  root = mkdtempSync(path.join(tmpdir(), 'geospike-browser-'));
  shots = process.env.GEOSPIKE_SCREENSHOTS ?? path.join(root, 'shots');
  mkdirSync(shots, { recursive: true });
  const data = await makeDataset(path.join(root, 'data'), { validation: 2 });
  predictors = [
    Predictor.load(await makeCheckpoint(root, { preset: 'spikformer-1-64', kind: 'snn' })),
    Predictor.load(await makeCheckpoint(root, { preset: 'resnet18-w8', kind: 'ann' })),
  ];
  hall = new GameHall(await openDeck(data), predictors, { defaultRounds: 3, resultsFile: path.join(root, 'games.jsonl') });
  app = await buildServer({ hall, predictors });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  context = await chromium.launchPersistentContext(path.join(root, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1100, height: 1000 },
  });
});

after(async () => {
  await context?.close();
  await app?.close();
  for (const p of predictors ?? []) p.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** JSON bodies of every API response the page received, in order. */
function recordApi(page: Page): { url: string; body: any }[] {
  const seen: { url: string; body: any }[] = [];
  page.on('response', async (r: Response) => {
    if (r.url().includes('/api/') && (r.headers()['content-type'] ?? '').includes('json')) seen.push({ url: r.url(), body: await r.json() });
  });
  return seen;
}

const state = (page: Page, s: string) => page.waitForSelector(`body[data-state="${s}"]`);
const scoreOf = async (page: Page, i: number) => Number(await page.locator('#scoreboard .score .n').nth(i).textContent());

/**
 * Plays a game through the page. `answer(index)` makes the guess for a round (a click or a key press) and `advance()`
 * moves on (a click or Enter). Checks, every round, that nothing on the page or in what it received gives the answer
 * away before the guess, and that the scoreboard follows the reveals.
 */
async function playGame(page: Page, api: { url: string; body: any }[], answer: (i: number) => Promise<void>, advance: () => Promise<void>, shot?: string) {
  const reveals: any[] = [];
  for (let i = 0; ; i++) {
    await state(page, 'guessing');
    assert.equal(await page.locator('#round-label').textContent(), `Round ${i + 1} / 3`);
    // The display copy is shown (96 px in this dataset), not the 32x32 image.
    await page.waitForFunction(() => (document.getElementById('photo') as HTMLImageElement).naturalWidth > 0);
    assert.equal(await page.evaluate(() => (document.getElementById('photo') as HTMLImageElement).naturalWidth), 96);
    assert.equal(await page.locator('.choice.answer').count(), 0, 'no answer marked before the guess');
    assert.ok(!api.some((r) => r.body.answer !== undefined && r.body.index === i), 'no answer received before the guess');
    assert.ok(!api.some((r) => JSON.stringify(r.body).includes(`"index":${i},"total"`) && 'answer' in r.body));
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/rounds/${i}/guess`)), answer(i)]);
    const rev = await res.json();
    reveals.push(rev);
    await state(page, 'revealed');
    await page.waitForSelector('#seal[data-verified="yes"]');
    assert.equal(await page.locator('.choice.answer').getAttribute('data-label'), String(rev.answer.label));
    assert.equal(await scoreOf(page, 0), reveals.filter((r) => r.person.correct).length, 'your score');
    for (let m = 0; m < 2; m++) assert.equal(await scoreOf(page, m + 1), reveals.filter((r) => r.models[m].correct).length, `model ${m} score`);
    assert.equal(await page.locator('#guess-rows tr').count(), 3, 'you and the two models');
    if (shot && i === 1) await page.screenshot({ path: path.join(shots, shot) });
    await advance();
    if (rev.done) break;
  }
  await state(page, 'summary');
  return reveals;
}

async function checkSummary(page: Page, game: string, reveals: any[], shot: string) {
  const s = hall.summary(game);
  assert.ok(s.finished);
  assert.deepEqual(s.rounds.map((r) => r.person.label), reveals.map((r) => r.person.label));
  const finals = await page.locator('#final .score').allTextContents();
  assert.equal(finals.length, 3);
  assert.match(finals[0], new RegExp(`^you${s.score.person.correct}${s.score.person.points!.toLocaleString('en-US')} pts$`));
  s.score.models.forEach((m, k) => assert.ok(finals[k + 1].startsWith(`${m.name}${m.correct}`), finals[k + 1]));
  assert.equal(await page.locator('#review-rows tr').count(), 3);
  const answers = await page.locator('#review-rows tr td:nth-child(3)').allTextContents();
  assert.deepEqual(answers, s.rounds.map((r) => SHOWN[r.answer.class]));
  await page.waitForFunction(() => [...document.querySelectorAll('#review-rows img')].every((i) => (i as HTMLImageElement).naturalWidth > 0));
  await page.screenshot({ path: path.join(shots, shot), fullPage: true });
  const png = await sharp(path.join(shots, shot)).metadata();
  assert.ok(png.width === 1100 && png.height! >= 600, `screenshot ${png.width}x${png.height}`);
}

test('a full game played by clicking', async () => {
  const page = await context.newPage();
  const api = recordApi(page);
  await page.goto(base);
  await page.waitForSelector('body[data-ready="1"]');
  assert.deepEqual((await page.locator('#city-list li').allTextContents()).map((t) => t.trim()), CITIES.map((c, i) => `${i + 1} ${SHOWN[c]}`));
  await page.screenshot({ path: path.join(shots, 'play-intro.png') });
  await page.fill('#rounds', '3');
  await page.fill('#seed', '21');
  const [startRes] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/games')), page.click('#start')]);
  const { game } = await startRes.json();
  const reveals = await playGame(
    page, api,
    (i) => page.click(`.choice[data-label="${(i * 2) % CITIES.length}"]`),
    () => page.click('#next'),
    'play-round.png',
  );
  assert.deepEqual(reveals.map((r) => r.person.label), [0, 2, 4]);
  await checkSummary(page, game, reveals, 'play-summary.png');
  await page.close();
});

test('a full game played with the keyboard: Enter starts and moves on, digits guess', async () => {
  const page = await context.newPage();
  const api = recordApi(page);
  await page.goto(base);
  await page.waitForSelector('body[data-ready="1"]');
  const [startRes] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/games')), page.keyboard.press('Enter')]);
  const { game, rounds } = await startRes.json();
  assert.equal(rounds, 3, 'the server default');
  const reveals = await playGame(page, api, (i) => page.keyboard.press(String(5 - i)), () => page.keyboard.press('Enter'));
  assert.deepEqual(reveals.map((r) => r.person.label), [4, 3, 2], 'key n guesses the n-th city');
  await checkSummary(page, game, reveals, 'play-summary-keys.png');
  // Enter on the summary goes back to the start screen for another game.
  await page.keyboard.press('Enter');
  await state(page, 'intro');
  await page.close();
});

test('ten classes without coordinates: key 0 picks the tenth, and no distances are shown', async () => {
  const classes = ['t-shirt_top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle_boot'];
  const data = await makeDataset(path.join(root, 'data10'), { classes, train: 1, validation: 1, coordinates: false });
  const model = Predictor.load(await makeCheckpoint(root, { preset: 'resnet18-w8', kind: 'ten', classes }));
  const hall10 = new GameHall(await openDeck(data), [model], { defaultRounds: 2, resultsFile: null });
  const app10 = await buildServer({ hall: hall10, predictors: [model] });
  await app10.listen({ host: '127.0.0.1', port: 0 });
  const page = await context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${(app10.server.address() as { port: number }).port}`);
    await page.waitForSelector('body[data-ready="1"]');
    const chips = (await page.locator('#city-list li').allTextContents()).map((t) => t.trim());
    assert.equal(chips[0], '1 T Shirt Top');
    assert.equal(chips[9], '0 Ankle Boot');
    await page.keyboard.press('Enter');
    await state(page, 'guessing');
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/rounds/0/guess')), page.keyboard.press('0')]);
    assert.equal((await res.json()).person.label, 9);
    await state(page, 'revealed');
    assert.equal(await page.locator('#guess-rows tr:first-child td').count(), 3, 'no distance or points cells');
    assert.equal(await page.locator('#scoreboard .pts').count(), 0);
    await page.screenshot({ path: path.join(shots, 'play-ten-classes.png') });
  } finally {
    await page.close();
    await app10.close();
    model.dispose();
  }
});
