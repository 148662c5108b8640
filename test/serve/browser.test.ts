// The game in a real browser: Debian's Chromium driven by playwright-core (which never downloads a browser).
// Screenshots go to $GEOSPIKE_SCREENSHOTS when set, else to <tmpdir>/geospike-screenshots (printed, kept, overwritten
// by the next run) so a person can look at the reveal, the summary and the results page at desktop and phone sizes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext, type Page, type Response } from 'playwright-core';
import sharp from 'sharp';
import { FASHION_MNIST_CLASSES } from '../../src/data/importers/fashion_mnist.js';
import { initEngine } from '../../src/engine/backend.js';
import { openDeck } from '../../src/serve/deck.js';
import { GameHall } from '../../src/serve/game.js';
import { Predictor } from '../../src/serve/predictor.js';
import { readResults, tabulate } from '../../src/serve/results.js';
import { buildServer } from '../../src/serve/server.js';
import { CITIES, makeCheckpoint, makeDataset } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
/** How the page names the fixture's classes. */
const SHOWN: Record<string, string> = {
  seoul: 'Seoul',
  tokyo: 'Tokyo',
  newyork: 'New York',
  london: 'London',
  paris: 'Paris',
};
let root: string;
let shots: string;
let app: FastifyInstance;
let base: string;
let hall: GameHall;
let predictors: Predictor[];
let context: BrowserContext;
let results: string;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);
  await initEngine('native'); // named, so a machine with a GPU runs what CI runs
  root = mkdtempSync(path.join(tmpdir(), 'geospike-browser-'));
  shots = process.env.GEOSPIKE_SCREENSHOTS ?? path.join(tmpdir(), 'geospike-screenshots');
  mkdirSync(shots, { recursive: true });
  console.log(`# screenshots: ${shots}`);
  const data = await makeDataset(path.join(root, 'data'), { validation: 2 });
  predictors = [
    Predictor.load(await makeCheckpoint(root, { preset: 'spikformer-1-64', kind: 'snn' })),
    Predictor.load(await makeCheckpoint(root, { preset: 'resnet18-w8', kind: 'ann' })),
  ];
  results = path.join(root, 'games.jsonl');
  hall = new GameHall(await openDeck(data), predictors, { defaultRounds: 3, resultsFile: results });
  app = await buildServer({ hall, predictors });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  context = await chromium.launchPersistentContext(path.join(root, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 1100, height: 1000 },
  });
});

