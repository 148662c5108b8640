// Reading a dataset's image for a round: only a regular file whose real path lies inside the dataset folder. A
// display copy replaced by a symlink (to /etc/passwd, say) must not turn the game into a file server (issue #21).
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';

/** A file the dataset names but the server will not serve; the message is for the server's log only. */
export class OutsideDatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutsideDatasetError';
  }
}

const realRoots = new Map<string, Promise<string>>();

/** The bytes of `file`, which must resolve to a regular file inside `root`. */
export async function readDatasetFile(root: string, file: string): Promise<Buffer> {
  let rootReal = realRoots.get(root);
  if (!rootReal) {
    rootReal = fs.realpath(root);
    realRoots.set(root, rootReal);
  }
  const real = await fs.realpath(file);
  const inside = path.relative(await rootReal, real);
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside))
    throw new OutsideDatasetError(`${file} resolves to ${real}, outside the dataset ${root}; it is not served`);
  // O_NOFOLLOW: the resolved path itself must not have become a link since realpath looked.
  const handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!(await handle.stat()).isFile())
      throw new OutsideDatasetError(`${file} is not a regular file; it is not served`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
