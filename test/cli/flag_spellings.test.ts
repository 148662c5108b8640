// One spelling per flag across commands: no two commands (or subcommands) name the same thing with different dashes
// or case (`--time-steps` here, `--timesteps` there), which is how bench and train once differed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import type { ArgsDef, CommandDef } from 'citty';
import { RENAMED_FLAGS } from '../../src/cli/strict.js';

type Resolvable<T> = T | Promise<T> | (() => T | Promise<T>);
const resolve = async <T>(v: Resolvable<T>): Promise<T> =>
  typeof v === 'function' ? (v as () => T | Promise<T>)() : v;

/** Every flag of every command in src/cli (each file's default export, subcommands included), by command. */
async function allFlags(): Promise<Map<string, string[]>> {
  const dir = new URL('../../src/cli/', import.meta.url);
  const flags = new Map<string, string[]>();
  const visit = async (cmd: CommandDef, name: string) => {
    const args = ((await resolve(cmd.args)) ?? {}) as ArgsDef;
    for (const [flag, a] of Object.entries(args))
      if (a.type !== 'positional') flags.set(flag, [...(flags.get(flag) ?? []), name]);
    const subs = (await resolve(cmd.subCommands)) ?? {};
    for (const [sub, def] of Object.entries(subs))
      await visit(await resolve(def as Resolvable<CommandDef>), `${name} ${sub}`);
  };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'main.js')) {
    const cmd = (await import(new URL(file, dir).href)).default as CommandDef | undefined;
    if (cmd?.meta) await visit(cmd, String((await resolve(cmd.meta))?.name ?? file));
  }
  return flags;
}

test('each flag has one spelling across all commands', async () => {
  const flags = await allFlags();
  assert.ok(flags.has('time-steps') && flags.has('val-fraction') && flags.size > 40, `only ${flags.size} flags found`);
  const bySpelling = new Map<string, string[]>();
  for (const flag of flags.keys()) {
    const key = flag.toLowerCase().replace(/[-_]/g, '');
    bySpelling.set(key, [...(bySpelling.get(key) ?? []), flag]);
  }
  const clashes = [...bySpelling.values()]
    .filter((names) => names.length > 1)
    .map((names) => names.map((n) => `--${n} (${flags.get(n)!.join(', ')})`).join(' vs '));
  assert.deepEqual(clashes, []);
  // An old spelling kept as a rename is no longer declared by any command.
  for (const old of Object.keys(RENAMED_FLAGS)) assert.ok(!flags.has(old), `--${old} is declared again`);
});
