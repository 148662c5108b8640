// The reveal's map, drawn as SVG with d3-geo over Natural Earth countries (world-atlas), all served by the game itself
// from the npm packages' files. The libraries load on the first map, so datasets without coordinates never fetch them.
// Only data from a reveal (or from /api/info's class centres) is drawn: nothing here knows an unanswered round.
const SVG = 'http://www.w3.org/2000/svg';
const PAD = 28;
/** Lines shorter than this (px) get no distance label: it would cover the pins (the table has the distance). */
const MIN_LABELLED_LINE = 80;
/** Degrees of margin around every point the map must show; also the closest zoom (a few hundred km across). */
const MARGIN_DEG = 3;

let world = null;
/** Counter for unique clip-path ids (two maps can be on the page). */
let clips = 0;

function script(src) {
  return new Promise((resolve, reject) => {
    const s = Object.assign(document.createElement('script'), { src, async: false });
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(s);
  });
}

async function loadWorld() {
  if (!world) {
    world = (async () => {
      // d3-geo's UMD build takes d3-array from the global `d3` that d3-array's build sets.
      await script('vendor/d3-array.min.js');
      await Promise.all([script('vendor/d3-geo.min.js'), script('vendor/topojson-client.min.js')]);
      const res = await fetch('vendor/countries-50m.json');
      if (!res.ok) throw new Error(`map data: ${res.status} ${res.statusText}`);
      const topo = await res.json();
      const { feature, mesh } = window.topojson;
      return { land: feature(topo, topo.objects.land), borders: mesh(topo, topo.objects.countries, (a, b) => a !== b) };
    })();
    world.catch(() => (world = null));
  }
  return world;
}

const node = (tag, attrs = {}, ...children) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
};

/** The longitude at the middle of the points (spherical mean), so a map across the antimeridian is not cut. */
function middleLng(points) {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += Math.cos((p.lng * Math.PI) / 180);
    y += Math.sin((p.lng * Math.PI) / 180);
  }
  return x === 0 && y === 0 ? 0 : (Math.atan2(y, x) * 180) / Math.PI;
}

/**
 * Draws into `el` (emptied first): `pins` [{lat, lng, kind, who, label}], `lines` [{from, to, kind, label}] as great
 * circles, zoomed to show every pin with a margin; nothing is drawn if `stale()` says the page moved on meanwhile.
 * Kinds: truth, you, model0, model1 (colours in style.css). The <svg> carries its projection (data-rotate, data-scale,
 * data-translate) so tests can check where pins sit.
 */