after(async () => {
  await context?.close();
  await app?.close();
  for (const p of predictors ?? []) p.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** JSON bodies of every API response the page received, in order, and every URL it asked for. */
function recordApi(page: Page): { url: string; body: any }[] & { requested: string[] } {
  const seen = Object.assign([] as { url: string; body: any }[], { requested: [] as string[] });
  page.on('request', (r) => void seen.requested.push(r.url()));
  page.on('response', async (r: Response) => {
    if (r.url().includes('/api/') && (r.headers()['content-type'] ?? '').includes('json'))
      seen.push({ url: r.url(), body: await r.json() });
  });
  return seen;
}

/** Names and labels in `selector` that a line break splits inside a word ("spikfor|mer"), as "before|after". */
function wordsBroken(page: Page, selector: string): Promise<string[]> {
  return page.evaluate((sel) => {
    const broken: string[] = [];
    const range = document.createRange();
    for (const box of document.querySelectorAll(sel)) {
      const walk = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
      for (let node = walk.nextNode(); node; node = walk.nextNode()) {
        const text = node.textContent ?? '';
        let line: number | null = null;
        for (let i = 0; i < text.length; i++) {
          range.setStart(node, i);
          range.setEnd(node, i + 1);
          const r = range.getClientRects()[0];
          if (!r || r.width === 0) continue; // hidden, or collapsed white space
          const wrapped = line !== null && r.top > line + r.height / 2;
          if (wrapped && /[\p{L}\p{N}]/u.test(text.charAt(i)) && /[\p{L}\p{N}]/u.test(text.charAt(i - 1)))
            broken.push(`${text.slice(0, i)}|${text.slice(i)}`);
          line = r.top;
        }
      }
    }
    return broken;
  }, selector);
}

/** Where names are shown after a guess: the scoreboard, the answer buttons, the guesses table and the map's key. */
const NAMES = '#scoreboard .who, .choice, #guess-rows td:first-child, #guess-rows td:nth-child(2), #map .legend li';

/**
 * After a guess, the verdict and Next are on screen without scrolling, the page never scrolls sideways, and no name
 * is broken inside a word.
 */
async function assertResultInView(page: Page) {
  const seen = await page.evaluate(() => {
    const inside = (id: string) => {
      const r = document.getElementById(id)!.getBoundingClientRect();
      return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth;
    };
    return {
      verdict: inside('verdict'),
      next: inside('next'),
      sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    };
  });
  assert.deepEqual(seen, { verdict: true, next: true, sideways: 0 }, `at ${JSON.stringify(page.viewportSize())}`);
  assert.deepEqual(await wordsBroken(page, NAMES), [], `words broken at ${JSON.stringify(page.viewportSize())}`);
}

const state = (page: Page, s: string) => page.waitForSelector(`body[data-state="${s}"]`);
const scoreOf = async (page: Page, i: number) =>
  Number(await page.locator('#scoreboard .score .n').nth(i).textContent());

/** The map's pins and frame, with each pin's circle centre turned back into lat/lng by the map's own projection. */
async function mapPins(page: Page, box: string) {
  return page.evaluate((sel) => {
    const svg = document.querySelector(`${sel} svg`)!;
    const nums = (a: string) => svg.getAttribute(a)!.split(',').map(Number);
    const d3 = (window as any).d3;
    const projection = d3
      .geoNaturalEarth1()
      .rotate(nums('data-rotate'))
      .scale(nums('data-scale')[0])
      .translate(nums('data-translate'));
    const [, , w = NaN, h = NaN] = svg.getAttribute('viewBox')!.split(' ').map(Number);
    const pins = [...svg.querySelectorAll('.pin')].map((g) => {
      const c = g.querySelector('circle')!;
      const xy: [number, number] = [Number(c.getAttribute('cx')), Number(c.getAttribute('cy'))];
      const [lng, lat] = projection.invert(xy);
      return {
        who: g.getAttribute('data-who')!,
        kind: g.getAttribute('class')!,
        lat: Number(g.getAttribute('data-lat')),
        lng: Number(g.getAttribute('data-lng')),
        at: { lat, lng },
        xy,
      };
    });
    return {
      pins,
      w,
      h,
      scale: projection.scale(),
      label: svg.getAttribute('aria-label')!,
      lines: svg.querySelectorAll('.line').length,
    };
  }, box);
}

/**
 * Every pin sits where its coordinates are, inside the frame, and the frame is zoomed to them (not the whole world).
 */
function checkFrame(map: Awaited<ReturnType<typeof mapPins>>) {
  for (const p of map.pins) {
    assert.ok(
      Math.abs(p.at.lat - p.lat) < 1e-6 && Math.abs(p.at.lng - p.lng) < 1e-6,
      `${p.who} pin at ${JSON.stringify(p.at)}, not ${p.lat},${p.lng}`,
    );
    assert.ok(p.xy[0] > 0 && p.xy[0] < map.w && p.xy[1] > 0 && p.xy[1] < map.h, `${p.who} pin inside the map: ${p.xy}`);
  }
  const xs = map.pins.map((p) => p.xy[0]);
  const ys = map.pins.map((p) => p.xy[1]);
  const fill = Math.max((Math.max(...xs) - Math.min(...xs)) / map.w, (Math.max(...ys) - Math.min(...ys)) / map.h);
  // A whole-world Natural Earth map of this size has a scale near 150; pins a few km apart get a regional map.
  assert.ok(
    fill > 0.4 || map.scale > 1000,
    `zoomed to the pins: they span ${(fill * 100).toFixed(0)}% of the frame at scale ${map.scale}`,
  );
}

/**
 * Plays a game through the page. `answer(index)` makes the guess for a round (a click or a key press) and `advance()`
 * moves on (a click or Enter). Checks, every round, that nothing on the page or in what it received gives the answer
 * away before the guess (no map, no model input), that the scoreboard follows the reveals, and that the reveal's map
 * pins the true location and each guessed city's centre.
 */
async function playGame(
  page: Page,
  api: ReturnType<typeof recordApi>,
  answer: (i: number) => Promise<void>,
  advance: () => Promise<void>,
  shot?: string,
) {
  const reveals: any[] = [];
  for (let i = 0; ; i++) {
    await state(page, 'guessing');
    assert.equal(await page.locator('#round-label').textContent(), `Round ${i + 1} / 3`);
    // The display copy is shown (96 px in this dataset), not the 32x32 image.
    await page.waitForFunction(() => (document.getElementById('photo') as HTMLImageElement).naturalWidth > 0);
    assert.equal(await page.evaluate(() => (document.getElementById('photo') as HTMLImageElement).naturalWidth), 96);
    assert.equal(await page.locator('.choice.answer').count(), 0, 'no answer marked before the guess');
    assert.ok(
      !api.some((r) => r.body.answer !== undefined && r.body.index === i),
      'no answer received before the guess',
    );
    assert.ok(!api.some((r) => JSON.stringify(r.body).includes(`"index":${i},"total"`) && 'answer' in r.body));
    assert.equal(await page.locator('#map .pin, #map svg').count(), 0, 'no map before the guess');
    assert.ok(await page.locator('#seen').isHidden(), 'no model input before the guess');
    assert.ok(
      !api.requested.some((u) => u.includes(`/rounds/${i}/input`)),
      'the model input is not fetched before the guess',
    );
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/rounds/${i}/guess`)), answer(i)]);
    const rev = await res.json();
    reveals.push(rev);
    await state(page, 'revealed');
    await assertResultInView(page);
    await page.waitForSelector('#seal[data-verified="yes"]');
    assert.equal(await page.locator('.choice.answer').getAttribute('data-label'), String(rev.answer.label));
    assert.equal(await scoreOf(page, 0), reveals.filter((r) => r.person.correct).length, 'your score');
    for (let m = 0; m < 2; m++)
      assert.equal(await scoreOf(page, m + 1), reveals.filter((r) => r.models[m].correct).length, `model ${m} score`);
    // Over the rounds played so far ("2 / 3"), never a rate such as "25.0 correct / 25" after a few rounds.
    assert.deepEqual(await page.locator('#scoreboard .score .of').allTextContents(), Array(3).fill(` / ${i + 1}`));
    assert.equal(await page.locator('#guess-rows tr').count(), 3, 'you and the two models');
    // What the model saw: its 32x32 input, and each model's top classes as bars (all five classes here).
    await page.waitForFunction(() => (document.getElementById('model-input') as HTMLImageElement).naturalWidth > 0);
    assert.equal(
      await page.evaluate(() => (document.getElementById('model-input') as HTMLImageElement).naturalWidth),
      32,
    );
    assert.equal(await page.locator('#bars .bars').count(), 2);
    const bars = await page
      .locator('#bars .bars')
      .first()
      .locator('li')
      .evaluateAll((li) => li.map((x) => x.getAttribute('aria-label')));
    assert.deepEqual(
      bars,
      rev.models[0].top.map((t: any) => `${SHOWN[t.class]} ${(t.probability * 100).toFixed(0)}%`),
    );
    // The map: the true location and the centre of each guessed city, where their coordinates say.
    await page.waitForSelector('#map svg .pin');
    const map = await mapPins(page, '#map');
    const truth = map.pins.find((p) => p.who === 'answer')!;
    assert.deepEqual([truth.lat, truth.lng], [rev.answer.lat, rev.answer.lng]);
    for (const [who, g] of [['you', rev.person], ...rev.models.map((m: any) => [m.name, m])]) {
      const pin = map.pins.find((p) => p.who === who)!;
      const centre = hall.deck.centres.get(g.class)!;
      assert.deepEqual([pin.lat, pin.lng], [centre.lat, centre.lng], `${who}'s pin at the centre of ${g.class}`);
    }
    assert.equal(
      map.lines,
      new Set([rev.person.label, ...rev.models.map((m: any) => m.label)]).size,
      'a line from each guessed city',
    );
    assert.match(map.label, new RegExp(`taken in ${SHOWN[rev.answer.class]}`));
    checkFrame(map);
    // A key to the pins' colours: the true location, then one entry per guesser.
    assert.deepEqual(await page.locator('#map .legend li').allTextContents(), [
      'where the photo was taken',
      "your guess (the city's centre)",
      ...rev.models.map((m: any) => `${m.name}'s guess (the city's centre)`),
    ]);
    // Great circles are clipped to the globe, so an arc over a pole never leaves the map.
    assert.equal(await page.locator('#map svg g[clip-path] .line').count(), map.lines);
    await assertResultInView(page);
    if (shot && i === 1) await page.screenshot({ path: path.join(shots, shot), fullPage: true });
    await advance();
    if (rev.done) break;
  }
  await state(page, 'summary');
  return reveals;
}

async function checkSummary(page: Page, game: string, reveals: any[], shot: string, width: number) {
  const s = hall.summary(game);
  assert.ok(s.finished);
  assert.deepEqual(
    s.rounds.map((r) => r.person.label),
    reveals.map((r) => r.person.label),
  );
  const finals = await page.locator('#final .score').allTextContents();
  assert.equal(finals.length, 3);
  assert.match(
    finals[0] ?? '',
    new RegExp(
      `^you${s.score.person.correct} / ${reveals.length}${s.score.person.points!.toLocaleString('en-US')} pts$`,
    ),
  );
  s.score.models.forEach((m, k) => {
    const final = finals[k + 1] ?? '';
    assert.ok(final.startsWith(`${m.name}${m.correct} / ${reveals.length}`), final);
  });
  assert.equal(await page.locator('#review-rows tr').count(), 3);
  const answers = await page.locator('#review-rows tr td:nth-child(3)').allTextContents();
  assert.deepEqual(
    answers,
    s.rounds.map((r) => SHOWN[r.answer.class]),
  );
  // One map with every round's true location.
  await page.waitForSelector('#summary-map svg .pin');
  const map = await mapPins(page, '#summary-map');
  assert.deepEqual(
    map.pins.map((p) => [p.lat, p.lng]),
    s.rounds.map((r) => [r.answer.lat, r.answer.lng]),
  );
  assert.deepEqual(
    map.pins.map((p) => p.kind.includes(' right')),
    s.rounds.map((r) => r.person.correct),
  );
  checkFrame(map);
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#review-rows img')].every((i) => (i as HTMLImageElement).naturalWidth > 0),
  );
  await page.screenshot({ path: path.join(shots, shot), fullPage: true });
  const png = await sharp(path.join(shots, shot)).metadata();
  assert.ok(png.width === width && png.height! >= 600, `screenshot ${png.width}x${png.height}`);
}

