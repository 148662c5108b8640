// The game, apart from HTTP: person against one or two models over rounds dealt without repeats from a seed.
//
// Fairness: a round's model guesses are computed when the round is dealt, before its image is served, and are sealed
// with a commitment (sha256 of a random salt and the guesses) that the round carries; the reveal gives the salt and
// the guesses, so the page can check they did not change after the person answered. Nothing sent for an unanswered
// round names its class, its location or its manifest id (ids can contain a source file name); the model's 32x32 input
// is served only once the round is answered.
//
// The deal's seed never reaches the client before the game is finished, and a client cannot choose one over HTTP: a
// seed it knew would let a second game replay the deal and show the answers (issue #21). Games cost a slot each:
// finished and untouched games give theirs up at once, one client holds at most maxGamesPerClient (its own oldest
// make way), and only games of the operator's full length are written to the results.
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { sameClasses } from '../data/manifest.js';
import { Rng } from '../util/rng.js';
import { hasUnsafeCharacters } from './names.js';
import { RefusedRequestError } from './refused_request.js';
import type { Card, Deck } from './deck.js';
import { distanceKm, geoScore } from './geo.js';
import type { ClassProbability, Prediction } from './predictor.js';
import { must } from '../util/must.js';

/** What the game needs of a model: src/serve/predictor.ts's Predictor, or a stand-in in tests. */
export interface Contestant {
  readonly name: string;
  readonly classes: string[];
  /** Where the model came from, for the results file. */
  readonly checkpoint?: string;
  predictSquare(file: string): Promise<Prediction>;
}

export interface GameOptions {
  /** Rounds when a game does not ask for a number. */
  defaultRounds: number;
  /** Seed of every game that does not bring its own; random per game when absent. */
  seed?: number;
  /** Finished games are appended here, one JSON line each; null keeps no record. */
  resultsFile: string | null;
  /** Games kept in memory; the oldest are forgotten beyond this. */
  maxGames?: number;
  /** Unfinished games one client (address) holds at once; a new one beyond this drops that client's oldest. */
  maxGamesPerClient?: number;
  /** Games shorter than this are played but not written to the results (default: defaultRounds). */
  recordMinRounds?: number;
}

/** Unfinished games one client holds by default: a few tabs' worth. */
export const GAMES_PER_CLIENT = 8;

export interface Guess {
  label: number;
  class: string;
  correct: boolean;
  /** From the guessed class's centre to the true location, when both are known. */
  km: number | null;
  points: number | null;
}

export interface ModelGuess extends Guess {
  name: string;
  confidence: number;
  /** The model's most probable classes, best first (up to TOP_CLASSES), for the reveal's bars. */
  top: ClassProbability[];
}

/** Classes the reveal shows bars for, per model. */
export const TOP_CLASSES = 5;
/** Longest player name kept. */
export const MAX_NAME = 40;

export interface Tally {
  name: string;
  correct: number;
  /** Rounds answered so far: the score reads `correct / rounds`. */
  rounds: number;
  points: number | null;
}

export interface RoundView {
  game: string;
  index: number;
  total: number;
  image: string;
  /** sha256 hex of `${salt}:${sealed}`, where sealed is the JSON of the model guesses revealed after the guess. */
  commitment: string;
}

export interface Reveal {
  game: string;
  index: number;
  total: number;
  image: string;
  /** The 32x32 image the models classified (served only now that the round is answered). */
  input: string;
  answer: { class: string; label: number; lat: number | null; lng: number | null };
  /** The photo's author and licence, where its licence asks for credit; else null. */
  credit: string | null;
  person: Guess;
  models: ModelGuess[];
  seal: { salt: string; sealed: string; commitment: string };
  score: { person: Tally; models: Tally[] };
  done: boolean;
}

export interface Summary {
  game: string;
  /** Only once the game is finished: before, it would let a client replay the deal. */
  seed?: number;
  /** Whether the game is (once finished, will be) written to the results file. */
  recorded: boolean;
  total: number;
  answered: number;
  finished: boolean;
  classes: string[];
  models: string[];
  /** Answered rounds only: an unfinished game's summary reveals nothing about rounds still to play. */
  rounds: Reveal[];
  score: { person: Tally; models: Tally[] };
}

interface Round {
  card: Card;
  models: ModelGuess[];
  salt: string;
  sealed: string;
  commitment: string;
  reveal?: Reveal;
}

