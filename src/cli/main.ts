#!/usr/bin/env node
// The `geospike` command: each subcommand lives in its own file and is loaded only when used.
import { defineCommand, runMain, runCommand } from 'citty';

const main = defineCommand({
  meta: { name: 'geospike', description: 'Guess a city from a street photo with a spiking neural network.' },
  subCommands: {
    info: () => import('./info.js').then((m) => m.default),
    import: () => import('./import.js').then((m) => m.default),
    collect: () => import('./collect.js').then((m) => m.default),
    train: () => import('./train.js').then((m) => m.default),
    predict: () => import('./predict.js').then((m) => m.default),
    play: () => import('./play.js').then((m) => m.default),
    games: () => import('./games.js').then((m) => m.default),
    eval: () => import('./eval.js').then((m) => m.default),
    energy: () => import('./energy.js').then((m) => m.default),
    compare: () => import('./compare.js').then((m) => m.default),
    explain: () => import('./explain.js').then((m) => m.default),
    study: () => import('./study.js').then((m) => m.default),
    demo: () => import('./demo.js').then((m) => m.default),
    bench: () => import('./bench.js').then((m) => m.default),
  },
});

// citty's runMain prints a stack trace for any error; geospike's errors are messages for people, so say just that.
const argv = process.argv.slice(2);
if (argv.length === 0 || argv.some((a) => a === '--help' || a === '-h')) {
  await runMain(main);
} else {
  try {
    await runCommand(main, { rawArgs: argv });
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`geospike: ${process.env.GEOSPIKE_DEBUG ? e.stack : e.message}\n`);
    process.exitCode = 1;
  }
}