test('a full game played by clicking, at desktop size, with a player name kept only in the results file', async () => {
  const page = await context.newPage();
  await page.setViewportSize(DESKTOP);
  const api = recordApi(page);
  await page.goto(base);
  await page.waitForSelector('body[data-ready="1"]');
  assert.deepEqual(
    (await page.locator('#city-list li').allTextContents()).map((t) => t.trim()),
    CITIES.map((c, i) => `${i + 1} ${SHOWN[c]}`),
  );
  await page.screenshot({ path: path.join(shots, 'intro-desktop.png') });
  await page.fill('#rounds', '3');
  await page.fill('#player', '  Ada Lovelace ');
  const [startRes] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/games')),
    page.click('#start'),
  ]);
  const { game } = await startRes.json();
  const reveals = await playGame(
    page,
    api,
    (i) => page.click(`.choice[data-label="${(i * 2) % CITIES.length}"]`),
    () => page.click('#next'),
    'reveal-desktop.png',
  );
  assert.deepEqual(
    reveals.map((r) => r.person.label),
    [0, 2, 4],
  );
  await checkSummary(page, game, reveals, 'summary-desktop.png', DESKTOP.width);
  assert.ok(!api.some((r) => JSON.stringify(r.body).includes('Ada')), 'the name is not sent back to the page');
  await hall.flush();
  const { games } = await readResults(results);
  assert.equal(games.find((g) => g.game === game)!.player, 'Ada Lovelace');
  await page.close();
});

