// Throughput of the collector's processing path, in images per second, with the local fake server answering at
// once (no delay, no rate limit), so the numbers are this machine's decode + crop + resize + encode + write cost, with
// the CPU time this process spent per image (user + system, all threads: steadier than images/s on a shared machine):
//   processing: fetched JPEGs -> processImage (crop, square, Lanczos to 32x32 PNG, display JPEG) -> DatasetWriter
//   end to end: `collect` against the fake Street View server (metadata + signed image requests + processing)
//
//   node dist/src/bench/images.js [--images 400] [--concurrency 4] [--fetch-size 128] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BUILTIN_REGIONS } from '../data/cities.js';
import { collect } from '../data/collect.js';
import { processImage } from '../data/images.js';
import { forEachLimit } from '../util/for_each_limit.js';
import { signUrl } from '../data/signing.js';
import { FakeServer } from '../data/providers/fake_server.js';
import { Budget, Http } from '../data/providers/http.js';
import { StreetViewProvider } from '../data/providers/streetview.js';
import { DatasetWriter } from '../data/writer.js';
import { cycle } from '../util/cycle.js';

const { values: opt } = parseArgs({
  options: {
    images: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '4' },
    'fetch-size': { type: 'string', default: '128' },
    json: { type: 'boolean', default: false },
  },
});
const n = Number(opt.images);
const concurrency = Number(opt.concurrency);
const fetchSize = Number(opt['fetch-size']);
const crop = 20;

const KEY = 'bench-key';
const SECRET = 'YmVuY2gtc2VjcmV0';
const server = new FakeServer({ keys: [KEY], secret: SECRET });
const url = await server.start();
const work = mkdtempSync(path.join(tmpdir(), 'geospike-bench-images-'));
try {
  // The fake server's images, fetched once: the processing stage's input.
  const bodies: Buffer[] = [];
  for (const pano of [
    'CAoSaaaaaaaaaaaaaaaaaa',
    'CAoSbbbbbbbbbbbbbbbbbb',
    'CAoScccccccccccccccccc',
    'CAoSdddddddddddddddddd',
  ]) {
    const u = new URL('/maps/api/streetview', url);
    u.search = new URLSearchParams({ size: `${fetchSize}x${fetchSize + crop}`, pano, key: KEY }).toString();
    bodies.push(Buffer.from(await (await fetch(signUrl(u, SECRET))).arrayBuffer()));
  }

  const writer = await DatasetWriter.open(path.join(work, 'processing'), ['city']);
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  await forEachLimit(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      const img = await processImage(cycle(bodies, i), { cropBottom: crop, displayMaxSide: 4096 });
      await writer.add(
        {
          id: `img${i}`,
          class: 'city',
          split: 'train',
          provider: 'bench',
          sourceId: `${i}`,
          lat: 0,
          lng: 0,
          heading: 0,
          captureDate: null,
        },
        img.png,
        img.display,
      );
    },
  );
  const processing = n / ((performance.now() - t0) / 1000);
  const processingCpu = cpuMsPerImage(cpu0);
  await writer.close();

  const http = new Http({ qps: 1e6, timeoutMs: 10000, retries: 3, backoffMs: 10, quotaStrikes: 6 });
  const provider = new StreetViewProvider({
    keys: [KEY],
    secrets: [SECRET],
    endpoint: new URL(url),
    fetchSize,
    cropBottom: crop,
    radius: 50,
    http,
    budget: new Budget(1e9),
  });
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  await collect({
    provider,
    regions: [BUILTIN_REGIONS.paris],
    perCity: n,
    out: path.join(work, 'collect'),
    split: 'index',
    valFraction: 0.2,
    seed: 1,
    concurrency,
  });
  const seconds = (performance.now() - t0) / 1000;
  const endToEnd = n / seconds;
  const endToEndCpu = cpuMsPerImage(cpu0); // includes the fake server, which runs in this process

  const result = {
    images: n,
    concurrency,
    fetchSize: `${fetchSize}x${fetchSize + crop}`,
    processingImagesPerSec: Number(processing.toFixed(1)),
    processingCpuMsPerImage: processingCpu,
    endToEndImagesPerSec: Number(endToEnd.toFixed(1)),
    endToEndCpuMsPerImage: endToEndCpu,
    requestsPerSec: Number((http.stats.requests / seconds).toFixed(1)),
  };
  if (opt.json) console.log(JSON.stringify(result));
  else {
    console.log(
      `images: ${n}, concurrency ${concurrency}, fetched ${result.fetchSize} JPEG -> 32x32 PNG + display JPEG`,
    );
    console.log(
      `  processing (decode, crop, resize, encode, write): ${result.processingImagesPerSec} ` +
        `images/s, ${processingCpu} ms CPU an image`,
    );
    console.log(
      `  end to end vs the fake server (metadata + signed image + processing): ${result.endToEndImagesPerSec} ` +
        `images/s, ${result.requestsPerSec} requests/s, ${endToEndCpu} ms CPU an image (server's included)`,
    );
  }
} finally {
  await server.close();
  rmSync(work, { recursive: true, force: true });
}

function cpuMsPerImage(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return Number(((d.user + d.system) / 1000 / n).toFixed(2));
}
