// Every tracked source line fits in 120 columns (issue 23: keep lines readable). Biome wraps code at 120 but leaves
// strings, template literals and comments alone, and it never sees Python, shell, C++ or HTML; this test sees them all.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAX = 120;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Lines that cannot be split, by file and a piece of the line, each with the reason. */
const ALLOWED: { file: string; contains: string; why: string }[] = [
  { file: 'package.json', contains: '"description":', why: 'JSON has no string concatenation' },
  { file: 'package.json', contains: '"build":', why: 'JSON has no string concatenation' },
  { file: 'package.json', contains: '"build:vendor":', why: 'JSON has no string concatenation' },
  { file: 'src/serve/public/index.html', contains: 'href="data:image/svg+xml,', why: 'one data: URL (the icon)' },
  { file: 'src/serve/public/results.html', contains: 'href="data:image/svg+xml,', why: 'one data: URL (the icon)' },
];

/** Not source: golden data, lockfiles, docs (markdown and the images a command drew) and anything binary. */
function isSource(file: string, bytes: Buffer): boolean {
  if (file.startsWith('test/golden/') || file.startsWith('docs/images/') || file.endsWith('.md')) return false;
  if (/(^|\/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|[^/]*\.lock)$/.test(file)) return false;
  return !bytes.subarray(0, 8000).includes(0);
}

test(`every tracked source line is at most ${MAX} characters`, () => {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  assert.ok(files.length > 100, `git ls-files found ${files.length} files in ${ROOT}`);
  const used = new Set<(typeof ALLOWED)[number]>();
  const long: string[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path.join(ROOT, file));
    } catch {
      continue; // listed but deleted in the working tree
    }
    if (!isSource(file, bytes)) continue;
    for (const [i, line] of bytes.toString('utf8').split(/\r?\n/).entries()) {
      const length = [...line].length;
      if (length <= MAX) continue;
      const allowed = ALLOWED.find((a) => a.file === file && line.includes(a.contains));
      if (allowed) used.add(allowed);
      else long.push(`${file}:${i + 1}: ${length} characters`);
    }
  }
  assert.deepEqual(long, [], `${long.length} lines over ${MAX} characters:\n${long.join('\n')}`);
  const stale = ALLOWED.filter((a) => !used.has(a)).map((a) => `${a.file}: ${a.contains}`);
  assert.deepEqual(stale, [], 'allowlist entries that no longer match a long line (remove them)');
});