interface Game {
  id: string;
  seed: number;
  /** The name the person gave, if any: written to the results file only. */
  player: string | null;
  cards: Card[];
  rounds: Round[];
  /** The deal in progress, so concurrent requests for the next round share it. */
  dealing?: Promise<Round>;
  /** When a request last named this game (ms). */
  lastSeen: number;
  /** Who started it (the client's address), for the per-client limit. */
  client: string;
}

/** A game someone has guessed in is kept this long after its last request, whatever the flood of new games. */
export const PLAYED_GAME_KEPT_MS = 30 * 60 * 1000;

export class GameHall {
  private readonly games = new Map<string, Game>();
  readonly hasCoordinates: boolean;

  constructor(
    readonly deck: Deck,
    readonly contestants: Contestant[],
    readonly opts: GameOptions,
  ) {
    if (contestants.length === 0) throw new Error('the game needs at least one model');
    for (const c of contestants) {
      if (!sameClasses(c.classes, deck.classes)) {
        throw new Error(
          `model ${c.name} was trained on classes ${JSON.stringify(c.classes)} but the dataset ${deck.dir} has ` +
            `${JSON.stringify(deck.classes)}; the names and their order must match`,
        );
      }
    }
    if (new Set(contestants.map((c) => c.name)).size !== contestants.length) throw new Error('model names must differ');
    checkRounds(opts.defaultRounds, deck.cards.length);
    this.hasCoordinates = deck.centres.size > 0 && deck.cards.some((c) => c.where);
  }

  /**
   * A new game for `client` (its address). `seed` is for trusted callers (tests, the operator's --seed): the HTTP API
   * never passes one through, and its answer leaves out `seed`.
   */
  start(
    req: { rounds?: number; seed?: number; name?: unknown } = {},
    client = 'local',
  ): {
    game: string;
    seed: number;
    rounds: number;
    classes: string[];
    models: string[];
    coordinates: boolean;
  } {
    const total = req.rounds ?? this.opts.defaultRounds;
    checkRounds(total, this.deck.cards.length);
    const seed = req.seed ?? this.opts.seed ?? randomInt(2 ** 31);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new RefusedRequestError(400, `seed must be a whole number in [0, 2^32), got ${seed}`);
    const player = playerName(req.name);
    const cards = new Rng(seed).shuffle([...this.deck.cards]).slice(0, total);
    const id = randomUUID();
    this.makeRoom(client);
    this.games.set(id, { id, seed, player, cards, rounds: [], lastSeen: Date.now(), client });
    return {
      game: id,
      seed,
      rounds: total,
      classes: this.deck.classes,
      models: this.contestants.map((c) => c.name),
      coordinates: this.hasCoordinates,
    };
  }

  /** The round to play now: dealt on first request (models guess then), the same one until it is answered. */
  async round(gameId: string): Promise<RoundView | { game: string; done: true; total: number }> {
    const g = this.game(gameId);
    const last = g.rounds.at(-1);
    if (last && !last.reveal) return this.view(g, g.rounds.length - 1);
    const next = g.cards[g.rounds.length];
    if (next === undefined) return { game: g.id, done: true, total: g.cards.length };
    if (!g.dealing) {
      g.dealing = this.deal(next)
        .then((r) => {
          g.rounds.push(r);
          return r;
        })
        .finally(() => {
          g.dealing = undefined;
        });
    }
    await g.dealing;
    return this.view(g, g.rounds.length - 1);
  }

  /** The display image of a dealt round (never one not yet dealt). */
  imageFile(gameId: string, index: number): string {
    return this.dealt(this.game(gameId), index).card.display;
  }

  /** The 32x32 image the models classified: only for an answered round, since it shows the scene too. */
  inputFile(gameId: string, index: number): string {
    const r = this.dealt(this.game(gameId), index);
    if (!r.reveal)
      throw new RefusedRequestError(
        409,
        `round ${index} is not answered yet; the model's input is shown after your guess`,
      );
    return r.card.square;
  }

