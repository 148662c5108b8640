// A restricted reader of Python pickles (protocols 0-5): it rebuilds data (dicts as Maps, lists, tuples, strings,
// numbers, bytes) and calls only the JavaScript functions the caller names for a few (module, name) globals. Every
// other global is an opaque reference: calling or instantiating it makes an `Opaque` holding its arguments and
// state, so a pickle that names os.system or builtins.eval runs nothing. Extension codes are refused.
// The instructions are a table by opcode in pickle_ops.ts, grouped by kind (numbers, strings, containers, the stack
// and memo, globals and objects), over the machine's state and reads in pickle_machine.ts.
import { PickleMachine } from './pickle_machine.js';
import { OPS, STOP } from './pickle_ops.js';
import { PickleError, type PickleOptions } from './pickle_values.js';

export { GlobalRef, Opaque, PickleError, type Allowed, type PickleOptions } from './pickle_values.js';

export function unpickle(buf: Buffer, opts: PickleOptions = {}): unknown {
  const m = new PickleMachine(buf, opts);
  for (;;) {
    const op = m.u8();
    if (op === STOP) return m.pop();
    const run = OPS.get(op);
    if (!run)
      throw new PickleError(`the pickle holds an unknown instruction 0x${op.toString(16)} at byte ${m.pos - 1}`);
    run(m, op);
  }
}
