// How every command stops on Ctrl-C (SIGINT) or SIGTERM: the first signal asks the work to stop cleanly (the returned
// control's `stop` turns true and `onStop` runs: finish the step and save, abort the requests, close the server); a
// second signal exits at once, which is safe because every save is atomic. A command stopped by a signal exits with
// the shell's status for it (exitCode: 130 for SIGINT, 143 for SIGTERM); a server, whose normal end is a signal,
// exits 0 from its own onStop once it has closed.
import { constants } from 'node:os';

export interface SignalStop {
  control: { stop: boolean };
  /** The first signal received, or undefined while none has come. */
  readonly signal: NodeJS.Signals | undefined;
  /** The exit status for the first signal (128 + its number), or undefined while none has come. */
  readonly exitCode: number | undefined;
  /** Stops listening (the process's default handling returns). */
  release(): void;
}

export interface StopOptions {
  /** What the first signal starts, in words: "SIGINT: <doing> (Ctrl-C again to quit now)". */
  doing?: string;
  /** Runs once, on the first signal, after `control.stop` is set. */
  onStop?: (signal: NodeJS.Signals) => void;
  /** Start the line with a newline: a progress bar (written with \r) may be mid-line. */
  afterProgress?: boolean;
  /** What every later signal does; default: exit at once with its status (a parent of a child process kills it). */
  force?: (signal: NodeJS.Signals) => void;
}

/** The shell's exit status of a process ended by `signal`: 128 plus its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

export function stopOnSignal(say: (line: string) => void, opts: StopOptions = {}): SignalStop {
  const doing = opts.doing ?? 'finishing the current step and saving a checkpoint';
  const control = { stop: false };
  let first: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (first !== undefined) {
      if (opts.force) return opts.force(sig);
      process.exit(signalExitCode(sig));
    }
    first = sig;
    control.stop = true;
    say(`${opts.afterProgress ? '\n' : ''}${sig}: ${doing} (Ctrl-C again to quit now)`);
    opts.onStop?.(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    control,
    get signal() {
      return first;
    },
    get exitCode() {
      return first === undefined ? undefined : signalExitCode(first);
    },
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