test(
  'a full game played with the keyboard on a phone-sized screen: ' + 'Enter starts and moves on, digits guess',
  async () => {
    const page = await context.newPage();
    await page.setViewportSize(PHONE);
    const api = recordApi(page);
    await page.goto(base);
    await page.waitForSelector('body[data-ready="1"]');
    const [startRes] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/games')),
      page.keyboard.press('Enter'),
    ]);
    const { game, rounds } = await startRes.json();
    assert.equal(rounds, 3, 'the server default');
    // Buttons carry accessible names (the city and its key); Tab reaches them and Space answers too.
    await state(page, 'guessing');
    for (const [i, c] of CITIES.entries())
      assert.equal(await page.getByRole('button', { name: `Guess ${SHOWN[c]} (key ${i + 1})` }).count(), 1);
    const reveals = await playGame(
      page,
      api,
      async (i) => {
        if (i > 0) return page.keyboard.press(String(5 - i));
        // Round 1 by Tab: from the first choice, four Tabs reach the fifth.
        await page.locator('.choice').first().focus();
        for (let k = 0; k < 4; k++) await page.keyboard.press('Tab');
        await page.keyboard.press('Space');
      },
      async () => {
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'next', 'focus waits on the Next button');
        await page.keyboard.press('Enter');
      },
      'reveal-phone.png',
    );
    assert.deepEqual(
      reveals.map((r) => r.person.label),
      [4, 3, 2],
      'Tab x4 + Space, then key n guesses the n-th city',
    );
    await checkSummary(page, game, reveals, 'summary-phone.png', PHONE.width);
    // Nothing is wider than the phone's screen.
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), PHONE.width);
    // Enter on the summary goes back to the start screen for another game.
    await page.keyboard.press('Enter');
    await state(page, 'intro');
    await page.close();
  },
);

