#!/usr/bin/env node
// The `geospike` command: each subcommand lives in its own file and is loaded only when used.
import { defineCommand, runMain } from 'citty';

const main = defineCommand({
  meta: { name: 'geospike', description: 'Guess a city from a street photo with a spiking neural network.' },
  subCommands: {
    // subcommands are added here, one file each
  },
});

runMain(main);