  guess(gameId: string, index: number, label: unknown): Reveal {
    const g = this.game(gameId);
    const r = this.dealt(g, index);
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label >= this.deck.classes.length) {
      throw new RefusedRequestError(
        400,
        `guess must be a class index from 0 to ${this.deck.classes.length - 1}, got ${JSON.stringify(label)}`,
      );
    }
    if (r.reveal) throw new RefusedRequestError(409, `round ${index} of game ${gameId} was already answered`);
    const person = this.judge(r.card, label);
    const done = g.rounds.length === g.cards.length;
    r.reveal = {
      game: g.id,
      index,
      total: g.cards.length,
      image: roundUrl(g.id, index, 'image'),
      input: roundUrl(g.id, index, 'input'),
      answer: {
        class: r.card.class,
        label: r.card.label,
        lat: r.card.where?.lat ?? null,
        lng: r.card.where?.lng ?? null,
      },
      credit: r.card.credit ?? null,
      person,
      models: r.models,
      seal: { salt: r.salt, sealed: r.sealed, commitment: r.commitment },
      score: { person: { name: 'you', correct: 0, rounds: 0, points: null }, models: [] },
      done,
    };
    r.reveal.score = this.tally(g); // counts this round now that it is answered
    if (done) void this.record(g);
    return r.reveal;
  }

  summary(gameId: string): Summary {
    const g = this.game(gameId);
    const rounds = g.rounds.flatMap((r) => (r.reveal ? [r.reveal] : []));
    const finished = rounds.length === g.cards.length;
    return {
      game: g.id,
      ...(finished ? { seed: g.seed } : {}),
      recorded: this.recorded(g),
      total: g.cards.length,
      answered: rounds.length,
      finished,
      classes: this.deck.classes,
      models: this.contestants.map((c) => c.name),
      rounds,
      score: this.tally(g),
    };
  }

  /** Resolves once every finished game's record is on disk (tests, shutdown). */
  async flush(): Promise<void> {
    await this.writing;
  }

  private writing: Promise<void> = Promise.resolve();

  /** Whether `g` goes to the results file once finished: a results file is kept and the game has the full length. */
  private recorded(g: Game): boolean {
    return this.opts.resultsFile !== null && g.cards.length >= (this.opts.recordMinRounds ?? this.opts.defaultRounds);
  }

  private record(g: Game): Promise<void> {
    const file = this.opts.resultsFile;
    if (!file || !this.recorded(g)) return this.writing;
    const s = this.summary(g.id);
    const line = {
      game: g.id,
      seed: g.seed,
      finishedAt: new Date().toISOString(),
      dataset: this.deck.dir,
      classes: this.deck.classes,
      player: g.player,
      models: this.contestants.map((c) => ({ name: c.name, checkpoint: c.checkpoint ?? null })),
      rounds: g.rounds.map((r) => ({
        id: r.card.id,
        class: r.card.class,
        person: pick(r.reveal!.person),
        models: r.models.map((m) => ({ name: m.name, confidence: m.confidence, ...pick(m) })),
      })),
      score: s.score,
    };
    // One write per line with O_APPEND, queued, so concurrent games never interleave within a line.
    this.writing = this.writing
      .then(() => fs.appendFile(file, `${JSON.stringify(line)}\n`))
      .catch((err) => {
        process.stderr.write(
          `geospike play: could not append the game's result to ${file}: ${(err as Error).message}\n`,
        );
      });
    return this.writing;
  }

  private async deal(card: Card): Promise<Round> {
    const models: ModelGuess[] = [];
    for (const c of this.contestants) {
      const p = await c.predictSquare(card.square);
      models.push({
        name: c.name,
        confidence: p.confidence,
        ...this.judge(card, p.label),
        top: p.probabilities.slice(0, TOP_CLASSES),
      });
    }
    const salt = randomBytes(16).toString('hex');
    const sealed = JSON.stringify(models.map((m) => ({ name: m.name, label: m.label, confidence: m.confidence })));
    return { card, models, salt, sealed, commitment: commitmentOf(salt, sealed) };
  }

  private judge(card: Card, label: number): Guess {
    // Labels are class indices: a person's guess is checked on input, and every model shares the deck's classes.
    const cls = must(this.deck.classes[label], `label ${label} is a class index`);
    const centre = this.deck.centres.get(cls);
    const km = centre && card.where ? distanceKm(centre, card.where) : null;
    return { label, class: cls, correct: label === card.label, km, points: km === null ? null : geoScore(km) };
  }

  private tally(g: Game): { person: Tally; models: Tally[] } {
    const answered = g.rounds.filter((r) => r.reveal);
    const sum = (name: string, guesses: Guess[]): Tally => ({
      name,
      correct: guesses.filter((x) => x.correct).length,
      rounds: guesses.length,
      points: this.hasCoordinates ? guesses.reduce((a, x) => a + (x.points ?? 0), 0) : null,
    });
    return {
      person: sum(
        'you',
        answered.map((r) => r.reveal!.person),
      ),
      models: this.contestants.map((c, i) =>
        sum(
          c.name,
          answered.map((r) => must(r.models[i], 'a round holds one guess per contestant')),
        ),
      ),
    };
  }

  private view(g: Game, index: number): RoundView {
    return {
      game: g.id,
      index,
      total: g.cards.length,
      image: roundUrl(g.id, index, 'image'),
      commitment: this.dealt(g, index).commitment,
    };
  }

  private game(id: string): Game {
    const g = this.games.get(id);
    if (!g) throw new RefusedRequestError(404, `unknown game '${id}'; start one with POST /api/games`);
    g.lastSeen = Date.now();
    return g;
  }

  /**
   * Frees a place for `client`'s new game. Past maxGamesPerClient unfinished games of its own, the client's least
   * recently seen one goes (an abandoned tab). When maxGames are held, the least recently seen finished game, game
   * nobody has guessed in, or played game idle for PLAYED_GAME_KEPT_MS goes. A flood of new games thus evicts only its
   * own kind, never another's game being played; when every game is in play, new ones get 503.
   */
  private makeRoom(client: string): void {
    const oldest = (keep: (g: Game) => boolean) => {
      let victim: Game | undefined;
      for (const g of this.games.values()) if (keep(g) && (!victim || g.lastSeen < victim.lastSeen)) victim = g;
      return victim;
    };
    const finished = (g: Game) => g.rounds.length === g.cards.length && g.rounds.every((r) => r.reveal);
    const mine = [...this.games.values()].filter((g) => g.client === client && !finished(g));
    if (mine.length >= (this.opts.maxGamesPerClient ?? GAMES_PER_CLIENT))
      this.games.delete(oldest((g) => g.client === client && !finished(g))!.id);
    if (this.games.size < (this.opts.maxGames ?? 1000)) return;
    const victim = oldest(
      (g) => finished(g) || !g.rounds.some((r) => r.reveal) || Date.now() - g.lastSeen > PLAYED_GAME_KEPT_MS,
    );
    if (!victim) throw new RefusedRequestError(503, 'every game slot holds a game in play; try again in a few minutes');
    this.games.delete(victim.id);
  }

  private dealt(g: Game, index: number): Round {
    if (!Number.isInteger(index) || index < 0 || index >= g.rounds.length) {
      throw new RefusedRequestError(
        404,
        `game ${g.id} has no round ${index} yet (rounds dealt: ${g.rounds.length} of ${g.cards.length})`,
      );
    }
    return must(g.rounds[index], 'index checked above');
  }
}

