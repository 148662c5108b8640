// The one signal helper every command uses: the first signal stops cleanly, later ones force, exit status per signal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signalExitCode, stopOnSignal } from '../../src/util/stop_on_signal.js';

test('exit status of a signal is the shell convention: 130 for SIGINT, 143 for SIGTERM', () => {
  assert.equal(signalExitCode('SIGINT'), 130);
  assert.equal(signalExitCode('SIGTERM'), 143);
});

test('the first signal sets stop, says what happens and runs onStop once; later ones go to force', () => {
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const lines: string[] = [];
  const stopped: string[] = [];
  const forced: string[] = [];
  const stop = stopOnSignal((l) => lines.push(l), {
    doing: 'closing up',
    onStop: (sig) => stopped.push(sig),
    force: (sig) => forced.push(sig),
  });
  try {
    assert.equal(stop.control.stop, false);
    assert.equal(stop.signal, undefined);
    assert.equal(stop.exitCode, undefined);
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(stop.control.stop, true);
    assert.equal(stop.signal, 'SIGTERM');
    assert.equal(stop.exitCode, 143);
    assert.deepEqual(lines, ['SIGTERM: closing up (Ctrl-C again to quit now)']);
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(stopped, ['SIGTERM'], 'onStop runs on the first signal only');
    assert.deepEqual(forced, ['SIGINT', 'SIGTERM']);
    assert.equal(stop.exitCode, 143, 'the status stays that of the first signal');
    assert.equal(lines.length, 1);
  } finally {
    stop.release();
  }
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);
});

test('afterProgress starts the line on its own, below a progress bar', () => {
  const lines: string[] = [];
  const stop = stopOnSignal((l) => lines.push(l), { afterProgress: true, force: () => {} });
  try {
    process.emit('SIGINT', 'SIGINT');
    assert.deepEqual(lines, [
      '\nSIGINT: finishing the current step and saving a checkpoint (Ctrl-C again to quit now)',
    ]);
    assert.equal(stop.exitCode, 130);
  } finally {
    stop.release();
  }
});
