// `geospike games [--results FILE] [--json]`: the study's
// person-vs-model table from the games `geospike play` recorded.
import { defineCommand } from 'citty';
import { jsonArg } from './args.js';
import { escapeStrings, safeJson } from '../serve/names.js';
import { NO_NAME, readResults, tabulate, type GamesTable, type Standing } from '../serve/results.js';
import { must } from '../util/must.js';

const pct = (k: number, n: number) => (n ? `${Math.round((100 * k) / n)}%` : '—');

export function formatGames(table: GamesTable): string {
  // Names come from players and from a file anyone may edit: control and bidi characters are printed as escapes.
  const t = escapeStrings(table);
  const w = Math.max(
    12,
    ...[...t.players, ...t.models].map((s) => s.name.length + 2),
    ...t.classes.map((c) => c.length),
  );
  // Right answers as a count and a share of the rounds played (as the /results page): "4 (67%)", never "16.7 / 25".
  const row = (s: Standing, indent = '') =>
    `${(indent + s.name).padEnd(w)}  ${String(s.games).padStart(5)}  ${String(s.rounds).padStart(6)}  ` +
    `${`${s.correct} (${pct(s.correct, s.rounds)})`.padStart(10)}  ` +
    `${`${pct(s.share95[0], 1)}–${pct(s.share95[1], 1)}`.padEnd(12)}  ` +
    `${s.points25 === null ? '—'.padStart(16) : Math.round(s.points25).toLocaleString('en-US').padStart(16)}`;
  const lines = [
    `${t.games} game${t.games === 1 ? '' : 's'}, ${t.rounds} rounds (${t.datasets.join(', ')})`,
    '',
    `${'who'.padEnd(w)}  games  rounds     correct  95% interval  points/25 rounds`,
    row(t.people),
    ...(t.players.length > 1 || t.players[0]?.name !== NO_NAME ? t.players.map((p) => row(p, '  ')) : []),
    ...t.models.map((m) => row(m)),
    `interval: ${t.interval}`,
    '',
    'people against each model, on the same rounds',
    `${'model'.padEnd(w)}  both right  people only  model only  neither`,
    ...t.agreement.map(
      (a) =>
        `${a.model.padEnd(w)}  ${String(a.both).padStart(10)}  ${String(a.personOnly).padStart(11)} ` +
        ` ${String(a.modelOnly).padStart(10)}  ${String(a.neither).padStart(7)}`,
    ),
    '',
    "per class: correct answers (share of the class's rounds)",
    [
      `${'class'.padEnd(w)}  rounds`,
      ...['people', ...t.models.map((m) => m.name)].map((h) => h.padStart(Math.max(12, h.length))),
    ].join('  '),
    ...t.perClass.map((c) =>
      [
        `${c.class.padEnd(w)}  ${String(c.rounds).padStart(6)}`,
        ...[c.people, ...c.models].map((k, i) =>
          (k === null || c.rounds === 0 ? '—' : `${k} (${pct(k, c.rounds)})`).padStart(
            Math.max(12, must(['people', ...t.models.map((m) => m.name)][i], 'a column per answerer').length),
          ),
        ),
      ].join('  '),
    ),
    '',
    'confusion (rows: true class, columns: guessed, in the order above)',
  ];
  const cell = Math.max(6, ...t.classes.map((c) => Math.min(c.length, 10) + 1));
  const head = `  ${''.padEnd(w)} ${t.classes.map((c) => c.slice(0, 10).padStart(cell)).join('')}`;
  for (const { who, matrix } of t.confusion) {
    lines.push(
      `  ${who}`,
      head,
      ...matrix.map(
        (r, i) =>
          `  ${must(t.classes[i], 'a row per class').padEnd(w)} ${r.map((v) => String(v).padStart(cell)).join('')}`,
      ),
    );
  }
  return lines.join('\n');
}

export default defineCommand({
  meta: { name: 'games', description: 'The person-vs-model table from the games `geospike play` recorded' },
  args: {
    results: {
      type: 'string',
      default: 'geospike-games.jsonl',
      description: 'Results file written by `geospike play --results`',
    },
    json: jsonArg(),
  },
  async run({ args }) {
    const { games, torn } = await readResults(args.results);
    if (torn)
      console.error(`geospike games: ${args.results} ends with a partial line (a write cut short); it is left out`);
    if (games.length === 0) throw new Error(`${args.results} holds no finished games yet; play one with geospike play`);
    const table = tabulate(games);
    console.log(args.json ? safeJson(table, 1) : formatGames(table));
  },
});
