// Faults that the process tests inject at named points through GEOSPIKE_TEST_FAULT ("<point>:<argument>"), so that an
// interrupt or a kill lands at an exact moment instead of racing a timer. Never set outside tests; unset, each point
// costs one environment lookup.
//   pause-after-step:N          train loop: after step N, say so on stderr and wait until the run is told to stop
//   pause-after-image:N         collect, import table: once N images are added, say so on stderr and wait until the
//                               run is stopped
//   kill-before-rename:NAME:N   writeFileAtomic: SIGKILL the process when its Nth temp file for a file whose name
//                               contains NAME is written and synced, just before the rename
//   disk-full-from:NAME:N       writeFileAtomic, writeFileDurable: from the Nth file whose name contains NAME on, fail
//                               as a full disk (ENOSPC) does, after the (temp) file is opened
//   engine-start:ANY            initEngine: fail at once (tests that a command checks its arguments before it)
//   kill-in-group:N             DatasetWriter.add: SIGKILL the process when the Nth image's files are written and
//                               synced, before its group's folder syncs and manifest lines
import { basename } from 'node:path';

export const TEST_FAULT_ENV = 'GEOSPIKE_TEST_FAULT';

/** The argument of `point` when GEOSPIKE_TEST_FAULT arms it, else undefined. */
export function testFault(point: string): string | undefined {
  const spec = process.env[TEST_FAULT_ENV];
  return spec?.startsWith(`${point}:`) ? spec.slice(point.length + 1) : undefined;
}

/** How long a pause waits for its release before the process gives up (so a broken test fails instead of hanging). */
const PAUSE_LIMIT_MS = 120_000;

/** Says on stderr that the process is paused at `where`, then waits (keeping the process alive) until `released()`. */
export async function pauseForTest(where: string, released: () => boolean): Promise<void> {
  process.stderr.write(`test fault: paused ${where}\n`);
  const until = Date.now() + PAUSE_LIMIT_MS;
  while (!released()) {
    if (Date.now() > until) {
      process.stderr.write(`test fault: nothing released the pause ${where} in ${PAUSE_LIMIT_MS / 1000} s; exiting\n`);
      process.exit(99);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

let renames = 0;

/** The kill-before-rename point of writeFileAtomic. */
export function killBeforeRenameForTest(file: string): void {
  const arg = testFault('kill-before-rename');
  if (arg === undefined) return;
  const cut = arg.lastIndexOf(':');
  if (basename(file).includes(arg.slice(0, cut)) && ++renames === Number(arg.slice(cut + 1))) {
    process.stderr.write(`test fault: killed before renaming ${basename(file)}\n`); // synchronous on a pipe or file
    process.kill(process.pid, 'SIGKILL');
  }
}

let diskWrites = 0;

let synced = 0;

/** The kill-in-group point of DatasetWriter.add. */
export function killInGroupForTest(): void {
  const arg = testFault('kill-in-group');
  if (arg !== undefined && ++synced === Number(arg)) {
    process.stderr.write(`test fault: killed after image ${synced} was synced\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}

/**
 * The disk-full-from point of writeFileAtomic and writeFileDurable:
 * throws the error a full disk gives, from the Nth matching file on.
 */
export function diskFullForTest(file: string): void {
  const arg = testFault('disk-full-from');
  if (arg === undefined) return;
  const cut = arg.lastIndexOf(':');
  if (basename(file).includes(arg.slice(0, cut)) && ++diskWrites >= Number(arg.slice(cut + 1))) {
    throw Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), { code: 'ENOSPC' });
  }
}
