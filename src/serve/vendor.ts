// The map's browser libraries and data, served from the npm packages' own files (never a CDN): d3-geo draws the
// projection, topojson-client unpacks Natural Earth's public-domain country shapes from world-atlas. Fixed routes to
// fixed files, read once at start-up, so no request path reaches the file system.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const FILES: Record<string, { pkg: string; file: string; type: string }> = {
  '/vendor/d3-array.min.js': { pkg: 'd3-array', file: 'dist/d3-array.min.js', type: 'text/javascript; charset=utf-8' },
  '/vendor/d3-geo.min.js': { pkg: 'd3-geo', file: 'dist/d3-geo.min.js', type: 'text/javascript; charset=utf-8' },
  '/vendor/topojson-client.min.js': {
    pkg: 'topojson-client',
    file: 'dist/topojson-client.min.js',
    type: 'text/javascript; charset=utf-8',
  },
  // 1:50m: coarse enough to load fast, fine enough for a map zoomed to a few cities.
  '/vendor/countries-50m.json': { pkg: 'world-atlas', file: 'countries-50m.json', type: 'application/json' },
};

/** Where node would find `pkg` from here (the packages' exports maps hide package.json from require.resolve). */
export function packageDir(pkg: string): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths(pkg) ?? []) {
    if (existsSync(path.join(dir, pkg, 'package.json'))) return path.join(dir, pkg);
  }
  throw new Error(`npm package ${pkg} is not installed; run npm install in the geospike folder`);
}

/** Route -> body and content type, for every vendored file. */
export function vendorFiles(): Map<string, { body: Buffer; type: string }> {
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const [route, { pkg, file, type }] of Object.entries(FILES)) {
    out.set(route, { body: readFileSync(path.join(packageDir(pkg), file)), type });
  }
  return out;
}