test('the results page shows the table `geospike games` computes, at desktop and phone sizes', async () => {
  await hall.flush();
  const table = tabulate((await readResults(results)).games);
  assert.ok(table.games >= 2, 'the games played above');
  const page = await context.newPage();
  try {
    for (const [size, name] of [
      [DESKTOP, 'desktop'],
      [PHONE, 'phone'],
    ] as const) {
      await page.setViewportSize(size);
      await page.goto(`${base}/results`);
      await page.waitForSelector('#standings');
      const rows = await page
        .locator('#standings tbody tr')
        .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent!.trim())));
      // Player names stay in the results file (and `geospike games`): the page any client can open shows none.
      // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator's rendered text, not a DOM node
      assert.doesNotMatch(await page.locator('#tables').innerText(), /Ada/);
      // Counts and shares: 2 right of 3 rounds reads "2 (67%)", never a per-25 rate such as "16.7 correct / 25".
      const pct = (x: number) => `${Math.round(100 * x)}%`;
      const expect = [table.people, ...table.models].map((s) => [
        s.name,
        String(s.games),
        String(s.rounds),
        `${s.correct} (${pct(s.correct / s.rounds)})`,
        `${pct(s.ci95[0] / 25)} – ${pct(s.ci95[1] / 25)}`,
      ]);
      assert.deepEqual(
        rows.map((r) => r.slice(0, 5)),
        expect,
      );
      assert.equal(
        await page.getByRole('table', { name: 'Correct answers', exact: true }).getAttribute('id'),
        'standings',
        'the table is named by its heading',
      );
      assert.equal(
        await page.locator('#tables > .hint').textContent(),
        'Interval: 95% Wilson score interval on the per-round hit rate (rounds taken as independent trials).',
        'shares, not "times 25"',
      );
      assert.equal(await page.locator('#agreement tbody tr').count(), 2);
      assert.equal(await page.locator('#per-class tbody tr').count(), CITIES.length);
      assert.equal(await page.locator('table[id^="confusion-"]').count(), 3, 'people and the two models');
      await page.screenshot({ path: path.join(shots, `results-${name}.png`), fullPage: true });
    }
  } finally {
    await page.close();
  }
});

