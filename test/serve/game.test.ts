import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { openDeck } from '../../src/serve/deck.js';
import { commitmentOf, GameHall, type Contestant } from '../../src/serve/game.js';
import { RefusedRequestError } from '../../src/serve/refused_request.js';
import { distanceKm, geoScore } from '../../src/serve/geo.js';
import type { Prediction } from '../../src/serve/predictor.js';
import { CENTRES, CITIES, makeDataset, tempDir } from './helpers.js';
import { must } from '../../src/util/must.js';

/** A stand-in model: answers with pick(file) and counts how often it was asked. */
class FakeModel implements Contestant {
  calls = 0;
  constructor(
    readonly name: string,
    readonly classes: string[],
    private readonly pick: (file: string) => number,
  ) {}
  async predictSquare(file: string): Promise<Prediction> {
    this.calls++;
    const label = this.pick(file);
    // A made-up distribution, best first: the picked class at 0.75, the rest sharing 0.25.
    const rest = this.classes
      .map((c, l) => ({ class: c, probability: 0.25 / (this.classes.length - 1), l }))
      .filter((x) => x.l !== label);
    const picked = must(this.classes[label], 'pick returns a class index');
    return {
      class: picked,
      label,
      confidence: 0.75,
      probabilities: [{ class: picked, probability: 0.75 }, ...rest.map(({ l: _, ...c }) => c)],
      logits: this.classes.map((_, l) => (l === label ? 1 : 0)),
    };
  }
}

/** The true class of a file in the dataset (its folder name) — only the test knows this, by looking at the disk. */
const classOf = (file: string) => path.basename(path.dirname(file));
const oracle = (classes: string[]) => new FakeModel('oracle', classes, (f) => classes.indexOf(classOf(f)));
const alwaysFirst = (classes: string[]) => new FakeModel('first', classes, () => 0);

async function hall(
  t: Parameters<typeof tempDir>[0],
  opts: { coordinates?: boolean; models?: (c: string[]) => Contestant[]; licence?: string } = {},
) {
  const dir = await makeDataset(tempDir(t), { validation: 3, coordinates: opts.coordinates, licence: opts.licence });
  const deck = await openDeck(dir);
  const results = path.join(tempDir(t), 'games.jsonl');
  const models = (opts.models ?? ((c) => [oracle(c), alwaysFirst(c)]))(deck.classes);
  return {
    h: new GameHall(deck, models, { defaultRounds: 4, resultsFile: results }),
    results,
    models: models as FakeModel[],
    deck,
  };
}

async function dealAll(h: GameHall, game: string): Promise<string[]> {
  const files: string[] = [];
  for (;;) {
    const r = await h.round(game);
    if ('done' in r) return files;
    files.push(h.imageFile(game, r.index));
    h.guess(game, r.index, 0);
  }
}

test('the deck is the validation images with display copies, sorted by id', async (t) => {
  const { deck } = await hall(t);
  assert.equal(deck.cards.length, CITIES.length * 3);
  assert.deepEqual(deck.classes, CITIES);
  assert.ok(
    deck.cards.every(
      (c) => existsSync(c.display) && existsSync(c.square) && c.square.includes(`${path.sep}validation${path.sep}`),
    ),
  );
  assert.deepEqual(
    deck.cards.map((c) => c.id),
    deck.cards.map((c) => c.id).sort(),
  );
  // Centres come from all the class's images (train too): near where the fixture put them.
  assert.ok(distanceKm(deck.centres.get('paris')!, CENTRES.paris) < 5);
});

test('rounds are drawn without repeats, and the same seed draws the same rounds', async (t) => {
  const { h } = await hall(t);
  const all = await dealAll(h, h.start({ rounds: 15, seed: 11 }).game);
  assert.equal(all.length, 15);
  assert.equal(new Set(all).size, 15, 'no image twice in a game');
  const again = await dealAll(h, h.start({ rounds: 15, seed: 11 }).game);
  assert.deepEqual(again, all);
  const other = await dealAll(h, h.start({ rounds: 15, seed: 12 }).game);
  assert.notDeepEqual(other, all);
  assert.deepEqual([...other].sort(), [...all].sort(), 'a full game is a permutation of the deck');
  const random = h.start();
  assert.ok(Number.isInteger(random.seed) && random.seed >= 0, 'a game without a seed gets one and says which');
});

