// The game page: talks to the API in src/serve/server.ts. body[data-state] says where the game stands
// (intro, guessing, revealed, summary), for people's CSS and for the browser tests.
import { showEvidence } from './explain.js';
import { drawMap } from './map.js';
import { city, el } from './ui.js';

const $ = (id) => document.getElementById(id);
const state = { info: null, game: null, classes: [], round: null, busy: false };

async function api(method, url, body) {
  // The static export (src/static/page.js) answers these calls in the page itself.
  if (globalThis.geospikeApi) return globalThis.geospikeApi(method, url, body);
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

function setState(s) {
  document.body.dataset.state = s;
  $('intro').hidden = s !== 'intro';
  $('play').hidden = s !== 'guessing' && s !== 'revealed';
  $('reveal').hidden = s !== 'revealed';
  $('summary').hidden = s !== 'summary';
  // Nothing of a revealed round stays on the page while the next one is guessed.
  if (s !== 'revealed') {
    $('seen').hidden = true;
    $('model-input').removeAttribute('src');
    $('map').replaceChildren();
    $('map').hidden = true;
  }
}

function showError(err) {
  $('error').textContent = err.message;
  $('error').hidden = false;
  setState('intro');
}

// Keys 1-9 pick the first nine classes and 0 the tenth; more classes than that are picked with the mouse.
const keyOf = (label) => (label < 9 ? String(label + 1) : label === 9 ? '0' : '');
const km = (x) => (x === null ? '—' : `${Math.round(x).toLocaleString('en-US')} km`);
const pts = (x) => (x === null ? '—' : x.toLocaleString('en-US'));

// Right answers over rounds played ("3 / 4"): a count with its denominator, never a rate scaled to a game length.
function scoreBox(tally, cls = '') {
  const box = el(
    'div',
    { className: `score ${cls}` },
    el('span', { className: 'who', textContent: tally.name }),
    el('span', { className: 'n', textContent: String(tally.correct) }),
    ...(tally.rounds ? [el('span', { className: 'of', textContent: ` / ${tally.rounds}` })] : []),
    ...(tally.points === null ? [] : [el('span', { className: 'pts', textContent: `${pts(tally.points)} pts` })]),
  );
  box.title = `${tally.correct} right of ${tally.rounds} round${tally.rounds === 1 ? '' : 's'}`;
  return box;
}

function renderScore(score) {
  const board = $('scoreboard');
  board.replaceChildren(scoreBox(score.person, 'you'), ...score.models.map((m) => scoreBox(m)));
  board.hidden = false;
}

// The question follows the dataset: street photos with locations are cities; anything else (Fashion-MNIST, a folder
// import) is asked about as classes.
function askAbout(cities) {
  if (cities) return;
  document.querySelector('.tagline').textContent = 'Which class is this? You against a spiking neural network.';
  document.querySelector('#intro h2').textContent = 'Guess the class';
  for (const [sel, text] of [
    ['.noun', 'class'],
    ['.noun-pl', 'classes'],
    ['.photo-kind', 'photo'],
  ])
    for (const e of document.querySelectorAll(sel)) e.textContent = text;
  for (const e of document.querySelectorAll('.geo-only')) e.hidden = true;
  document.title = 'geospike · guess the class';
  $('photo').alt = 'photo for this round';
}

async function init() {
  setState('intro');
  try {
    state.info = await api('GET', '/api/info');
  } catch (err) {
    return showError(err);
  }
  const { classes, models, rounds, images, coordinates } = state.info;
  askAbout(coordinates);
  $('city-list').replaceChildren(
    ...classes.map((c, i) => el('li', {}, ...(keyOf(i) ? [el('kbd', { textContent: keyOf(i) })] : []), ` ${city(c)}`)),
  );
  $('vs').textContent = models.length === 1 ? `The model (${models[0]})` : `Each model (${models.join(', ')})`;
  $('rounds').value = String(rounds);
  $('rounds').max = String(images);
  document.body.dataset.ready = '1';
}

async function start(event) {
  event?.preventDefault();
  if (state.busy) return;
  state.busy = true;
  $('error').hidden = true;
  try {
    const name = $('player').value.trim() || undefined;
    // No seed: the server keeps each game's deal to itself (docs/security.md).
    const g = await api('POST', '/api/games', { rounds: Number($('rounds').value), name });
    state.game = g;
    state.classes = g.classes;
    $('choices').replaceChildren(
      ...g.classes.map((c, i) => {
        const b = el(
          'button',
          { className: 'choice', type: 'button' },
          city(c),
          ...(keyOf(i) ? [el('kbd', { textContent: keyOf(i), ariaHidden: 'true' })] : []),
        );
        b.setAttribute('aria-label', `Guess ${city(c)}${keyOf(i) ? ` (key ${keyOf(i)})` : ''}`);
        b.dataset.label = String(i);
        b.addEventListener('click', () => guess(i));
        return b;
      }),
    );
    renderScore({
      person: { name: 'you', correct: 0, rounds: 0, points: g.coordinates ? 0 : null },
      models: g.models.map((name) => ({ name, correct: 0, rounds: 0, points: g.coordinates ? 0 : null })),
    });
    await nextRound();
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
  }
}

async function nextRound() {
  const r = await api('GET', `/api/games/${state.game.game}/round`);
  if (r.done) return showSummary();
  state.round = r;
  $('round-label').textContent = `Round ${r.index + 1} / ${r.total}`;
  $('progress-bar').style.width = `${(100 * r.index) / r.total}%`;
  $('photo').src = r.image;
  for (const b of $('choices').children) {
    b.disabled = false;
    b.classList.remove('answer', 'picked', 'wrong');
  }
  setState('guessing');
}

async function advance() {
  if (state.busy) return;
  state.busy = true;
  try {
    await nextRound();
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
  }
}

async function guess(label) {
  if (state.busy || document.body.dataset.state !== 'guessing') return;
  state.busy = true;
  try {
    const r = state.round;
    const rev = await api('POST', `/api/games/${r.game}/rounds/${r.index}/guess`, { guess: label });
    showReveal(rev);
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
  }
}

function showReveal(rev) {
  for (const b of $('choices').children) {
    const l = Number(b.dataset.label);
    b.disabled = true;
    if (l === rev.answer.label) b.classList.add('answer');
    if (l === rev.person.label) b.classList.add('picked', ...(rev.person.correct ? [] : ['wrong']));
  }
  $('verdict').replaceChildren(
    rev.person.correct ? 'Right! ' : 'Not quite. ',
    'It was ',
    el('strong', { textContent: city(rev.answer.class) }),
    '.',
  );
  // A photo under CC BY(-SA) names its author and licence with the answer (the licence asks for it).
  const credit = $('credit');
  if (credit) {
    credit.textContent = rev.credit ?? '';
    credit.hidden = !rev.credit;
  }
  const geo = rev.answer.lat !== null;
  $('km-head').hidden = !geo;
  $('pts-head').hidden = !geo;
  const row = (who, g, extra = '') =>
    el(
      'tr',
      {},
      el('td', { textContent: who }),
      el('td', { className: 'city', textContent: city(g.class) }),
      el('td', { className: g.correct ? 'ok' : 'no', textContent: (g.correct ? '✓' : '✗') + extra }),
      ...(geo
        ? [
            el('td', { className: 'num', textContent: km(g.km) }),
            el('td', { className: 'num', textContent: pts(g.points) }),
          ]
        : []),
    );
  $('guess-rows').replaceChildren(
    row('You', rev.person),
    ...rev.models.map((m) => row(m.name, m, ` ${(m.confidence * 100).toFixed(0)}% sure`)),
  );
  renderScore(rev.score);
  $('model-input').src = rev.input;
  showEvidence(rev);
  $('bars').replaceChildren(...rev.models.map((m, k) => bars(m, k)));
  $('seen').hidden = false;
  $('progress-bar').style.width = `${(100 * (rev.index + 1)) / rev.total}%`;
  $('next').textContent = rev.done ? 'See the summary' : 'Next round';
  $('next').append(el('kbd', { textContent: 'Enter' }));
  setState('revealed');
  $('next').focus({ preventScroll: true }); // keyboard users land on it; the page does not jump past the reveal
  // The verdict and Next sit just under the choices; bring them into view (a phone shows them below the fold).
  $('verdict-row').scrollIntoView({ block: 'nearest' });
  void checkSeal(rev);
  if (geo) void roundMap(rev).catch((err) => console.error(err));
}

/** One model's top classes as bars, most probable first. */
function bars(m, k) {
  const list = el('ul', { className: `bars model${k}` });
  list.setAttribute('aria-label', `${m.name}: most probable ${state.info.coordinates ? 'cities' : 'classes'}`);
  list.append(
    ...m.top.map((t) => {
      const p = `${(t.probability * 100).toFixed(0)}%`;
      const li = el(
        'li',
        { className: t.class === m.class ? 'top' : '' },
        el('span', { className: 'bar-name', textContent: city(t.class) }),
        el(
          'span',
          { className: 'bar-track' },
          el('span', { className: 'bar-fill', style: `width: ${(t.probability * 100).toFixed(1)}%` }),
        ),
        el('span', { className: 'bar-p', textContent: p }),
      );
      li.setAttribute('aria-label', `${city(t.class)} ${p}`);
      return li;
    }),
  );
  return el('div', { className: 'model-bars' }, el('h3', { textContent: m.name }), list);
}

/** The true location, each guessed city's centre (yours and the models'), and lines with their distances. */
async function roundMap(rev) {
  const centres = state.info.centres;
  const truth = { lat: rev.answer.lat, lng: rev.answer.lng };
  const guesses = [
    { who: 'you', kind: 'you', g: rev.person },
    ...rev.models.map((m, k) => ({ who: m.name, kind: `model${k}`, g: m })),
  ].filter((x) => centres[x.g.label]);
  // Whoever guessed right is named on the true location's label; the other guessed cities get their own.
  const right = guesses.filter((x) => x.g.correct).map((x) => x.who);
  const pins = [
    {
      ...truth,
      kind: 'truth',
      who: 'answer',
      label: `${city(rev.answer.class)} (here)${right.length ? ` ✓ ${right.join(', ')}` : ''}`,
    },
  ];
  const lines = [];
  const labelled = new Set([rev.answer.label]);
  for (const { who, kind, g } of guesses) {
    const same = guesses.filter((x) => x.g.label === g.label).map((x) => x.who);
    pins.push({
      ...centres[g.label],
      kind,
      who,
      label: labelled.has(g.label) ? '' : `${city(g.class)}: ${same.join(', ')}`,
    });
    labelled.add(g.label);
    // One line from each guessed city's centre (the first guesser's colour), the right city's included.
    if (same[0] === who) lines.push({ from: centres[g.label], to: truth, kind, label: km(g.km) });
  }
  const said = guesses
    .map(({ who, g }) => `${who === 'you' ? 'your' : `${who}'s`} guess ${city(g.class)}, ${km(g.km)} away`)
    .join('; ');
  // The page may have moved on (Enter pressed fast) while the map data loaded.
  const stale = () =>
    state.round?.index !== rev.index || state.round?.game !== rev.game || document.body.dataset.state !== 'revealed';
  const legend = [
    { kind: 'truth', text: 'where the photo was taken' },
    ...guesses
      .filter((x, i) => guesses.findIndex((y) => y.kind === x.kind) === i)
      .map(({ who, kind }) => ({ kind, text: `${who === 'you' ? 'your' : `${who}'s`} guess (the city's centre)` })),
  ];
  await drawMap($('map'), {
    pins,
    lines,
    legend,
    label: `Map: the photo was taken in ${city(rev.answer.class)}; ${said}`,
    stale,
  });
}

// The whole seal, not a subset: as many guesses as models shown, and each one's name, label and confidence as shown,
// its class the one its label names.
function sealMatches(sealed, models) {
  let guesses;
  try {
    guesses = JSON.parse(sealed);
  } catch {
    return false;
  }
  return (
    Array.isArray(guesses) &&
    Array.isArray(models) &&
    guesses.length === models.length &&
    guesses.every(
      (g, i) =>
        g !== null &&
        typeof g === 'object' &&
        Object.keys(g).length === 3 &&
        g.name === models[i].name &&
        g.label === models[i].label &&
        g.confidence === models[i].confidence &&
        models[i].class === state.classes[g.label],
    )
  );
}

// The round arrived with a commitment to the models' guesses; check the revealed guesses against it.
async function checkSeal(rev) {
  const { salt, sealed, commitment } = rev.seal;
  const p = $('seal');
  p.classList.remove('verified');
  if (!crypto.subtle) {
    p.textContent = `Model guesses sealed before your answer (sha256 ${commitment.slice(0, 12)}…)`;
    return;
  }
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${salt}:${sealed}`));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const same = hex === commitment && hex === state.round.commitment && sealMatches(sealed, rev.models);
  p.textContent = same
    ? `Model guesses were sealed before you answered (sha256 ${commitment.slice(0, 12)}… verified)`
    : 'Warning: the revealed model guesses do not match the seal sent with the round';
  p.classList.toggle('verified', same);
  p.dataset.verified = same ? 'yes' : 'no';
}

async function showSummary() {
  const s = await api('GET', `/api/games/${state.game.game}/summary`);
  const all = [s.score.person, ...s.score.models];
  const best = Math.max(...all.map((t) => t.correct));
  $('final').replaceChildren(
    scoreBox(s.score.person, `you ${s.score.person.correct === best ? 'winner' : ''}`),
    ...s.score.models.map((m) => scoreBox(m, m.correct === best ? 'winner' : '')),
  );
  const geo = s.score.person.points !== null;
  $('review-head').replaceChildren(
    el(
      'tr',
      {},
      ...['#', '', 'answer', 'you', ...s.models, ...(geo ? ['your km', 'points'] : [])].map((h) =>
        el('th', { textContent: h }),
      ),
    ),
  );
  const mark = (g) =>
    el('td', { className: g.correct ? 'ok' : 'no', textContent: `${g.correct ? '✓' : '✗'} ${city(g.class)}` });
  $('review-rows').replaceChildren(
    ...s.rounds.map((r) =>
      el(
        'tr',
        {},
        el('td', { textContent: String(r.index + 1) }),
        el('td', {}, el('img', { src: r.image, alt: `round ${r.index + 1}` })),
        el('td', { className: 'city', textContent: city(r.answer.class) }),
        mark(r.person),
        ...r.models.map(mark),
        ...(geo
          ? [
              el('td', { className: 'num', textContent: km(r.person.km) }),
              el('td', { className: 'num', textContent: pts(r.person.points) }),
            ]
          : []),
      ),
    ),
  );
  renderScore(s.score);
  setState('summary');
  $('again').focus({ preventScroll: true });
  $('summary-map').hidden = true;
  if (geo) {
    const pins = s.rounds.map((r) => ({
      lat: r.answer.lat,
      lng: r.answer.lng,
      kind: r.person.correct ? 'right' : 'wrong',
      who: `round ${r.index + 1}`,
      label: String(r.index + 1),
    }));
    const label =
      `Map of every round's ` +
      `location: ${s.rounds
        .map((r) => `round ${r.index + 1} ${city(r.answer.class)}, you ${r.person.correct ? 'right' : 'wrong'}`)
        .join('; ')}`;
    const stale = () => document.body.dataset.state !== 'summary';
    const legend = [
      { kind: 'right', text: 'you were right' },
      { kind: 'wrong', text: 'you were wrong' },
    ];
    void drawMap($('summary-map'), { pins, label, stale, legend }).catch((err) => console.error(err));
  }
}

document.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement || e.repeat || e.metaKey || e.ctrlKey || e.altKey) return;
  // A focused button already answers Enter with a click.
  if (e.key === 'Enter' && e.target instanceof Element && e.target.closest('button, a')) return;
  const s = document.body.dataset.state;
  if (s === 'guessing' && /^[0-9]$/.test(e.key)) {
    const label = e.key === '0' ? 9 : Number(e.key) - 1;
    if (label < state.classes.length) guess(label);
  } else if (e.key === 'Enter') {
    e.preventDefault();
    if (s === 'intro' && document.body.dataset.ready) start();
    else if (s === 'revealed') advance();
    else if (s === 'summary') setState('intro');
  }
});
$('start-form').addEventListener('submit', start);
$('next').addEventListener('click', advance);
$('again').addEventListener('click', () => setState('intro'));
init();
