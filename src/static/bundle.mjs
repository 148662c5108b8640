// Builds dist/static/static.js, the static game's page code: src/static/page.js with the project's own TypeScript
// (model builders, safetensors reader, Predictor, Lanczos resize) and tfjs bundled for the browser by esbuild. Those
// modules also import Node-only code (sharp, node:fs) for paths the browser never takes: such imports get a stand-in
// that throws if it is ever called, so a browser path that reaches Node code fails loudly rather than silently.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

const nodeOnly = {
  name: 'node-only',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|sharp)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    // The sharp decode behind Predictor.predictImage (and png.ts's Buffers): the page decodes with the browser instead.
    b.onResolve({ filter: /\/data\/images\.js$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({
      contents:
        `
const name = ${JSON.stringify(args.path)};
const fail = (key) => () => { throw new Error(name + '.' + String(key) + ' is not available in the browser'); };
// The byte order safetensors checks: every browser geospike supports runs little-endian (typed arrays are host order).
const known = name === 'node:os' ? { endianness: () => (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'LE' ` +
        `: 'BE') } : {};
module.exports = new Proxy(known, { get: (t, k) => (k in t ? t[k] : k === '__esModule' ? false : fail(k)) });
`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: [`${root}/src/static/page.js`],
  outfile: `${root}/dist/static/static.js`,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
  plugins: [nodeOnly],
});
