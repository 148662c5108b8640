// Makes `npx geospike` work in this checkout: npm links the bins of dependencies into node_modules/.bin, never the
// project's own, and npx looks there first. Run by `npm run build` (the bin exists only after tsc).
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';

const bin = JSON.parse(readFileSync('package.json', 'utf8')).bin.geospike;
const link = 'node_modules/.bin/geospike';
const target = `../../${bin}`;
chmodSync(bin, 0o755);
mkdirSync('node_modules/.bin', { recursive: true });
let existing = null;
try {
  existing = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : 'not a link';
} catch {}
if (existing === null) symlinkSync(target, link);
else if (existing !== target) console.warn(`${link} exists and is not geospike's link (${existing}); left alone`);
