// The study's table from the games `geospike play` recorded (one JSON line per finished game): games played, each
// person's and each model's correct answers (share of rounds, and per 25 rounds) with a 95% Wilson interval, points,
// and how people and models fare on each class. One home for the numbers: `geospike games` prints them and the /results
// page shows them.
import { promises as fs } from 'node:fs';
import { z } from 'zod';
import { confusionMatrix } from '../eval/metrics.js';
import { escapeStrings } from './names.js';
import { must } from '../util/must.js';

/** The study's games are 25 rounds; rates are reported per 25 rounds whatever length the games had. */
export const ROUNDS_PER_GAME = 25;
/** Two-sided 95% normal quantile, for the Wilson interval. */
const Z95 = 1.959963984540054;
/** How games without a player name are listed. */
export const NO_NAME = '(no name)';
export const INTERVAL_NOTE = '95% Wilson score interval on the per-round hit rate (rounds taken as independent trials)';

const guess = z.object({
  guess: z.number().int().nonnegative(),
  class: z.string(),
  correct: z.boolean(),
  km: z.number().nullable(),
  points: z.number().nullable(),
});
const recordSchema = z.object({
  game: z.string(),
  seed: z.number(),
  finishedAt: z.string(),
  dataset: z.string(),
  /** Written since the results page exists; older lines lack them. */
  classes: z.array(z.string()).optional(),
  player: z.string().nullable().optional(),
  models: z.array(z.object({ name: z.string(), checkpoint: z.string().nullable() })),
  rounds: z
    .array(
      z.object({
        id: z.string(),
        class: z.string(),
        person: guess,
        models: z.array(guess.extend({ name: z.string(), confidence: z.number() })),
      }),
    )
    .min(1),
});
export type GameRecord = z.infer<typeof recordSchema>;

/** Parses a results file. A final line without its newline (a write cut short) is skipped and counted in `torn`. */
export function parseResults(text: string, file: string): { games: GameRecord[]; torn: number } {
  let torn = 0;
  const lastNewline = text.lastIndexOf('\n');
  if (lastNewline < text.length - 1 && text.slice(lastNewline + 1).trim() !== '') {
    torn = 1;
    text = text.slice(0, lastNewline + 1);
  }
  const games: GameRecord[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(
        `${file}:${i + 1} is not valid JSON; each line must be one game written by geospike play (fix or remove that ` +
          `line)`,
      );
    }
    const parsed = recordSchema.safeParse(value);
    if (!parsed.success) {
      const issue = must(parsed.error.issues[0], 'a failed zod parse has at least one issue');
      throw new Error(
        `${file}:${i + 1}: field '${issue.path.join('.')}' ${issue.message}; each line must be one game written by ` +
          `geospike play`,
      );
    }
    games.push(parsed.data);
  }
  return { games, torn };
}

/** Reads a results file; a missing one is an error that says how to make it. */
export async function readResults(file: string): Promise<{ games: GameRecord[]; torn: number }> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT')
      throw new Error(
        `no results file at ${file}: play a game first (geospike play --results ${file}), or pass --results FILE`,
      );
    throw new Error(`cannot read the results file ${file}: ${e.message}`);
  }
  return parseResults(text, file);
}

/** Wilson score interval for k successes in n trials; [0, 0] when n is 0. */
export function wilson(k: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [0, 0];
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export interface Standing {
  name: string;
  games: number;
  rounds: number;
  correct: number;
  /** Share of rounds answered right (0 to 1), and its 95% interval: what `geospike games` and /results show. */
  share: number;
  share95: [number, number];
  /** The same per 25 rounds, as the study reports it (games of 25 rounds), whatever length the games had. */
  per25: number;
  ci95: [number, number];
  /** Mean GeoGuessr points per 25 rounds; null when no round had coordinates. */
  points25: number | null;
}

/** How a model and the person did on the same rounds. */
export interface Agreement {
  model: string;
  rounds: number;
  both: number;
  personOnly: number;
  modelOnly: number;
  neither: number;
}

export interface ClassRow {
  class: string;
  rounds: number;
  /** Correct answers on this class: people, then each model in `models` order (null where it never met the class). */
  people: number;
  models: (number | null)[];
}

export interface GamesTable {
  games: number;
  rounds: number;
  datasets: string[];
  classes: string[];
  /** Every person's rounds together, then each named player (and NO_NAME), then each model. */
  people: Standing;
  players: Standing[];
  models: Standing[];
  perClass: ClassRow[];
  /** Rows: true class, columns: guessed class, both in `classes` order. */
  confusion: { who: string; matrix: number[][] }[];
  agreement: Agreement[];
  interval: string;
}

interface Tallied {
  class: string;
  guess: string;
  correct: boolean;
  points: number | null;
}

function standing(name: string, games: number, rounds: Tallied[]): Standing {
  const correct = rounds.filter((r) => r.correct).length;
  const n = rounds.length;
  const [lo, hi] = wilson(correct, n);
  const withPoints = rounds.filter((r) => r.points !== null);
  const points = withPoints.reduce((a, r) => a + r.points!, 0);
  return {
    name,
    games,
    rounds: n,
    correct,
    share: n ? correct / n : 0,
    share95: [lo, hi],
    per25: n ? (ROUNDS_PER_GAME * correct) / n : 0,
    ci95: [ROUNDS_PER_GAME * lo, ROUNDS_PER_GAME * hi],
    points25: withPoints.length ? (ROUNDS_PER_GAME * points) / withPoints.length : null,
  };
}

/** Groups `items` by key, keeping first-seen order. */
function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) out.set(key(t), [...(out.get(key(t)) ?? []), t]);
  return out;
}

