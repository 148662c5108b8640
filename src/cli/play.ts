// `geospike play --checkpoint CKPT --data DIR`: a GeoGuessr-style game in the browser, you against the model(s).
import { defineCommand } from 'citty';
import {
  backendArg,
  checkedCheckpoint,
  checkedDataset,
  checkpointArg,
  hostArg,
  intOption,
  portArg,
  portOption,
} from './args.js';
import { initEngine } from '../engine/backend.js';
import { openDeck } from '../serve/deck.js';
import { GameHall } from '../serve/game.js';
import { Predictor } from '../serve/predictor.js';
import { buildServer } from '../serve/server.js';
import { stopOnSignal } from '../util/stop_on_signal.js';

/** Comma-separated checkpoints -> predictors named by preset, made unique when two share one. */
export function loadContestants(list: string, cropBottom: number): Predictor[] {
  const paths = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (paths.length === 0) throw new Error('--checkpoint needs at least one checkpoint');
  if (paths.length > 2)
    throw new Error(`--checkpoint takes one or two checkpoints (comma-separated), got ${paths.length}`);
  const predictors = paths.map((p) => Predictor.load(p, { cropBottom }));
  const [a, b] = predictors;
  if (a && b && a.name === b.name) {
    return paths.map((p, i) => Predictor.load(p, { cropBottom, name: `${a.name} #${i + 1}` }));
  }
  return predictors;
}

export default defineCommand({
  meta: { name: 'play', description: 'Play GeoGuessr-style rounds against the model in your browser' },
  args: {
    checkpoint: checkpointArg(
      'the model to play against; two, comma-separated, for a three-way game (e.g. Spikformer,ResNet18)',
    ),
    data: {
      type: 'string',
      required: true,
      description: 'Dataset folder; rounds use its validation images and their display copies',
    },
    rounds: { type: 'string', default: '25', description: 'Rounds per game' },
    seed: {
      type: 'string',
      description:
        'Seed of the rounds drawn: every game then deals the same images (for a study; a player who plays twice ' +
        'knows them). Default: random per game, never shown to players',
    },
    port: portArg,
    host: hostArg,
    results: {
      type: 'string',
      default: 'geospike-games.jsonl',
      description: 'Finished games are appended here, one JSON line each',
    },
    'crop-bottom': {
      type: 'string',
      default: '0',
      description: 'Rows cut from the bottom of photos sent to /api/predict, as the dataset was cropped',
    },
    backend: backendArg,
  },
  async run({ args }) {
    const rounds = intOption('--rounds', args.rounds, 1)!;
    const port = portOption(args.port);
    const cropBottom = intOption('--crop-bottom', args['crop-bottom'])!;
    const seed = intOption('--seed', args.seed);
    for (const c of args.checkpoint.split(',').map((s) => s.trim())) if (c) checkedCheckpoint(c);
    await checkedDataset(args.data);
    await initEngine(args.backend);
    const predictors = loadContestants(args.checkpoint, cropBottom);
    const deck = await openDeck(args.data);
    const playable = Math.min(rounds, deck.cards.length);
    if (playable < rounds)
      console.error(
        `geospike play: ${args.data} has ${deck.cards.length} playable validation images; games have ${playable} ` +
          `rounds`,
      );
    const hall = new GameHall(deck, predictors, {
      defaultRounds: playable,
      seed,
      resultsFile: args.results,
    });
    const app = await buildServer({ hall, predictors });
    await app.listen({ host: args.host, port });
    const addr = app.server.address();
    const where =
      typeof addr === 'object' && addr
        ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/`
        : String(addr);
    console.error(
      `geospike play: ${predictors.map((p) => p.name).join(' and ')} vs you, ${playable} rounds ` +
        `from ${deck.cards.length} images`,
    );
    console.error(`geospike play: open ${where}  (results -> ${args.results}, table at ${where}results; Ctrl-C stops)`);
    // A signal is how the game ends: the server closes and the results are flushed, then it exits 0.
    const close = async () => {
      await app.close();
      await hall.flush();
      process.exit(0);
    };
    stopOnSignal((line) => console.error(`geospike play: ${line}`), {
      doing: 'closing the server and saving the results',
      onStop: () => void close(),
    });
  },
});