test('a dealt round names neither its class, nor its place, nor its image id', async (t) => {
  const { h, deck } = await hall(t);
  const { game } = h.start({ rounds: 15, seed: 3 });
  for (let i = 0; i < 15; i++) {
    const r = await h.round(game);
    assert.ok(!('done' in r));
    assert.deepEqual(Object.keys(r).sort(), ['commitment', 'game', 'image', 'index', 'total']);
    const text = JSON.stringify(r);
    for (const c of deck.classes) assert.ok(!text.includes(c), `round ${i} mentions ${c}: ${text}`);
    const card = deck.cards.find((c) => c.display === h.imageFile(game, i))!;
    assert.ok(!text.includes(card.id) && !text.includes(String(card.where!.lat)));
    // Before the guess, the summary does not list the round either.
    assert.equal(h.summary(game).rounds.length, i);
    h.guess(game, i, 0);
  }
});

test(
  'models guess when the round is dealt, once, ' + 'and the reveal matches the commitment sent with the round',
  async (t) => {
    const { h, models } = await hall(t);
    const { game } = h.start({ rounds: 2, seed: 5 });
    const [r1, r1again] = await Promise.all([h.round(game), h.round(game)]);
    assert.deepEqual(r1, r1again, 'concurrent requests share one deal');
    assert.deepEqual(
      models.map((m) => m.calls),
      [1, 1],
      'each model guessed once, before any answer',
    );
    assert.ok(!('done' in r1));
    const rev = h.guess(game, r1.index, 2);
    assert.deepEqual(
      models.map((m) => m.calls),
      [1, 1],
      'answering does not ask the models again',
    );
    assert.equal(rev.seal.commitment, r1.commitment);
    assert.equal(commitmentOf(rev.seal.salt, rev.seal.sealed), r1.commitment);
    assert.deepEqual(
      JSON.parse(rev.seal.sealed).map((g: { label: number }) => g.label),
      rev.models.map((m) => m.label),
    );
    assert.notEqual(commitmentOf('0'.repeat(32), rev.seal.sealed), r1.commitment, 'the salt matters');
  },
);

test(
  'scores: correct answers, distances from the guessed city centre, ' + 'points, running totals and the summary',
  async (t) => {
    const { h, deck, results } = await hall(t);
    const { game, rounds } = h.start({ rounds: 4, seed: 9 });
    let expectPerson = 0;
    let expectPersonPoints = 0;
    for (let i = 0; i < rounds; i++) {
      const r = await h.round(game);
      assert.ok(!('done' in r));
      const truth = deck.classes.indexOf(classOf(h.imageFile(game, i)));
      const guess = i % 2 === 0 ? truth : (truth + 1) % deck.classes.length;
      const rev = h.guess(game, i, guess);
      const card = deck.cards.find((c) => c.display === h.imageFile(game, i))!;
      assert.equal(rev.answer.label, truth);
      assert.equal(rev.answer.class, deck.classes[truth]);
      assert.deepEqual([rev.answer.lat, rev.answer.lng], [card.where!.lat, card.where!.lng]);
      assert.equal(rev.person.correct, i % 2 === 0);
      const km = distanceKm(deck.centres.get(must(deck.classes[guess], 'guess is a class index'))!, card.where!);
      assert.ok(Math.abs(rev.person.km! - km) < 1e-9);
      assert.equal(rev.person.points, geoScore(km));
      if (i % 2 === 0)
        assert.ok(rev.person.km! < 10 && rev.person.points! > 4900, 'the right city is a few km from its centre');
      else assert.ok(rev.person.km! > 300, 'another city is hundreds of km away at least');
      expectPerson += i % 2 === 0 ? 1 : 0;
      expectPersonPoints += rev.person.points!;
      assert.equal(rev.score.person.correct, expectPerson);
      assert.equal(rev.score.person.points, expectPersonPoints);
      assert.equal(rev.score.models[0]?.correct, i + 1, 'the oracle is always right');
      // The denominator is the rounds played so far ("1 / 2" after two rounds), not the game's length.
      assert.deepEqual([rev.score.person.rounds, ...rev.score.models.map((m) => m.rounds)], [i + 1, i + 1, i + 1]);
      assert.equal(rev.models[1]?.label, 0);
      assert.equal(rev.done, i === rounds - 1);
    }
    const s = h.summary(game);
    assert.ok(s.finished);
    assert.equal(s.rounds.length, 4);
    assert.deepEqual(s.score.person, { name: 'you', correct: 2, rounds: 4, points: expectPersonPoints });
    assert.equal(s.score.models[1]?.correct, s.rounds.filter((r) => r.answer.label === 0).length);
    assert.deepEqual(await h.round(game), { game, done: true, total: 4 });

    await h.flush();
    const lines = readFileSync(results, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 1, 'one line per finished game');
    assert.equal(lines[0].game, game);
    assert.equal(lines[0].seed, 9);
    assert.deepEqual(lines[0].models, [
      { name: 'oracle', checkpoint: null },
      { name: 'first', checkpoint: null },
    ]);
    assert.deepEqual(lines[0].score, s.score);
    assert.deepEqual(
      lines[0].rounds.map((r: { class: string }) => r.class),
      s.rounds.map((r) => r.answer.class),
    );
    assert.equal(lines[0].rounds[0].person.guess, s.rounds[0]?.person.label);
  },
);

