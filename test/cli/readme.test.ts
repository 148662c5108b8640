// The README is for a new user: from a clone to the demo and the game within its first screen, at most about 150
// lines, and every `npx geospike ...` it shows is a command geospike accepts (strict flags, as main.ts checks them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArgsDef, CommandDef } from 'citty';
import { checkArgs, resolveLeaf } from '../../src/cli/strict.js';
import { runPaths } from '../../src/train/run_folder.js';
import { packageRoot } from '../../src/util/package_root.js';
import { must } from '../../src/util/must.js';

const ROOT = packageRoot();
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const LINES = README.split('\n');
/** A terminal's first screen, as the issue counts it. */
const FIRST_SCREEN = LINES.slice(0, 50).join('\n');

/** A command's declared args, loaded as main.ts loads it (src/cli/<name>.ts, dashes as underscores). */
async function argsOf(name: string): Promise<ArgsDef> {
  const cmd = (await import(`../../src/cli/${name.replaceAll('-', '_')}.js`)).default as CommandDef;
  const args = typeof cmd.args === 'function' ? await cmd.args() : await cmd.args;
  return args ?? {};
}

/** The default of a flag the command declares. */
const defaultOf = (args: ArgsDef, flag: string) => must(args[flag], `--${flag} is declared`).default;

test('the README is short: at most about 150 lines', () => {
  assert.ok(LINES.length <= 152, `README.md has ${LINES.length} lines; move detail to docs/`);
});

test(
  'the first screen goes from a clone to the demo and the game: ' + "set-up, demo, report, the demo's play command",
  async () => {
    assert.match(FIRST_SCREEN, /^bash scripts\/setup\.sh && npx geospike demo$/m);
    assert.match(FIRST_SCREEN, /demo\/report\.html/);
    // The play command is the one the demo prints for its default presets and folder (src/cli/demo.ts).
    const demo = await argsOf('demo');
    const out = String(defaultOf(demo, 'out'));
    const runs = [defaultOf(demo, 'snn'), defaultOf(demo, 'ann')].map(
      (preset) => runPaths(join(out, 'runs', String(preset))).best,
    );
    const play = `npx geospike play --checkpoint ${runs.join(',')} --data ${join(out, 'data')}`;
    assert.ok(FIRST_SCREEN.includes(`  ${play}\n`), `the first screen lacks the demo's play line: ${play}`);
    const flags = await argsOf('play');
    const address = `http://${defaultOf(flags, 'host')}:${defaultOf(flags, 'port')}/`;
    assert.ok(FIRST_SCREEN.includes(address), 'the address play prints');
  },
);

test('every `npx geospike ...` the README shows is a known command with known flags', async () => {
  // Shell lines in code blocks and inline code spans, without a trailing comment.
  const commands = [...README.matchAll(/^\s*(npx geospike [^\n#]*)/gm), ...README.matchAll(/`(npx geospike [^`\n]*)`/g)]
    .map((m) => must(m[1], 'the command group').trim())
    .filter((c) => !c.includes('COMMAND')); // `npx geospike COMMAND --help`: a placeholder
  assert.ok(commands.length >= 15, `found only ${commands.length} commands`);
  const root = { subCommands: {} as Record<string, () => Promise<CommandDef>> } as CommandDef;
  const sub = root.subCommands as Record<string, () => Promise<CommandDef>>;
  for (const line of commands) {
    const argv = line.split(/\s+/).slice(2);
    const name = must(argv[0], 'npx geospike is followed by a command');
    sub[name] ??= async () => (await import(`../../src/cli/${name.replaceAll('-', '_')}.js`)).default;
    const leaf = await resolveLeaf(root, argv);
    const def = typeof leaf.cmd.args === 'function' ? await leaf.cmd.args() : await leaf.cmd.args;
    assert.doesNotThrow(() => checkArgs(def ?? {}, leaf.rest, `geospike ${leaf.path.join(' ')}`), line);
  }
});

test("the README's links lead to files in the repository", () => {
  const links = [...README.matchAll(/\]\(([^)#\s]+)\)/g)]
    .map((m) => must(m[1], 'the link group'))
    .filter((l) => !/^[a-z]+:/.test(l));
  assert.ok(links.length >= 10);
  for (const link of links) assert.ok(existsSync(join(ROOT, link)), `README links to ${link}, which is missing`);
});