/** A person's round: what the game was, and the person's answer. */
interface PersonRound {
  game: GameRecord;
  t: Tallied;
}

/** A model's round: its answer, and whether the person beside it was right. */
interface ModelRound extends PersonRound {
  person: boolean;
}

/** Every class the games name, in first-seen order: the games' class lists, then the rounds' answers. */
function classOrder(games: GameRecord[]): string[] {
  const classes: string[] = [];
  const see = (c: string) => void (classes.includes(c) || classes.push(c));
  for (const g of games) (g.classes ?? []).forEach(see);
  for (const g of games)
    for (const r of g.rounds) [r.class, r.person.class, ...r.models.map((m) => m.class)].forEach(see);
  return classes;
}

function personRoundsOf(games: GameRecord[]): PersonRound[] {
  return games.flatMap((g) =>
    g.rounds.map((r) => ({
      game: g,
      t: { class: r.class, guess: r.person.class, correct: r.person.correct, points: r.person.points },
    })),
  );
}

/** Each model's rounds, by name, over every game it played. */
function modelRoundsOf(games: GameRecord[], names: string[]): Map<string, ModelRound[]> {
  const roundsOf = (name: string) =>
    games.flatMap((g) =>
      g.rounds.flatMap((r) => {
        const m = r.models.find((x) => x.name === name);
        if (!m) return [];
        return [
          {
            game: g,
            t: { class: r.class, guess: m.class, correct: m.correct, points: m.points },
            person: r.person.correct,
          },
        ];
      }),
    );
  return new Map(names.map((name) => [name, roundsOf(name)]));
}

const gamesOf = (rows: { game: GameRecord }[]) => new Set(rows.map((r) => r.game.game)).size;

/** How often the person and a model were right together, alone, or neither. */
function agreementOf(model: string, rows: ModelRound[]): Agreement {
  const count = (p: boolean, m: boolean) => rows.filter((r) => r.person === p && r.t.correct === m).length;
  return {
    model,
    rounds: rows.length,
    both: count(true, true),
    personOnly: count(true, false),
    modelOnly: count(false, true),
    neither: count(false, false),
  };
}

export function tabulate(games: GameRecord[]): GamesTable {
  const classes = classOrder(games);
  const personRounds = personRoundsOf(games);
  const modelNames = [...new Set(games.flatMap((g) => g.models.map((m) => m.name)))];
  const modelRounds = modelRoundsOf(games, modelNames);
  const roundsOf = (name: string) => must(modelRounds.get(name), 'modelRoundsOf has every model name');
  const players = [...groupBy(personRounds, (r) => r.game.player ?? NO_NAME)].map(([name, rows]) =>
    standing(
      name,
      gamesOf(rows),
      rows.map((r) => r.t),
    ),
  );
  const index = (c: string) => classes.indexOf(c);
  const confusion = (who: string, rows: Tallied[]) => ({
    who,
    matrix: confusionMatrix(
      rows.map((r) => index(r.class)),
      rows.map((r) => index(r.guess)),
      classes.length,
    ),
  });
  const perClass = (c: string) => {
    const mine = personRounds.filter((r) => r.t.class === c);
    const right = (rows: PersonRound[]) => rows.filter((r) => r.t.correct).length;
    return {
      class: c,
      rounds: mine.length,
      people: right(mine),
      models: modelNames.map((name) => {
        const theirs = roundsOf(name).filter((r) => r.t.class === c);
        return theirs.length ? right(theirs) : null;
      }),
    };
  };
  return {
    games: games.length,
    rounds: personRounds.length,
    datasets: [...new Set(games.map((g) => g.dataset))],
    classes,
    people: standing(
      'people',
      games.length,
      personRounds.map((r) => r.t),
    ),
    players,
    models: modelNames.map((name) =>
      standing(
        name,
        gamesOf(roundsOf(name)),
        roundsOf(name).map((r) => r.t),
      ),
    ),
    perClass: classes.map(perClass),
    confusion: [
      confusion(
        'people',
        personRounds.map((r) => r.t),
      ),
      ...modelNames.map((name) =>
        confusion(
          name,
          roundsOf(name).map((r) => r.t),
        ),
      ),
    ],
    agreement: modelNames.map((name) => agreementOf(name, roundsOf(name))),
    interval: INTERVAL_NOTE,
  };
}

/**
 * The table as GET /api/results sends it to any client: what the results page shows, nothing more. Player names and
 * dataset paths stay in the file (and `geospike games`); every string is escaped (names.ts).
 */
export function publicTable(games: GameRecord[]): Omit<GamesTable, 'datasets'> {
  const { datasets: _paths, ...t } = tabulate(games);
  return escapeStrings({ ...t, players: [] });
}
