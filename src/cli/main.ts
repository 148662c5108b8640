#!/usr/bin/env node
// The `geospike` command: each subcommand lives in its own file and is loaded only when used.
import { readFileSync } from 'node:fs';
import type { CommandDef } from 'citty';
import { explainError } from './errors.js';
import { checkArgs, resolveLeaf } from './strict.js';

// No ANSI colour where it would show as codes (a file, a pipe) or where the user asked for none (https://no-color.org):
// citty decides once, when it loads, from NO_COLOR=1, so say it in the form it reads before loading it.
if (!process.stdout.isTTY || (process.env.NO_COLOR ?? '') !== '') process.env.NO_COLOR = '1';
const { defineCommand, runMain, runCommand } = await import('citty');

const version = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const main = defineCommand({
  meta: {
    name: 'geospike',
    version,
    description:
      'Guess a city from a street photo with spiking neural networks (Spikformer, Spike-driven Transformer) and a ' +
      'ResNet18 baseline.',
  },
  subCommands: {
    info: () => import('./info.js').then((m) => m.default),
    import: () => import('./import.js').then((m) => m.default),
    collect: () => import('./collect.js').then((m) => m.default),
    train: () => import('./train.js').then((m) => m.default),
    'import-weights': () => import('./import_weights.js').then((m) => m.default),
    predict: () => import('./predict.js').then((m) => m.default),
    export: () => import('./export.js').then((m) => m.default),
    play: () => import('./play.js').then((m) => m.default),
    games: () => import('./games.js').then((m) => m.default),
    eval: () => import('./eval.js').then((m) => m.default),
    energy: () => import('./energy.js').then((m) => m.default),
    compare: () => import('./compare.js').then((m) => m.default),
    explain: () => import('./explain.js').then((m) => m.default),
    study: () => import('./study.js').then((m) => m.default),
    demo: () => import('./demo.js').then((m) => m.default),
    bench: () => import('./bench.js').then((m) => m.default),
    'export-game': () => import('./export_game.js').then((m) => m.default),
    'serve-static': () => import('./serve_static.js').then((m) => m.default),
  },
});

// citty's runMain prints a stack trace for any error; geospike's errors are messages for people, so say just that.
// --verbose, for any command: the GPU stack's own logging (Mesa, Dawn) is let through, for debugging a GPU set-up.
const argv = process.argv.slice(2).filter((a) => a !== '--verbose');
if (argv.length < process.argv.length - 2) process.env.GEOSPIKE_VERBOSE = '1';
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  console.log(version);
} else if (argv.length === 0 || argv.some((a) => a === '--help' || a === '-h')) {
  await runMain(main);
} else {
  try {
    // Every command's flags are checked here, before it runs: unknown flags and empty values are refused.
    const leaf = await resolveLeaf(main as CommandDef, argv);
    const def = typeof leaf.cmd.args === 'function' ? await leaf.cmd.args() : await leaf.cmd.args;
    checkArgs(def ?? {}, leaf.rest, ['geospike', ...leaf.path].join(' '));
    await runCommand(main, { rawArgs: argv });
  } catch (err) {
    process.stderr.write(`geospike: ${process.env.GEOSPIKE_DEBUG ? (err as Error).stack : explainError(err)}\n`);
    process.exitCode = 1;
  }
}
