// 50 hostile uploads at once against POST /api/predict, then one honest request: the status codes, and the peak RSS
// of the process (server and this client together; the client holds the few payloads, under 20 MB).
//
//   node dist/src/bench/serve.js --hostile 50
import sharp from 'sharp';

export interface HostileReport {
  uploads: number;
  kinds: Record<string, Record<number, number>>;
  peakRssMb: number;
  rssBeforeMb: number;
  honestStatus: number;
}

/** A PNG that declares `side` x `side` pixels of one colour: a few hundred KB that decode to side² x 3 bytes. */
async function bombPng(side: number): Promise<Buffer> {
  return sharp({ create: { width: side, height: side, channels: 3, background: '#777777' } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

export async function hostileBurst(base: string, n: number, honest: Buffer): Promise<HostileReport> {
  const kinds: [string, string, Buffer][] = [
    ['png 8192x8192', 'image/png', await bombPng(8192)],
    [
      'svg',
      'image/svg+xml',
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%"/></svg>',
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
      const [name, type, body] = kinds[i % kinds.length];
      const res = await fetch(`${base}/api/predict`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: new Uint8Array(body),
      });
      await res.arrayBuffer();
      (counts[name] ??= {})[res.status] = (counts[name][res.status] ?? 0) + 1;
    }),
  );
  const honestRes = await fetch(`${base}/api/predict`, {
    method: 'POST',
    headers: { 'content-type': 'image/jpeg' },
    body: new Uint8Array(honest),
  });
  await honestRes.arrayBuffer();
  return {
    uploads: n,
    kinds: counts,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    rssBeforeMb,
    honestStatus: honestRes.status,
  };
}
