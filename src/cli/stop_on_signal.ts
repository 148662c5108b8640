// How a long command stops on Ctrl-C or SIGTERM: the first signal asks the work to finish its step and save (the
// returned control's `stop` turns true); a second Ctrl-C exits at once, which is safe because every save is atomic.
export interface SignalStop {
  control: { stop: boolean };
  /** Stops listening (the process's default handling returns). */
  release(): void;
}

export function stopOnSignal(
  say: (line: string) => void,
  doing = 'finishing the current step and saving a checkpoint',
): SignalStop {
  const control = { stop: false };
  const onSignal = (sig: string) => {
    if (control.stop && sig === 'SIGINT') process.exit(130);
    control.stop = true;
    say(`\n${sig}: ${doing} (Ctrl-C again to quit now)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    control,
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
