// Shared set-up for the collection tests: a fake provider server and checks on the dataset folder it produced.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_REGIONS, type Region } from '../../src/data/cities.js';
import { parseManifest, type ManifestEntry } from '../../src/data/manifest.js';
import { Budget, Http } from '../../src/data/providers/http.js';
import { MapillaryProvider } from '../../src/data/providers/mapillary.js';
import { StreetViewProvider } from '../../src/data/providers/streetview.js';

// Values chosen to be found by a byte search if they leak anywhere.
export const KEY_A = 'AIzaFAKEkeyAAAA1111';
export const KEY_B = 'AIzaFAKEkeyBBBB2222';
export const SECRET = 'c2VjcmV0LXNpZ25pbmcta2V5LTEyMw=='; // URL-safe base64
export const TOKEN = 'MLY|4242|fakeTokenZZZ';
export const CITIES: [paris: Region, london: Region] = [BUILTIN_REGIONS.paris, BUILTIN_REGIONS.london];

/** Fast retries for tests: no rate limit to speak of, short timeouts and backoff. */
export function fastHttp(log?: (l: string) => void, signal?: AbortSignal): Http {
  return new Http({ qps: 10000, timeoutMs: 1500, retries: 5, backoffMs: 2, quotaStrikes: 5, log, signal });
}

export function streetView(
  endpoint: string,
  o: { keys?: string[]; secret?: string; http?: Http; budget?: number } = {},
) {
  const http = o.http ?? fastHttp();
  return new StreetViewProvider({
    keys: o.keys ?? [KEY_A],
    secrets: [o.secret ?? SECRET],
    endpoint: new URL(endpoint),
    fetchSize: 64,
    cropBottom: 20,
    radius: 50,
    http,
    budget: new Budget(o.budget ?? 1e9),
  });
}

export function mapillary(endpoint: string, o: { tokens?: string[]; http?: Http; budget?: number } = {}) {
  return new MapillaryProvider({
    tokens: o.tokens ?? [TOKEN],
    endpoint: new URL(endpoint),
    fetchSize: 256,
    cropBottom: 0,
    radius: 60,
    http: o.http ?? fastHttp(),
    budget: new Budget(o.budget ?? 1e9),
  });
}

export function manifest(dir: string): ManifestEntry[] {
  return parseManifest(readFileSync(path.join(dir, 'manifest.jsonl'), 'utf8')).entries;
}

/**
 * Asserts the folder is consistent (and complete: `perCity` per class,
 * when given): no duplicate source, every file listed and intact.
 */
export function checkDataset(dir: string, classes: string[], perCity?: number): ManifestEntry[] {
  const entries = manifest(dir);
  if (perCity !== undefined)
    for (const c of classes) assert.equal(entries.filter((e) => e.class === c).length, perCity, `images of ${c}`);
  assert.equal(new Set(entries.map((e) => e.sourceId)).size, entries.length, 'duplicate sources');
  const listed = new Set<string>();
  for (const e of entries) {
    const file = path.join(dir, e.split, e.class, `${e.id}.png`);
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), e.sha256, `${file} matches its sha256`);
    listed.add(file);
    listed.add(path.join(dir, 'display', e.class, `${e.id}.jpg`));
  }
  for (const s of ['train', 'validation', 'display']) {
    for (const c of classes) {
      for (const name of readdirSync(path.join(dir, s, c))) {
        assert.ok(listed.has(path.join(dir, s, c, name)), `unlisted or partial file ${s}/${c}/${name}`);
      }
    }
  }
  return entries;
}

/** Every byte of every file under `dir`. */
export function allFiles(dir: string): Buffer[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => readFileSync(path.join(d.parentPath ?? (d as unknown as { path: string }).path, d.name)));
}

/** An error's message and stack, and those of its causes, for assertNoSecrets. */
export function errorTexts(e: unknown): string[] {
  if (!(e instanceof Error)) return [String(e)];
  return [String(e), e.stack ?? '', ...(e.cause === undefined ? [] : errorTexts(e.cause))];
}

export function assertNoSecrets(texts: (string | Buffer)[], secrets = [KEY_A, KEY_B, SECRET, TOKEN]): void {
  for (const t of texts) {
    const b = Buffer.isBuffer(t) ? t : Buffer.from(t);
    for (const s of secrets)
      assert.equal(b.includes(s), false, `a secret leaked into: ${b.subarray(0, 200).toString()}`);
  }
}
