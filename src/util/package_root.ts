// The geospike package root: the nearest folder above a module that holds package.json. Callers pass their own URL
// and sit at different depths under dist/src/, so a fixed '../..' would be right for only some of them.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`cannot find the geospike package root (package.json) above ${fileURLToPath(from)}`);
    dir = up;
  }
}
