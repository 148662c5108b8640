// The reveal's map, drawn as SVG with d3-geo over Natural Earth countries (world-atlas), all served by the game itself
// from the npm packages' files. The libraries load on the first map, so datasets without coordinates never fetch them.
// Only data from a reveal (or from /api/info's class centres) is drawn: nothing here knows an unanswered round.
const SVG = 'http://www.w3.org/2000/svg';
const W = 800;
const H = 460;
const PAD = 28;
/** Degrees of margin around every point the map must show; also the closest zoom (a few hundred km across). */
const MARGIN_DEG = 3;

let world = null;

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
      await script('/vendor/d3-array.min.js');
      await Promise.all([script('/vendor/d3-geo.min.js'), script('/vendor/topojson-client.min.js')]);
      const res = await fetch('/vendor/countries-50m.json');
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
 * circles, zoomed to show every pin with a margin; nothing is drawn if `stale()` says the page moved on meanwhile. Kinds: truth, you, model0, model1 (colours in style.css).
 * The <svg> carries its projection (data-rotate, data-scale, data-translate) so tests can check where pins sit.
 */
export async function drawMap(el, { pins, lines = [], label, stale = () => false }) {
  const { land, borders } = await loadWorld();
  if (stale()) return null; // the page moved on while the map data loaded
  const d3 = window.d3;
  const rotate = [-middleLng(pins), 0];
  const focus = { type: 'FeatureCollection', features: pins.map((p) => ({ type: 'Feature', geometry: d3.geoCircle().center([p.lng, p.lat]).radius(MARGIN_DEG)() })) };
  const projection = d3.geoNaturalEarth1().rotate(rotate).fitExtent([[PAD, PAD], [W - PAD, H - PAD]], focus);
  projection.clipExtent([[0, 0], [W, H]]);
  const path = d3.geoPath(projection);
  const svg = node('svg', {
    viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'map',
    'data-rotate': rotate.join(','), 'data-scale': projection.scale(), 'data-translate': projection.translate().join(','),
  });
  svg.append(
    node('title', {}, label),
    node('path', { class: 'sphere', d: path({ type: 'Sphere' }) }),
    node('path', { class: 'graticule', d: path(d3.geoGraticule10()) }),
    node('path', { class: 'land', d: path(land) }),
    node('path', { class: 'borders', d: path(borders) }),
  );
  for (const l of lines) {
    const a = [l.from.lng, l.from.lat];
    const b = [l.to.lng, l.to.lat];
    svg.append(node('path', { class: `line ${l.kind}`, d: path({ type: 'LineString', coordinates: [a, b] }) }));
    const mid = projection(d3.geoInterpolate(a, b)(0.5));
    if (l.label && mid) svg.append(node('text', { class: `line-label ${l.kind}`, x: mid[0], y: mid[1] - 6, 'text-anchor': 'middle' }, l.label));
  }
  // Pins at one place (you and a model guessing the same city) fan out a few pixels so each stays visible; the
  // offset is a transform, so each circle's centre is still exactly its coordinates.
  const seen = new Map();
  for (const p of pins) {
    const xy = projection([p.lng, p.lat]);
    const key = `${Math.round(xy[0])},${Math.round(xy[1])}`;
    const k = seen.get(key) ?? 0;
    seen.set(key, k + 1);
    const [dx, dy] = k === 0 ? [0, 0] : [9 * Math.cos(k * 2.1), 9 * Math.sin(k * 2.1)];
    const g = node('g', { class: `pin ${p.kind}`, transform: `translate(${dx.toFixed(1)},${dy.toFixed(1)})`, 'data-who': p.who, 'data-lat': p.lat, 'data-lng': p.lng });
    g.append(node('circle', { cx: xy[0], cy: xy[1], r: p.kind === 'truth' ? 8 : 6 }));
    if (p.label) g.append(node('text', { x: xy[0] + 11, y: xy[1] + 4 }, p.label));
    svg.append(g);
  }
  el.replaceChildren(svg);
  el.hidden = false;
  return svg;
}
