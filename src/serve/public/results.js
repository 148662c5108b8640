// The results page: GET /api/results (src/serve/results.ts computes the table; `geospike games` prints the same).
import { city, el } from './ui.js';

const $ = (id) => document.getElementById(id);
const pct = (x) => `${Math.round(100 * x)}%`;

/**
 * A table named by a heading above it (outside the part that scrolls sideways on a narrow screen), with a header row
 * and body rows; a row's first cell is its header. A name starting with two spaces is shown indented (a player).
 */
function table(caption, head, rows, id) {
  const heading = el('h3', { className: 'table-title', id: `${id}-title`, textContent: caption });
  const t = el(
    'table',
    { className: 'results-table', id },
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', textContent: h })))),
    el(
      'tbody',
      {},
      ...rows.map((r) =>
        el(
          'tr',
          {},
          ...r.map((c, i) =>
            i === 0
              ? el('th', { scope: 'row', className: c.startsWith('  ') ? 'sub' : '', textContent: c.trim() })
              : el('td', { className: 'num' }, c),
          ),
        ),
      ),
    ),
  );
  t.setAttribute('aria-labelledby', heading.id);
  return el('section', {}, heading, el('div', { className: 'scroll' }, t));
}

function render({ file, table: t }) {
  if (!t) {
    $('overview').textContent = `No finished games in ${file} yet. Play one, then come back.`;
    return;
  }
  $('overview').textContent = `${t.games} game${t.games === 1 ? '' : 's'}, ${t.rounds} rounds, from ${file}.`;
  const standing = (s, indent = false) => [
    indent ? `  ${s.name}` : s.name,
    String(s.games),
    String(s.rounds),
    // Counts and shares, not a per-25 rate: 4 right of 4 rounds is not "25 correct / 25".
    `${s.correct} (${pct(s.share)})`,
    `${pct(s.share95[0])} – ${pct(s.share95[1])}`,
    s.points25 === null ? '—' : Math.round(s.points25).toLocaleString('en-US'),
  ];
  // Games on a dataset without coordinates (Fashion-MNIST) have no points: its answers are classes, not cities.
  const noun = t.people.points25 === null ? 'class' : 'city';
  const named = t.players.length > 1 || t.players[0]?.name !== '(no name)';
  const models = t.models.map((m) => m.name);
  $('tables').replaceChildren(
    table(
      'Correct answers',
      ['who', 'games', 'rounds', 'correct', '95% interval', 'points / 25 rounds'],
      [
        standing(t.people),
        ...(named ? t.players.map((p) => standing(p, true)) : []),
        ...t.models.map((m) => standing(m)),
      ],
      'standings',
    ),
    el('p', { className: 'hint', textContent: `Interval: ${t.interval}.` }),
    table(
      'People against each model, on the same rounds',
      ['model', 'both right', 'people only', 'model only', 'neither'],
      t.agreement.map((a) => [a.model, String(a.both), String(a.personOnly), String(a.modelOnly), String(a.neither)]),
      'agreement',
    ),
    table(
      `Correct answers per ${noun}`,
      [noun, 'rounds', 'people', ...models],
      t.perClass.map((c) => [
        city(c.class),
        String(c.rounds),
        ...[c.people, ...c.models].map((k) =>
          k === null || c.rounds === 0 ? '—' : `${k} (${Math.round((100 * k) / c.rounds)}%)`,
        ),
      ]),
      'per-class',
    ),
    ...t.confusion.map(({ who, matrix }) =>
      table(
        `Confusion, ${who}: rows are the true ${noun}, columns the guess`,
        ['true \\ guess', ...t.classes.map(city)],
        matrix.map((row, i) => [city(t.classes[i]), ...row.map(String)]),
        `confusion-${who}`,
      ),
    ),
  );
}

try {
  const res = await fetch('/api/results');
  const data = await res.json();
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  render(data);
} catch (err) {
  $('overview').textContent = '';
  $('error').textContent = err.message;
  $('error').hidden = false;
}
document.body.dataset.ready = '1';
