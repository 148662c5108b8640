// Strict command lines, for every command at once: citty ignores a flag it does not know (`--imgs`) and hands an
// empty value over as '' (`--epochs=`), which commands then took for "not given". main.ts checks the raw arguments
// against the chosen command's declared args before the command runs, so a command added later gets this for free.
import type { ArgsDef, CommandDef, SubCommandsDef } from 'citty';
import { must } from '../util/must.js';

/** Old spellings of flags: refused with the new one named (one spelling per flag across commands). */
export const RENAMED_FLAGS: Record<string, string> = { timesteps: 'time-steps' };

/** Edit distance with transpositions (Damerau's optimal string alignment): `--prot` is one edit from `--port`. */
export function editDistance(a: string, b: string): number {
  // d[i * w + j]: the distance between the first i characters of a and the first j of b.
  const w = b.length + 1;
  const d = new Int32Array((a.length + 1) * w);
  const at = (i: number, j: number) => must(d[i * w + j], 'i <= a.length and j <= b.length');
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The known name closest to `given`, when one is close enough to be a likely typo; else undefined. */
export function closest(given: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const k of known) {
    // A prefix (`--val` for `--val-fraction`) or a dropped-letter abbreviation (`--imgs`) counts as close.
    const score =
      k.startsWith(given) || given.startsWith(k) ? 0.5 : isSubsequence(given, k) ? 1 : editDistance(given, k);
    if (score < bestScore) [best, bestScore] = [k, score];
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(given.length / 3)) ? best : undefined;
}

function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (const c of long) if (c === short[i]) i++;
  return short.length >= 3 && i === short.length;
}

const hint = (name: string | undefined, dashes = '--') => (name ? `; did you mean \`${dashes}${name}\`?` : '');

type Resolvable<T> = T | Promise<T> | (() => T | Promise<T>);
const resolve = async <T>(v: Resolvable<T>): Promise<T> =>
  typeof v === 'function' ? (v as () => T | Promise<T>)() : v;

/**
 * Follows the subcommand names at the start of `argv` from `root` to the command that will run. Returns it, its
 * name path (e.g. ['import', 'folder']) and the arguments left for it. Throws on an unknown command name.
 */
export async function resolveLeaf(
  root: CommandDef,
  argv: string[],
): Promise<{ cmd: CommandDef; path: string[]; rest: string[] }> {
  let cmd = root;
  const path: string[] = [];
  let rest = argv;
  for (;;) {
    const subs = cmd.subCommands ? await resolve(cmd.subCommands as Resolvable<SubCommandsDef>) : undefined;
    if (!subs || Object.keys(subs).length === 0) return { cmd, path, rest };
    const name = rest[0];
    const where = ['geospike', ...path].join(' ');
    if (name === undefined || name.startsWith('-')) {
      throw new Error(`\`${where}\` needs a command: ${Object.keys(subs).join(', ')} (see \`npx ${where} --help\`)`);
    }
    if (!Object.hasOwn(subs, name)) {
      const guess = closest(name, Object.keys(subs));
      throw new Error(
        `unknown command '${name}'${
          guess ? `; did you mean \`${where} ${guess}\`?` : `; the commands are: ${Object.keys(subs).join(', ')}`
        }`,
      );
    }
    cmd = await resolve(subs[name] as Resolvable<CommandDef>);
    path.push(name);
    rest = rest.slice(1);
  }
}

/**
 * Throws one sentence for the first problem in `argv` for a command declaring `def`: an unknown flag (with the closest
 * known one), a flag that takes a value given none or an empty one, or a stray word where the command takes none.
 */
export function checkArgs(def: ArgsDef, argv: string[], command: string): void {
  const valued = new Set<string>();
  const booleans = new Set<string>();
  let positionals = 0;
  for (const [name, a] of Object.entries(def)) {
    if (a.type === 'positional') positionals++;
    else if (a.type === 'boolean') booleans.add(name);
    else valued.add(name);
  }
  const known = [...valued, ...booleans, 'help'];
  for (let i = 0; i < argv.length; i++) {
    const arg = must(argv[i], 'i < argv.length');
    if (arg === '--') return; // everything after is positional, by convention
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      if (positionals === 0)
        throw new Error(
          `\`${command}\` takes no argument '${arg}'; flags start with -- (see \`npx ${command} --help\`)`,
        );
      continue;
    }
    if (arg === '-h') continue;
    if (!arg.startsWith('--'))
      throw new Error(`unknown flag '${arg}' for \`${command}\`${hint(closest(arg.slice(1), known))}`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if (valued.has(name)) {
      const value = inline ?? argv[i + 1];
      if (value === undefined || value.trim() === '' || (inline === undefined && value.startsWith('--'))) {
        throw new Error(`--${name} needs a value (e.g. \`--${name} VALUE\`; see \`npx ${command} --help\`)`);
      }
      if (inline === undefined) i++;
      continue;
    }
    if (booleans.has(name) || name === 'help') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false')
        throw new Error(`--${name} is a switch: give it alone (or --no-${name}), not '${inline}'`);
      continue;
    }
    if (name.startsWith('no-') && booleans.has(name.slice(3)) && inline === undefined) continue;
    const renamed = RENAMED_FLAGS[name];
    if (renamed && (valued.has(renamed) || booleans.has(renamed)))
      throw new Error(`--${name} is now spelled --${renamed}`);
    throw new Error(`unknown flag --${name} for \`${command}\`${hint(closest(name, known))}`);
  }
}
