// A child process for the lock tests. With a folder argument it takes that folder's lock, says `held <pid>` and waits
// to be killed. Without one it reads commands from stdin: `go <dir> <at>` tries the lock at wall time <at> (so that all
// workers try at once) and answers `held` or `refused <message>`; `release` lets go and answers `released`.
import { createInterface } from 'node:readline';
import { type FolderLock, lockFolder } from '../../src/util/lock.js';
import { must } from '../../src/util/must.js';

const dir = process.argv[2];
if (dir) {
  lockFolder(dir, 'lock test');
  process.stdout.write(`held ${process.pid}\n`);
  setInterval(() => {}, 60_000);
} else {
  let held: FolderLock | undefined;
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, folder, at] = line.split(' ');
    if (cmd === 'go') {
      await new Promise((r) => setTimeout(r, Math.max(0, Number(at) - Date.now())));
      try {
        held = lockFolder(must(folder, "a 'go' line names the folder"), 'lock test');
        process.stdout.write('held\n');
      } catch (err) {
        process.stdout.write(`refused ${JSON.stringify((err as Error).message)}\n`);
      }
    } else if (cmd === 'release') {
      held?.release();
      held = undefined;
      process.stdout.write('released\n');
    }
  }
}
