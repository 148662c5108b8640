// What the restricted pickle reader (pickle.ts) hands back besides plain data, and what its callers may allow.
export class PickleError extends Error {}

/** An object of a class geospike does not rebuild (argparse.Namespace, a numpy scalar, ...): data only. */
export class Opaque {
  state: unknown = undefined;
  constructor(
    readonly type: string,
    readonly args: unknown[],
  ) {}
}

/** A global the caller did not allow: a name, never resolved to code. */
export class GlobalRef {
  constructor(readonly name: string) {}
}

export type Allowed = (args: unknown[]) => unknown;

export interface PickleOptions {
  /** `module.name` -> the function a call of that global runs instead (e.g. collections.OrderedDict -> new Map). */
  allowed?: Record<string, Allowed>;
  /**
   * Globals that may be called (REDUCE) to make an opaque value (numpy.core.multiarray.scalar, argparse.Namespace...).
   * A call of any other global that `allowed` does not name is refused: a checkpoint has no reason to call os.system.
   */
  opaqueCalls?: ReadonlySet<string>;
  /** What a persistent id (torch's storages) stands for. */
  persistentLoad?: (pid: unknown) => unknown;
}