test('an unfinished game writes no result line', async (t) => {
  const { h, results } = await hall(t);
  const { game } = h.start({ rounds: 2, seed: 1 });
  await h.round(game);
  h.guess(game, 0, 1);
  await h.flush();
  assert.equal(existsSync(results), false);
  assert.equal(h.summary(game).finished, false);
});

test('without coordinates there are no distances or points', async (t) => {
  const { h } = await hall(t, { coordinates: false });
  const { game, coordinates } = h.start({ rounds: 1 });
  assert.equal(coordinates, false);
  await h.round(game);
  const rev = h.guess(game, 0, 0);
  assert.equal(rev.person.km, null);
  assert.equal(rev.person.points, null);
  assert.equal(rev.score.person.points, null);
  assert.equal(rev.answer.lat, null);
});

test('bad requests are refused with the right status', async (t) => {
  const { h } = await hall(t);
  const status = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof RefusedRequestError, String(err));
      return err.status;
    }
    assert.fail('expected a RefusedRequestError');
  };
  assert.equal(
    status(() => h.start({ rounds: 0 })),
    400,
  );
  assert.equal(
    status(() => h.start({ rounds: 16 })),
    400,
    'more rounds than images',
  );
  assert.equal(
    status(() => h.start({ rounds: 2.5 })),
    400,
  );
  assert.equal(
    status(() => h.start({ seed: -1 })),
    400,
  );
  assert.equal(
    status(() => h.summary('nope')),
    404,
  );
  await assert.rejects(h.round('nope'), (e: RefusedRequestError) => e.status === 404);
  const { game } = h.start({ rounds: 2 });
  assert.equal(
    status(() => h.guess(game, 0, 0)),
    404,
    'round 0 is not dealt yet',
  );
  assert.equal(
    status(() => h.imageFile(game, 0)),
    404,
    'no image before the round is dealt',
  );
  await h.round(game);
  assert.equal(
    status(() => h.imageFile(game, 1)),
    404,
    'nor for the next round',
  );
  for (const bad of [-1, 5, 1.5, '1', null, undefined])
    assert.equal(
      status(() => h.guess(game, 0, bad)),
      400,
      `guess ${bad}`,
    );
  h.guess(game, 0, 4);
  assert.equal(
    status(() => h.guess(game, 0, 3)),
    409,
    'a second guess',
  );
  assert.equal(h.summary(game).rounds[0]?.person.label, 4, 'the first guess stands');
  assert.equal(
    status(() => h.guess(game, 7, 0)),
    404,
  );
});