export async function drawMap(el, { pins, lines = [], label, legend = [], stale = () => false }) {
  const { land, borders } = await loadWorld();
  if (stale()) return null; // the page moved on while the map data loaded
  const d3 = window.d3;
  // Drawn at the size it is shown, so labels keep their size on a phone. The height follows the region's shape
  // (within limits, taller allowed on a narrow screen), so a wide region leaves no empty band above and below it.
  el.hidden = false;
  const W = Math.round(Math.max(280, Math.min(900, el.clientWidth || 800)));
  const rotate = [-middleLng(pins), 0];
  const focus = {
    type: 'FeatureCollection',
    features: pins.map((p) => ({
      type: 'Feature',
      geometry: d3.geoCircle().center([p.lng, p.lat]).radius(MARGIN_DEG)(),
    })),
  };
  const projection = d3
    .geoNaturalEarth1()
    .rotate(rotate)
    .fitWidth(W - 2 * PAD, focus);
  const [[, top], [, bottom]] = d3.geoPath(projection).bounds(focus);
  const H = Math.round(
    Math.min(W * (W < 600 ? 0.9 : 0.6), Math.max(W * (W < 600 ? 0.6 : 0.4), bottom - top + 2 * PAD)),
  );
  projection.fitExtent(
    [
      [PAD, PAD],
      [W - PAD, H - PAD],
    ],
    focus,
  );
  projection.clipExtent([
    [0, 0],
    [W, H],
  ]);
  const path = d3.geoPath(projection);
  const svg = node('svg', {
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': label,
    class: 'map',
    'data-rotate': rotate.join(','),
    'data-scale': projection.scale(),
    'data-translate': projection.translate().join(','),
  });
  svg.append(
    node('title', {}, label),
    node('path', { class: 'sphere', d: path({ type: 'Sphere' }) }),
    node('path', { class: 'graticule', d: path(d3.geoGraticule10()) }),
    node('path', { class: 'land', d: path(land) }),
    node('path', { class: 'borders', d: path(borders) }),
  );
  // Great circles between far cities leave the visible globe (over a pole, past the frame): clip them to it.
  const clipId = `map-clip-${++clips}`;
  svg.append(node('clipPath', { id: clipId }, node('path', { d: path({ type: 'Sphere' }) })));
  const lineLayer = svg.appendChild(node('g', { 'clip-path': `url(#${clipId})` }));
  const labels = [];
  for (const l of lines) {
    const a = [l.from.lng, l.from.lat];
    const b = [l.to.lng, l.to.lat];
    lineLayer.append(node('path', { class: `line ${l.kind}`, d: path({ type: 'LineString', coordinates: [a, b] }) }));
    const mid = projection(d3.geoInterpolate(a, b)(0.5));
    const [pa, pb] = [projection(a), projection(b)];
    const long = pa && pb && Math.hypot(pa[0] - pb[0], pa[1] - pb[1]) >= MIN_LABELLED_LINE;
    if (l.label && mid && long)
      labels.push({
        text: l.label,
        sides: [{ x: mid[0], anchor: 'middle' }],
        y: mid[1] - 6,
        cls: `line-label ${l.kind}`,
        optional: true,
      });
  }
  // Pins at one place (you and a model guessing the same city) fan out a few pixels so each stays visible; the
  // offset is a transform, so each circle's centre is still exactly its coordinates.
  const seen = new Map();
  const pinLabels = [];
  for (const p of pins) {
    const xy = projection([p.lng, p.lat]);
    const key = `${Math.round(xy[0] / 4)},${Math.round(xy[1] / 4)}`;
    const k = seen.get(key) ?? 0;
    seen.set(key, k + 1);
    const [dx, dy] = k === 0 ? [0, 0] : [9 * Math.cos(k * 2.1), 9 * Math.sin(k * 2.1)];
    const g = node('g', {
      class: `pin ${p.kind}`,
      transform: `translate(${dx.toFixed(1)},${dy.toFixed(1)})`,
      'data-who': p.who,
      'data-lat': p.lat,
      'data-lng': p.lng,
    });
    g.append(node('circle', { cx: xy[0], cy: xy[1], r: p.kind === 'truth' ? 8 : 6 }));
    svg.append(g);
    // Labels read to the right of their pin, or to its left where that is the side with room.
    const sides = [
      { x: xy[0] + 12, anchor: 'start' },
      { x: xy[0] - 12, anchor: 'end' },
    ];
    if (xy[0] > W * 0.6) sides.reverse();
    sides.push({ x: xy[0], anchor: 'middle' }); // above or below it, on a narrow map
    if (p.label) pinLabels.push({ text: p.label, sides, y: xy[1] + 4, cls: `pin-label ${p.kind}` });
  }
  const key = document.createElement('ul');
  key.className = 'legend';
  key.setAttribute('aria-hidden', 'true'); // the map's label says the same in words
  for (const item of legend) {
    const li = key.appendChild(document.createElement('li'));
    li.className = item.kind;
    li.append(Object.assign(document.createElement('span'), { className: 'dot' }), item.text);
  }
  el.replaceChildren(svg, ...(legend.length ? [key] : []));
  placeLabels(svg, [...pinLabels, ...labels], W, H);
  return svg;
}

/**
 * Adds labels on top, each on the first of its sides, moved up or down by a line or two, where it stays inside the
 * map and covers no label placed before it; a label marked optional (a distance, also in the table) is left out when
 * no place is free, any other stays at its first place.
 */
function placeLabels(svg, labels, W, H) {
  const layer = svg.appendChild(node('g', { class: 'labels' }));
  // Pins are obstacles too, so a label never covers one.
  const placed = [...svg.querySelectorAll('.pin circle')].map((c) => c.getBBox());
  const overlaps = (b) =>
    placed.some((o) => b.x < o.x + o.width && o.x < b.x + b.width && b.y < o.y + o.height && o.y < b.y + b.height);
  const put = (t, side, y) => {
    t.setAttribute('x', String(side.x));
    t.setAttribute('text-anchor', side.anchor);
    t.setAttribute('y', String(y));
    return t.getBBox();
  };
  for (const l of labels) {
    const t = layer.appendChild(node('text', { class: l.cls }, l.text));
    // Full size first; a label too long for a narrow map may shrink a little rather than be cut off.
    const size = parseFloat(getComputedStyle(t).fontSize);
    const fits = [1, 0.85, 0.72].some((scale) => {
      if (scale < 1) t.style.fontSize = `${(size * scale).toFixed(1)}px`;
      return l.sides.some((side) =>
        [0, 15, -15, 30, -30, 45].some((dy) => {
          const b = put(t, side, l.y + dy);
          return !overlaps(b) && b.y >= 0 && b.y + b.height <= H && b.x >= 0 && b.x + b.width <= W;
        }),
      );
    });
    if (!fits) t.style.fontSize = '';
    if (!fits && l.optional) t.remove();
    else placed.push(fits ? t.getBBox() : put(t, l.sides[0], l.y));
  }
}
