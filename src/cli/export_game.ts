// `geospike export-game --checkpoint RUN... --data DATASET --out
// SITE/`: the game as a static site (src/static/export.ts).
import { defineCommand } from 'citty';
import { checkpointArg, intOption } from './args.js';
import { DEFAULT_PHOTOS, exportGame } from '../static/export.js';

export default defineCommand({
  meta: {
    name: 'export-game',
    description: "Write the game as a static site whose models run in the player's browser (no geospike server)",
  },
  args: {
    checkpoint: checkpointArg('the model to play against; two, comma-separated, for a three-way game'),
    data: { type: 'string', required: true, description: 'Dataset folder; photos come from its validation images' },
    out: {
      type: 'string',
      required: true,
      description: 'Folder to write the site into (new, empty, or an earlier export)',
    },
    photos: { type: 'string', default: String(DEFAULT_PHOTOS), description: 'Validation photos the site holds' },
    rounds: { type: 'string', default: '10', description: 'Rounds of a free game' },
    seed: { type: 'string', description: "The site's seed: which photos, and every daily challenge (default random)" },
    'photo-size': { type: 'string', default: '256', description: 'Largest side of the exported photos, in pixels' },
    'photo-quality': { type: 'string', default: '80', description: 'JPEG quality of the exported photos (1-100)' },
    'crop-bottom': {
      type: 'string',
      default: '0',
      description: "Rows the page cuts from the bottom of a visitor's own photo, as the dataset was cropped",
    },
  },
  async run({ args }) {
    const checkpoints = args.checkpoint
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const r = await exportGame({
      checkpoints,
      data: args.data,
      out: args.out,
      photos: intOption('--photos', args.photos, 1),
      rounds: intOption('--rounds', args.rounds, 1),
      seed: intOption('--seed', args.seed),
      cropBottom: intOption('--crop-bottom', args['crop-bottom']),
      photoSize: intOption('--photo-size', args['photo-size'], 32),
      photoQuality: intOption('--photo-quality', args['photo-quality'], 1),
    });
    console.error(
      `geospike export-game: ${r.models.join(' and ')} with ${r.photos} photos, ${r.files} files, ` +
        `${(r.bytes / 1e6).toFixed(2)} MB in ${r.out}`,
    );
    console.error(`geospike export-game: try it with: npx geospike serve-static ${args.out}`);
  },
});
