// `geospike predict --checkpoint CKPT IMAGE...`: the city of each photo, with every class's probability, best first.
import { explainImage } from '../serve/explain_prediction.js';
import { defineCommand } from 'citty';
import { readFile, writeFile } from 'node:fs/promises';
import { backendArg, checkedCheckpoint, checkpointArg, intOption, jsonArg } from './args.js';
import { initEngine } from '../engine/backend.js';
import { Predictor, type Prediction } from '../serve/predictor.js';

const pct = (p: number) => `${(p * 100).toFixed(1)}%`;

export default defineCommand({
  meta: {
    name: 'predict',
    description: 'Guess the city of photos (JPEG/PNG/WebP, any size) with a trained checkpoint',
  },
  args: {
    images: { type: 'positional', required: true, description: 'Image files (one or more)' },
    checkpoint: checkpointArg(),
    json: jsonArg('an array, one object per image'),
    'crop-bottom': {
      type: 'string',
      default: '0',
      description: 'Rows cut from the bottom of each photo first, as the dataset was cropped (e.g. a watermark strip)',
    },
    explain: {
      type: 'string',
      description:
        'Write the evidence map of the guess over the 32x32 input as this PNG (OUT-1.png, OUT-2.png... for several ' +
        'images)',
    },
    backend: backendArg,
  },
  async run({ args }) {
    const files = (args._ as string[]).length ? (args._ as string[]) : [args.images];
    const cropBottom = intOption('--crop-bottom', args['crop-bottom']);
    if (args.explain !== undefined && !args.explain.toLowerCase().endsWith('.png'))
      throw new Error(`--explain takes a .png file to write, got '${args.explain}'`);
    checkedCheckpoint(args.checkpoint);
    await initEngine(args.backend);
    const predictor = Predictor.load(args.checkpoint, { cropBottom });
    const results: ({ image: string } & (Prediction | { error: string }))[] = [];
    const explainOut = (i: number) =>
      files.length === 1 ? args.explain! : args.explain!.replace(/(\.png)?$/i, (ext) => `-${i + 1}${ext || '.png'}`);
    for (const [i, image] of files.entries()) {
      try {
        if (args.explain !== undefined) {
          const { prediction, png, method } = await explainImage(predictor, await readFile(image));
          const out = explainOut(i);
          await writeFile(out, png, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
            throw new Error(
              err.code === 'EEXIST' ? `${out} already exists; choose another --explain name or remove it` : err.message,
            );
          });
          console.error(`${image}: evidence map (${method}) written to ${out}`);
          results.push({ image, ...prediction });
          continue;
        }
        results.push({ image, ...(await predictor.predictImage(await readFile(image))) });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        results.push({ image, error: e.code === 'ENOENT' ? 'no such file' : e.message });
      }
    }
    predictor.dispose();
    if (args.json) {
      console.log(JSON.stringify(results, null, 2));
    } else {
      for (const r of results) {
        if ('error' in r) continue;
        const rest = r.probabilities
          .slice(1)
          .map((p) => `${p.class} ${pct(p.probability)}`)
          .join('  ');
        console.log(`${r.image}: ${r.class} (${pct(r.confidence)})  ${rest}`);
      }
    }
    const failed = results.filter((r) => 'error' in r) as { image: string; error: string }[];
    for (const f of failed) console.error(`geospike predict: ${f.image}: ${f.error}`);
    if (failed.length) process.exitCode = 1;
  },
});
