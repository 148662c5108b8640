// `import folder` follows symbolic links to class folders and images (as torchvision's ImageFolder does), names each
// link it cannot follow, and skips a file it cannot read with a message instead of aborting the import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importFolder } from '../../src/data/importers/folder.js';
import { photo } from '../serve/helpers.js';
import { manifest } from './collect_helpers.js';
import { tempDir } from './helpers.js';

test(
  'symlinked class folders and images are imported; ' + 'a broken link and an unreadable file are named and skipped',
  async (t) => {
    const root = tempDir(t);
    const src = path.join(root, 'src');
    const elsewhere = path.join(root, 'elsewhere');
    mkdirSync(path.join(src, 'alpha'), { recursive: true });
    mkdirSync(path.join(elsewhere, 'beta-real'), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(path.join(src, 'alpha', `a${i}.jpg`), await photo(40, 40, i));
    for (let i = 0; i < 3; i++)
      writeFileSync(path.join(elsewhere, 'beta-real', `b${i}.jpg`), await photo(40, 40, 10 + i));
    writeFileSync(path.join(elsewhere, 'linked.jpg'), await photo(40, 40, 20));
    symlinkSync(path.join(elsewhere, 'beta-real'), path.join(src, 'beta')); // a class folder that is a link
    symlinkSync(path.join(elsewhere, 'linked.jpg'), path.join(src, 'alpha', 'a-link.jpg')); // an image that is a link
    symlinkSync(path.join(elsewhere, 'gone.jpg'), path.join(src, 'alpha', 'broken.jpg')); // a link to nothing
    // A regular file whose read fails (EIO), even for root: the kernel's view of a process's memory.
    symlinkSync('/proc/self/mem', path.join(src, 'alpha', 'unreadable.jpg'));
    const lines: string[] = [];
    const out = path.join(root, 'out');
    const res = await importFolder({ source: src, out, valFraction: 0, log: (l) => lines.push(l) });
    const rows = manifest(out);
    assert.deepEqual(rows.filter((e) => e.class === 'beta').length, 3);
    assert.ok(rows.some((e) => e.sourceId === 'alpha/a-link.jpg'));
    assert.equal(rows.length, 7);
    assert.equal(res.bad, 1);
    assert.ok(
      lines.some((l) => /broken\.jpg: a symbolic link to nothing readable \(ENOENT\)/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /skipped alpha\/unreadable\.jpg: cannot be read/.test(l)),
      lines.join('\n'),
    );
  },
);