test('ten classes without coordinates: key 0 picks the tenth, and no distances or map are shown', async () => {
  const classes = FASHION_MNIST_CLASSES;
  const data = await makeDataset(path.join(root, 'data10'), { classes, train: 1, validation: 1, coordinates: false });
  const model = Predictor.load(await makeCheckpoint(root, { preset: 'resnet18-w8', kind: 'ten', classes }));
  const hall10 = new GameHall(await openDeck(data), [model], {
    defaultRounds: 2,
    resultsFile: path.join(root, 'games10.jsonl'),
  });
  const app10 = await buildServer({ hall: hall10, predictors: [model] });
  await app10.listen({ host: '127.0.0.1', port: 0 });
  const page = await context.newPage();
  await page.setViewportSize(DESKTOP);
  const api = recordApi(page);
  try {
    await page.goto(`http://127.0.0.1:${(app10.server.address() as { port: number }).port}`);
    await page.waitForSelector('body[data-ready="1"]');
    const chips = (await page.locator('#city-list li').allTextContents()).map((t) => t.trim());
    assert.equal(chips[0], '1 T Shirt Top');
    assert.equal(chips[9], '0 Ankle Boot');
    // The page follows the dataset: classes, not cities, where the images have no coordinates.
    // biome-ignore lint/performance/useDomNodeTextContent: the text a person sees; hidden elements must not count
    const words = await page.evaluate(() => document.body.innerText);
    assert.doesNotMatch(words, /\bcit(y|ies)\b/i, words);
    assert.match(words, /Guess the class/);
    await page.keyboard.press('Enter');
    await state(page, 'guessing');
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/rounds/0/guess')),
      page.keyboard.press('0'),
    ]);
    assert.equal((await res.json()).person.label, 9);
    await state(page, 'revealed');
    assert.equal(await page.locator('#guess-rows tr:first-child td').count(), 3, 'no distance or points cells');
    assert.equal(await page.locator('#scoreboard .pts').count(), 0);
    await page.waitForFunction(() => (document.getElementById('model-input') as HTMLImageElement).naturalWidth === 32);
    assert.ok(await page.locator('#map').isHidden(), 'no map and no empty frame');
    assert.equal(await page.locator('svg').count(), 0);
    await page.screenshot({ path: path.join(shots, 'reveal-no-coordinates.png'), fullPage: true });
    await page.keyboard.press('Enter');
    await state(page, 'guessing');
    await page.keyboard.press('1');
    await state(page, 'revealed');
    await page.keyboard.press('Enter');
    await state(page, 'summary');
    assert.ok(await page.locator('#summary-map').isHidden());
    assert.ok(!api.requested.some((u) => u.includes('/vendor/')), 'the map libraries are never loaded');
    // The results page names classes too.
    await hall10.flush();
    await page.goto(`http://127.0.0.1:${(app10.server.address() as { port: number }).port}/results`);
    await page.waitForSelector('#per-class');
    assert.deepEqual(await page.locator('.table-title').allTextContents(), [
      'Correct answers',
      'People against each model, on the same rounds',
      'Correct answers per class',
      'Confusion, people: rows are the true class, columns the guess',
      'Confusion, resnet18-w8: rows are the true class, columns the guess',
    ]);
  } finally {
    await page.close();
    await app10.close();
    model.dispose();
  }
});

test('on a touch screen: no key hints, and the result of a guess is on screen; a favicon, not a 404', async () => {
  // The persistent context has no second context to open with hasTouch; Chromium's own touch emulation instead.
  const page = await context.newPage();
  await page.setViewportSize(PHONE);
  const missing: string[] = [];
  page.on('response', (r) => void (r.status() === 404 && missing.push(r.url())));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 5 });
  try {
    await page.goto(base);
    await page.waitForSelector('body[data-ready="1"]');
    assert.equal(await page.evaluate(() => matchMedia('(hover: none) and (pointer: coarse)').matches), true);
    assert.ok(await page.locator('#start kbd').isHidden(), 'no Enter hint on the Start button');
    assert.ok(await page.locator('.keys-only').isHidden(), 'no "press its number" in the intro');
    assert.match((await page.locator('link[rel="icon"]').getAttribute('href'))!, /^data:image\/svg\+xml,/);
    await page.click('#start');
    await state(page, 'guessing');
    await page.click('.choice[data-label="1"]');
    await state(page, 'revealed');
    await assertResultInView(page);
    assert.ok(await page.locator('#next kbd').isHidden(), 'no Enter hint on Next');
    await page.screenshot({ path: path.join(shots, 'reveal-touch.png') });
    assert.deepEqual(missing, [], 'every request found (the favicon included)');
  } finally {
    await page.close();
  }
});
