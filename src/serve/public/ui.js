// Helpers both pages (the game and the results) use.
export const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

// Class names are folder names ('newyork', 'sao_paulo'); the pages show them as place names.
const NAMES = { newyork: 'New York', new_york: 'New York', losangeles: 'Los Angeles', hongkong: 'Hong Kong' };
export const city = (c) =>
  (Object.hasOwn(NAMES, c) ? NAMES[c] : null) ??
  c
    .split(/[_-]+/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
