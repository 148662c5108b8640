// The study's table from recorded games, against numbers worked out by hand for a small results file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseResults, readResults, type Standing, tabulate, wilson } from '../../src/serve/results.js';
import { tempDir } from './helpers.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A guess as the results file writes it. */
const g = (cls: string, truth: string, points: number | null) => ({
  guess: ['seoul', 'tokyo', 'paris'].indexOf(cls),
  class: cls,
  correct: cls === truth,
  km: points === null ? null : 1,
  points,
});
const round = (truth: string, person: [string, number | null], models: [string, string, number | null][]) => ({
  id: `${truth}-x`,
  class: truth,
  person: g(person[0], truth, person[1]),
  models: models.map(([name, cls, pts]) => ({ name, confidence: 0.5, ...g(cls, truth, pts) })),
});
const game = (
  id: string,
  player: string | null,
  rounds: ReturnType<typeof round>[],
  extra: Record<string, unknown> = {},
) => ({
  game: id,
  seed: 1,
  finishedAt: '2026-01-01T00:00:00.000Z',
  dataset: 'data/cities',
  player,
  models: [...new Set(rounds.flatMap((r) => r.models.map((m) => m.name)))].map((name) => ({ name, checkpoint: null })),
  rounds,
  score: {},
  ...extra,
});

/**
 * Three games. Ann plays g1 (with coordinates; its line lists a third class, paris, never dealt) and g3 (no
 * coordinates, an older line without `classes`); g2 has no name and a second model, M2, that always says tokyo.
 */
const GAMES = [
  game(
    'g1',
    'Ann',
    [round('seoul', ['seoul', 5000], [['M1', 'seoul', 4000]]), round('tokyo', ['seoul', 100], [['M1', 'tokyo', 4900]])],
    { classes: ['seoul', 'tokyo', 'paris'] },
  ),
  game(
    'g2',
    null,
    [
      round(
        'tokyo',
        ['tokyo', 4800],
        [
          ['M1', 'seoul', 50],
          ['M2', 'tokyo', 4800],
        ],
      ),
      round(
        'seoul',
        ['tokyo', 60],
        [
          ['M1', 'seoul', 4950],
          ['M2', 'tokyo', 60],
        ],
      ),
      round(
        'seoul',
        ['seoul', 4990],
        [
          ['M1', 'tokyo', 70],
          ['M2', 'tokyo', 55],
        ],
      ),
    ],
    { classes: ['seoul', 'tokyo', 'paris'] },
  ),
  game('g3', 'Ann', [round('tokyo', ['tokyo', null], [['M1', 'tokyo', null]])]),
];
const TEXT = `${GAMES.map((x) => JSON.stringify(x)).join('\n')}\n`;
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} != ${b}`);

test('Wilson intervals match worked values', () => {
  // 0 of 10: [0, 0.2775] is the textbook example; 4 of 6 and 2 of 2 worked out with z = 1.959964.
  const [lo0, hi0] = wilson(0, 10);
  close(lo0, 0, '0/10 low');
  close(hi0, 0.27753279986, '0/10 high');
  const [lo, hi] = wilson(4, 6);
  close(lo, 7.49983287846 / 25, '4/6 low');
  close(hi, 22.5807147224 / 25, '4/6 high');
  close(wilson(2, 2)[1], 1, '2/2 high');
  assert.deepEqual(wilson(0, 0), [0, 0]);
});

test('the table: games, per-25 rates with intervals, points, per-class counts, confusion and agreement', () => {
  const { games, torn } = parseResults(TEXT, 'games.jsonl');
  assert.equal(torn, 0);
  const t = tabulate(games);
  assert.equal(t.games, 3);
  assert.equal(t.rounds, 6);
  assert.deepEqual(t.datasets, ['data/cities']);
  assert.deepEqual(t.classes, ['seoul', 'tokyo', 'paris']);
  // People: 4 of 6 right -> 25 * 4/6 = 16.667 per 25, Wilson [7.500, 22.581]; points over the 5 rounds that have
  // them: (5000 + 100 + 4800 + 60 + 4990) / 5 * 25 = 74750.
  const s = (
    x: Standing | undefined,
    want: [string, number, number, number, number, number, number, number | null],
  ) => {
    assert.ok(x, `a standing for ${want[0]}`);
    assert.deepEqual([x.name, x.games, x.rounds, x.correct], want.slice(0, 4));
    close(x.per25, want[4], `${x.name} per 25`);
    close(x.ci95[0], want[5], `${x.name} low`);
    close(x.ci95[1], want[6], `${x.name} high`);
    // The shares are the same numbers per round (what the CLI and the page show).
    close(x.share, want[4] / 25, `${x.name} share`);
    close(x.share95[0], want[5] / 25, `${x.name} share low`);
    close(x.share95[1], want[6] / 25, `${x.name} share high`);
    if (want[7] === null) assert.equal(x.points25, null);
    else close(x.points25!, want[7], `${x.name} points`);
  };
  s(t.people, ['people', 3, 6, 4, (25 * 4) / 6, 7.49983287846, 22.5807147224, 74750]);
  // Ann: g1 and g3, 2 of 3 right; points only from g1: (5000 + 100) / 2 * 25 = 63750. No name: g2, 2 of 3.
  assert.deepEqual(
    t.players.map((p) => p.name),
    ['Ann', '(no name)'],
  );
  s(t.players[0], ['Ann', 2, 3, 2, (25 * 2) / 3, 5.19149002005, 23.462701382, 63750]);
  s(t.players[1], ['(no name)', 1, 3, 2, (25 * 2) / 3, 5.19149002005, 23.462701382, ((4800 + 60 + 4990) / 3) * 25]);
  // M1 plays every round: 4 of 6; points (4000 + 4900 + 50 + 4950 + 70) / 5 * 25 = 69850. M2 only g2: 1 of 3.
  s(t.models[0], ['M1', 3, 6, 4, (25 * 4) / 6, 7.49983287846, 22.5807147224, 69850]);
  s(t.models[1], ['M2', 1, 3, 1, 25 / 3, 1.53729861801, 19.8085099799, ((4800 + 60 + 55) / 3) * 25]);
  // Per class: seoul is g1r1, g2r2, g2r3 (people right on 2, M1 on 2, M2 on 0 of its 2); tokyo g1r2, g2r1, g3r1.
  assert.deepEqual(t.perClass, [
    { class: 'seoul', rounds: 3, people: 2, models: [2, 0] },
    { class: 'tokyo', rounds: 3, people: 2, models: [2, 1] },
    { class: 'paris', rounds: 0, people: 0, models: [null, null] },
  ]);
  assert.deepEqual(t.confusion, [
    {
      who: 'people',
      matrix: [
        [2, 1, 0],
        [1, 2, 0],
        [0, 0, 0],
      ],
    },
    {
      who: 'M1',
      matrix: [
        [2, 1, 0],
        [1, 2, 0],
        [0, 0, 0],
      ],
    },
    {
      who: 'M2',
      matrix: [
        [0, 2, 0],
        [0, 1, 0],
        [0, 0, 0],
      ],
    },
  ]);
  // (person, M1) per round: TT, FT, TF, FT, TF, TT. (person, M2) on g2: TT, FF, TF.
  assert.deepEqual(t.agreement, [
    { model: 'M1', rounds: 6, both: 2, personOnly: 2, modelOnly: 2, neither: 0 },
    { model: 'M2', rounds: 3, both: 1, personOnly: 1, modelOnly: 0, neither: 1 },
  ]);
});

test('bad results files get errors that name the line; a torn last line is left out', async (t) => {
  const dir = tempDir(t);
  assert.throws(() => parseResults(`${TEXT}{"game": "x"\n`, 'r.jsonl'), /r\.jsonl:4 is not valid JSON/);
  assert.throws(
    () => parseResults(`${JSON.stringify({ ...GAMES[0], rounds: [] })}\n`, 'r.jsonl'),
    /r\.jsonl:1: field 'rounds'/,
  );
  assert.throws(() => parseResults('{"game": 3}\n', 'r.jsonl'), /r\.jsonl:1: field 'game'/);
  const { games, torn } = parseResults(`${TEXT}{"game": "cut sh`, 'r.jsonl');
  assert.equal(games.length, 3);
  assert.equal(torn, 1);
  await assert.rejects(
    readResults(path.join(dir, 'none.jsonl')),
    /no results file at .*none\.jsonl: play a game first/,
  );
});