export function commitmentOf(salt: string, sealed: string): string {
  return createHash('sha256').update(`${salt}:${sealed}`).digest('hex');
}

function roundUrl(game: string, index: number, what: 'image' | 'input'): string {
  return `/api/games/${game}/rounds/${index}/${what}`;
}

function pick(g: Guess): Omit<Guess, 'label'> & { guess: number } {
  return { guess: g.label, class: g.class, correct: g.correct, km: g.km, points: g.points };
}

/** A player's name: optional, trimmed, printable, at most MAX_NAME characters; blank means none. */
export function playerName(name: unknown): string | null {
  if (name === undefined || name === null) return null;
  if (typeof name !== 'string')
    throw new RefusedRequestError(400, `name must be a string, got ${JSON.stringify(name)}`);
  const trimmed = name.trim();
  if (trimmed.length > MAX_NAME)
    throw new RefusedRequestError(400, `name must be at most ${MAX_NAME} characters, got ${trimmed.length}`);
  if (hasUnsafeCharacters(trimmed))
    throw new RefusedRequestError(
      400,
      'name must not contain control characters (tabs, new lines, terminal escapes or bidi controls); type it plainly',
    );
  return trimmed || null;
}

function checkRounds(n: number, available: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw new RefusedRequestError(400, `rounds must be a whole number of at least 1, got ${n}`);
  if (n > available)
    throw new RefusedRequestError(
      400,
      `rounds must be at most ${available}, the validation images with a display copy`,
    );
}
