// Throughput of `import table` / `import osv5m` reading photos out of a zip archive, in images per second, with the
// CPU time this process spent per image (steadier than images/s on a shared machine). The photos are synthetic JPEGs
// of the size collect's benchmark fetches (128x148 by default), deflated in one archive, listed in a table inside
// Paris's region; the same photos also go through collect's processing path alone first (bench:images' first
// number), so the two compare on equal inputs:
//   table + archive listing -> entry inflate + CRC -> processImage (crop, square, Lanczos to 32x32, display JPEG)
//   -> DatasetWriter
//
//   node dist/src/bench/import_zip.js [--images 400] [--concurrency 4] [--size 128x148] [--json]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { crc32, deflateRawSync } from 'node:zlib';
import sharp from 'sharp';
import { BUILTIN_REGIONS } from '../data/cities.js';
import { importTable } from '../data/importers/table.js';
import { processImage } from '../data/images.js';
import { forEachLimit } from '../util/for_each_limit.js';
import { DatasetWriter } from '../data/writer.js';
import { cycle } from '../util/cycle.js';

const { values: opt } = parseArgs({
  options: {
    images: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '4' },
    size: { type: 'string', default: '128x148' },
    json: { type: 'boolean', default: false },
  },
});
const n = Number(opt.images);
const concurrency = Number(opt.concurrency);
const [w, h] = photoSize(opt.size);

function photoSize(size: string): [number, number] {
  const [w, h] = size.split('x').map(Number);
  if (w === undefined || h === undefined || !(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0))
    throw new Error(`--size must be WIDTHxHEIGHT in pixels, e.g. 128x148; got '${size}'`);
  return [w, h];
}

/** A noisy photo-like JPEG (noise keeps the JPEG and its deflated entry at a realistic size). */
async function photo(seed: number): Promise<Buffer> {
  const px = Buffer.alloc(w * h * 3);
  let s = seed * 2654435761;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    px[i] = (((i / 3) % w) * 2 + (s >>> 26)) & 255;
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** One deflated zip (no zip64: the benchmark's archive is small). */
function zip(entries: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = deflateRawSync(e.data);
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    head.writeUInt16LE(8, 8);
    head.writeUInt32LE(crc32(e.data), 14);
    head.writeUInt32LE(body.length, 18);
    head.writeUInt32LE(e.data.length, 22);
    head.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt32LE(crc32(e.data), 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(head, name, body);
    central.push(cd, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, end]);
}

const work = mkdtempSync(path.join(tmpdir(), 'geospike-bench-import-zip-'));
try {
  const photos = await Promise.all([0, 1, 2, 3].map(photo));
  const rows = ['id,latitude,longitude'];
  const entries = [];
  for (let i = 0; i < n; i++) {
    rows.push(`${1e15 + i},${48.83 + (i % 50) * 0.001},${2.28 + Math.floor(i / 50) * 0.001}`);
    entries.push({ name: `train/${i % 10}/${1e15 + i}.jpg`, data: cycle(photos, i) });
  }
  writeFileSync(path.join(work, 'train.csv'), `${rows.join('\n')}\n`);
  writeFileSync(path.join(work, '00.zip'), zip(entries));

  // The same photos through collect's processing path alone (as bench:images does), for a ratio on equal inputs.
  const writer = await DatasetWriter.open(path.join(work, 'processing'), ['paris']);
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  await forEachLimit(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      const img = await processImage(cycle(photos, i), { cropBottom: 0, displayMaxSide: 256 });
      await writer.add(
        {
          id: `img${i}`,
          class: 'paris',
          split: 'train',
          provider: 'bench',
          sourceId: `${i}`,
          lat: 0,
          lng: 0,
          heading: null,
          captureDate: null,
        },
        img.png,
        img.display,
      );
    },
  );
  const processingSeconds = (performance.now() - t0) / 1000;
  const pd = process.cpuUsage(cpu0);
  await writer.close();

  t0 = performance.now();
  cpu0 = process.cpuUsage();
  const r = await importTable({
    csv: [path.join(work, 'train.csv')],
    images: [path.join(work, '00.zip')],
    out: path.join(work, 'data'),
    regions: [BUILTIN_REGIONS.paris],
    columns: { id: 'id', lat: 'latitude', lon: 'longitude' },
    provider: 'osv5m',
    split: 'index',
    concurrency,
  });
  const seconds = (performance.now() - t0) / 1000;
  const d = process.cpuUsage(cpu0);
  if (r.written !== n) throw new Error(`imported ${r.written} of ${n}`);
  const result = {
    images: n,
    concurrency,
    size: `${w}x${h}`,
    importImagesPerSec: Number((n / seconds).toFixed(1)),
    importCpuMsPerImage: Number(((d.user + d.system) / 1000 / n).toFixed(2)),
    processingImagesPerSec: Number((n / processingSeconds).toFixed(1)),
    processingCpuMsPerImage: Number(((pd.user + pd.system) / 1000 / n).toFixed(2)),
  };
  if (opt.json) console.log(JSON.stringify(result));
  else {
    console.log(`${n} ${result.size} JPEGs, concurrency ${concurrency}`);
    console.log(
      `  import from zip (table, listing, inflate, CRC, decode, resize, encode, write): ${result.importImagesPerSec} ` +
        `images/s, ${result.importCpuMsPerImage} ms CPU an image`,
    );
    console.log(
      `  the same photos through collect's processing alone (decode, resize, encode, write): ` +
        `${result.processingImagesPerSec} images/s, ${result.processingCpuMsPerImage} ms CPU an image`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