test('models trained on other classes, or in another order, are refused', async (t) => {
  const dir = await makeDataset(tempDir(t), { validation: 1 });
  const deck = await openDeck(dir);
  const swapped = [...CITIES].reverse();
  assert.throws(
    () => new GameHall(deck, [alwaysFirst(swapped)], { defaultRounds: 1, resultsFile: null }),
    /names and their order must match/,
  );
  assert.throws(() => new GameHall(deck, [alwaysFirst(CITIES)], { defaultRounds: 6, resultsFile: null }), /at most 5/);
});

test("the model input opens only after the guess, and the reveal carries each model's top classes", async (t) => {
  const { h, deck } = await hall(t);
  const { game } = h.start({ rounds: 2, seed: 2 });
  const r = await h.round(game);
  assert.ok(!('done' in r));
  assert.throws(
    () => h.inputFile(game, 0),
    (e: RefusedRequestError) => e.status === 409 && /not answered yet/.test(e.message),
  );
  const rev = h.guess(game, 0, 1);
  const file = h.inputFile(game, 0);
  const card = deck.cards.find((c) => c.square === file)!;
  assert.equal(card.display, h.imageFile(game, 0), 'the same card as the photo shown');
  assert.equal(rev.input, `/api/games/${game}/rounds/0/input`);
  const [oracle] = rev.models;
  assert.ok(oracle, 'a model guessed');
  assert.deepEqual(
    oracle.top.map((x) => x.class),
    [card.class, ...deck.classes.filter((c) => c !== card.class)].slice(0, 5),
  );
  assert.equal(oracle.top[0]?.probability, 0.75);
  await h.round(game);
  assert.throws(
    () => h.inputFile(game, 1),
    (e: RefusedRequestError) => e.status === 409,
    'the next round stays closed',
  );
});

test('a player name is checked, kept out of every answer, and written to the results line', async (t) => {
  const { h, results } = await hall(t);
  // Full-length games (4 rounds): shorter ones are not written to the results.
  const started = h.start({ seed: 4, name: '  Grace  ' });
  assert.ok(!JSON.stringify(started).includes('Grace'));
  for (let i = 0; i < 4; i++) {
    await h.round(started.game);
    assert.ok(!JSON.stringify(h.guess(started.game, i, 0)).includes('Grace'));
  }
  assert.ok(!JSON.stringify(h.summary(started.game)).includes('Grace'));
  const anon = h.start({ seed: 4, name: '   ' });
  for (let i = 0; i < 4; i++) {
    await h.round(anon.game);
    h.guess(anon.game, i, 0);
  }
  await h.flush();
  const lines = readFileSync(results, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.player),
    ['Grace', null],
    'trimmed; blank means none',
  );
  assert.deepEqual(lines[0].classes, CITIES);
  assert.ok(!('top' in lines[0].rounds[0].models[0]), 'the results file keeps the guess, not the bars');
  for (const [name, msg] of [
    [3, /must be a string/],
    ['x'.repeat(41), /at most 40/],
    ['a\tb', /control characters/],
  ] as const) {
    assert.throws(
      () => h.start({ name }),
      (e: RefusedRequestError) => e.status === 400 && msg.test(e.message),
    );
  }
});

test(
  'the reveal credits the author and licence of a photo whose licence asks for it, ' + 'and nothing otherwise',
  async (t) => {
    for (const [licence, credited] of [
      ['CC-BY-SA-4.0', true],
      ['CC0-1.0', false],
      [undefined, false],
    ] as const) {
      const { h, deck } = await hall(t, { licence });
      const { game } = h.start({ rounds: 3, seed: 2 });
      for (let i = 0; i < 3; i++) {
        const r = await h.round(game);
        assert.ok(!('done' in r));
        assert.ok(!JSON.stringify(r).includes('author_'), 'the credit is not sent before the guess');
        const card = deck.cards.find((c) => c.display === h.imageFile(game, i))!;
        const rev = h.guess(game, i, 0);
        const n = card.id.split('-').pop();
        assert.equal(
          rev.credit,
          credited ? `Photo: author_${card.class}_${n} (test ${card.class}/${n}.jpg), CC-BY-SA-4.0` : null,
          `licence ${licence}`,
        );
      }
    }
  },
);
