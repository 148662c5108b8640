// The reveal's evidence maps: for each model, which patches of the 32x32 input drove its guess (red: the most),
// drawn by the server (GET /api/games/:game/rounds/:index/explain/:model). Its own module and its own box after the
// model's input, so the page's layout can change around it.
import { city, el } from './ui.js';

export function showEvidence(rev) {
  const seen = document.getElementById('seen');
  // The maps are drawn by the game server; a static export (src/static) serves plain files and has none.
  if (!seen || !/\/input$/.test(rev.input ?? '')) return;
  let box = document.getElementById('evidence');
  if (!box) {
    box = el('figure', { id: 'evidence', className: 'evidence' });
    seen.append(box); // inside the reveal's figure, so it hides with it between rounds
  }
  const base = rev.input.replace(/\/input$/, '/explain');
  box.replaceChildren(
    ...rev.models.map((m, k) =>
      el(
        'div',
        { className: 'evidence-map' },
        el('img', {
          src: `${base}/${k}`,
          width: 128,
          height: 128,
          alt: `where ${m.name} found the evidence for ${city(m.class)}: red patches drove its guess most`,
        }),
        el('div', { textContent: `${m.name}: why ${city(m.class)}` }),
      ),
    ),
    el('figcaption', { textContent: 'Why each model guessed what it did: red patches gave the most evidence' }),
  );
}
