#!/usr/bin/env node
// The `geospike` command: each subcommand lives in its own file and is loaded only when used.
import { defineCommand, runMain } from 'citty';

const main = defineCommand({
  meta: { name: 'geospike', description: 'Guess a city from a street photo with a spiking neural network.' },
  subCommands: {
    info: () => import('./info.js').then((m) => m.default),
    import: () => import('./import.js').then((m) => m.default),
  },
});

runMain(main);