test('geospike games prints the table, and --json the same numbers', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'games.jsonl');
  writeFileSync(file, TEXT);
  const run = (...args: string[]) => promisify(execFile)(process.execPath, [CLI, 'games', '--results', file, ...args]);
  const json = JSON.parse((await run('--json')).stdout);
  assert.deepEqual(json, JSON.parse(JSON.stringify(tabulate(GAMES as never))));
  const { stdout } = await run();
  const lines = stdout.split('\n');
  assert.equal(lines[0], '3 games, 6 rounds (data/cities)');
  const row = (name: string) =>
    lines
      .find((l) => l.trimStart().startsWith(`${name} `))!
      .trim()
      .split(/\s{2,}/);
  // Right answers over the rounds played, as a count and a share (the interval too): 4 of 6 reads "4 (67%)", not a
  // per-25 rate ("16.7"), which after one short game read "25.0 correct / 25".
  assert.match(lines[2] ?? '', /^who\s+games\s+rounds\s+correct\s+95% interval\s+points\/25 rounds$/);
  assert.deepEqual(row('people'), ['people', '3', '6', '4 (67%)', '30%–90%', '74,750']);
  assert.deepEqual(row('Ann'), ['Ann', '2', '3', '2 (67%)', '21%–94%', '63,750']);
  assert.deepEqual(row('M1'), ['M1', '3', '6', '4 (67%)', '30%–90%', '69,850']);
  assert.deepEqual(row('M2'), ['M2', '1', '3', '1 (33%)', '6%–79%', '40,958']);
  assert.match(
    stdout,
    /interval: 95% Wilson score interval on the per-round hit rate \(rounds taken as independent trials\)$/m,
  );
  // An empty or missing file is a clear error.
  writeFileSync(file, '');
  await assert.rejects(
    run(),
    (e: { code: number; stderr: string }) => e.code === 1 && /holds no finished games yet/.test(e.stderr),
  );
  await assert.rejects(
    promisify(execFile)(process.execPath, [CLI, 'games', '--results', path.join(dir, 'missing.jsonl')]),
    (e: { stderr: string }) => /no results file at/.test(e.stderr),
  );
});
