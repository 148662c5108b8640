// 50 hostile uploads at once against POST /api/predict, then one honest request: the status codes, and the peak RSS
// of the process (server and this client together; the client holds the few payloads, under 20 MB).
//
//   node dist/src/bench/serve.js --hostile 50
import { createDeflate } from 'node:zlib';
import sharp from 'sharp';
import { cycle } from '../util/cycle.js';

export interface HostileReport {
  uploads: number;
  kinds: Record<string, Record<number, number>>;
  peakRssMb: number;
  rssBeforeMb: number;
  honestStatus: number;
  /** How long the honest request after the burst took (ms). */
  honestMs: number;
}

/** A PNG that declares `side` x `side` pixels of one colour: a few hundred KB that decode to side² x 3 bytes. */
async function bombPng(side: number): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: '#777777' } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/**
 * A real 1 x `height` RGB PNG (all black), built in 1 MB pieces: 1 x 39,000,000 is ~150 KB, passes a 40-megapixel
 * check, and took ~13 s to decode before the longest-side limit (issue #21).
 */
export async function tallPng(height: number): Promise<Buffer> {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const deflate = createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => deflate.on('end', resolve));
  const rows = Buffer.alloc(4 * 262_144); // 262,144 rows: a filter byte and 3 zero bytes each
  for (let left = height; left > 0; left -= 262_144) {
    if (!deflate.write(left >= 262_144 ? rows : rows.subarray(0, 4 * left)))
      await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.concat(out)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

export async function hostileBurst(base: string, n: number, honest: Buffer): Promise<HostileReport> {
  const kinds: [string, string, Buffer][] = [
    ['png 8192x8192', 'image/png', await bombPng(8192)],
    ['png 1x39000000', 'image/png', await tallPng(39_000_000)],
    [
      'svg',
      'image/svg+xml',
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" ' +
          'height="100%"/></svg>',
      ),
    ],
    [
      'tiff',
      'image/tiff',
      await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000' } })
        .tiff()
        .toBuffer(),
    ],
    // Passes the header check (24 MP): these are what the prediction queue has to hold back.
    [
      'jpeg 6000x4000',
      'image/jpeg',
      await sharp({ create: { width: 6000, height: 4000, channels: 3, background: '#345678' } })
        .jpeg()
        .toBuffer(),
    ],
    ['truncated jpeg', 'image/jpeg', honest.subarray(0, honest.length >> 1)],
  ];
  const rssBeforeMb = process.resourceUsage().maxRSS / 1024;
  const counts: Record<string, Record<number, number>> = {};
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const [name, type, body] = cycle(kinds, i);
      const res = await fetch(`${base}/api/predict`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: new Uint8Array(body),
      });
      await res.arrayBuffer();
      counts[name] ??= {};
      counts[name][res.status] = (counts[name][res.status] ?? 0) + 1;
    }),
  );
  const t0 = performance.now();
  const honestRes = await fetch(`${base}/api/predict`, {
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: new Uint8Array(honest),
  });
  await honestRes.arrayBuffer();
  const honestMs = Math.round(performance.now() - t0);
  return {
    uploads: n,
    kinds: counts,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    rssBeforeMb,
    honestStatus: honestRes.status,
    honestMs,
  };
}
