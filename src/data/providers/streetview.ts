// Google Street View Static API: the free metadata endpoint finds a panorama near a point, the image endpoint
// (billed) renders a view of it. Every URL is signed when a signing secret is given.
import { signUrl } from '../signing.js';
import { type Budget, type Http, KeyRing, type Verdict } from './http.js';
import type { Candidate, Provider, Source } from './provider.js';
import { must } from '../../util/must.js';

export const STREETVIEW_ENDPOINT = 'https://maps.googleapis.com';
/** Google's price per 1,000 Street View Static images (metadata requests are free). */
export const STREETVIEW_PRICE_PER_1000 = 7;

export interface StreetViewOptions {
  keys: string[];
  /** One secret for every key, or one per key in the same order; none when the keys are not set up for signing. */
  secrets: string[];
  endpoint: URL;
  /** Square side of the view after cropping; the request asks for `fetchSize + cropBottom` rows. */
  fetchSize: number;
  cropBottom: number;
  /** Metadata search radius in metres. */
  radius: number;
  http: Http;
  budget: Budget;
}

const SETTINGS_HINT =
  'check that GOOGLE_MAPS_API_KEY is a valid key with the Street View Static API enabled, and that ' +
  'GOOGLE_MAPS_URL_SIGNING_SECRET is the signing secret of the same project (or unset if the key needs no signature)';

// Google's own error text can quote the request; keep only a short, key-free reason.
function reason(text: string): string {
  return text
    .replace(/key=[^&\s"]+/gi, 'key=…')
    .replace(/signature=[^&\s"]+/gi, 'signature=…')
    .slice(0, 200);
}

export class StreetViewProvider implements Provider {
  readonly name = 'streetview';
  readonly pricePerImage = STREETVIEW_PRICE_PER_1000 / 1000;
  readonly cropBottom: number;
  // Separate rings: metadata and images have separate quotas, and a metadata success must not hide a spent image quota.
  private readonly metaKeys: KeyRing;
  private readonly imageKeys: KeyRing;

  constructor(private readonly o: StreetViewOptions) {
    if (o.secrets.length > 1 && o.secrets.length !== o.keys.length) {
      throw new Error(
        `GOOGLE_MAPS_URL_SIGNING_SECRET lists ${o.secrets.length} secrets for ${o.keys.length} keys; give one, or ` +
          `one per key`,
      );
    }
    if (o.fetchSize + o.cropBottom > 640 || o.fetchSize < 32) {
      throw new Error(
        `--fetch-size ${o.fetchSize} plus --crop-bottom ${o.cropBottom} must be at most 640 (Street View's limit) ` +
          `and the size at least 32`,
      );
    }
    this.cropBottom = o.cropBottom;
    this.metaKeys = new KeyRing(o.keys, 'GOOGLE_MAPS_API_KEY key', o.http.opts.quotaStrikes);
    this.imageKeys = new KeyRing(o.keys, 'GOOGLE_MAPS_API_KEY key', o.http.opts.quotaStrikes);
  }

  private url(path: string, params: Record<string, string>, keyIndex: number): URL {
    const url = new URL(path, this.o.endpoint);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    url.searchParams.set('key', must(this.o.keys[keyIndex], 'key indices come from a KeyRing over these keys'));
    const secret = this.o.secrets.length === 1 ? this.o.secrets[0] : this.o.secrets[keyIndex];
    return secret ? signUrl(url, secret) : url;
  }

  async find(c: Candidate, seen: (id: string) => boolean): Promise<Source | null> {
    const found = await this.o.http.request({
      what: 'Street View metadata',
      keys: this.metaKeys,
      build: (k) => ({
        url: this.url(
          '/maps/api/streetview/metadata',
          { location: `${c.lat.toFixed(6)},${c.lng.toFixed(6)}`, radius: String(this.o.radius), source: 'outdoor' },
          k,
        ),
      }),
      interpret: (status, body) => interpretMetadata(status, body),
    });
    return found && !seen(found.id) ? found : null;
  }

  async fetchImage(s: Source, c: Candidate): Promise<Buffer | null> {
    return this.o.http.request({
      what: 'Street View image',
      keys: this.imageKeys,
      budget: this.o.budget,
      build: (k) => ({
        url: this.url(
          '/maps/api/streetview',
          {
            size: `${this.o.fetchSize}x${this.o.fetchSize + this.o.cropBottom}`,
            pano: s.id,
            heading: String(c.heading),
            fov: '90',
            pitch: '0',
            return_error_code: 'true',
          },
          k,
        ),
      }),
      interpret: (status, body) => interpretImage(status, body),
    });
  }
}

function refused(text: string): string {
  const which = /signature/i.test(text)
    ? 'the URL signature was rejected: GOOGLE_MAPS_URL_SIGNING_SECRET is wrong or belongs to another project than ' +
      'GOOGLE_MAPS_API_KEY'
    : SETTINGS_HINT;
  return `Street View refused the request (HTTP 403: ${reason(text)}); ${which}`;
}

export function interpretMetadata(status: number, body: Buffer): Verdict<Source | null> {
  if (status === 429) return { retry: 'quota', why: 'HTTP 429' };
  if (status >= 500) return { retry: 'transient', why: `HTTP ${status}` };
  if (status === 403) return { fatal: refused(body.toString('utf8')) };
  if (status !== 200)
    return { fatal: `Street View metadata answered HTTP ${status}: ${reason(body.toString('utf8'))}` };
  let m: {
    status?: string;
    pano_id?: string;
    location?: { lat?: number; lng?: number };
    date?: string;
    error_message?: string;
  };
  try {
    m = JSON.parse(body.toString('utf8'));
  } catch {
    return { retry: 'transient', why: 'metadata answer is not JSON' };
  }
  switch (m.status) {
    case 'OK':
      if (typeof m.pano_id !== 'string' || typeof m.location?.lat !== 'number' || typeof m.location?.lng !== 'number') {
        return { retry: 'transient', why: 'metadata answer lacks pano_id or location' };
      }
      return {
        ok: { id: m.pano_id, lat: m.location.lat, lng: m.location.lng, heading: null, captureDate: m.date ?? null },
      };
    case 'ZERO_RESULTS':
    case 'NOT_FOUND':
      return { ok: null };
    case 'OVER_QUERY_LIMIT':
      return { retry: 'quota', why: 'OVER_QUERY_LIMIT' };
    case 'REQUEST_DENIED':
      return {
        fatal:
          `Street View denied the request ` +
          `(REQUEST_DENIED${m.error_message ? `: ${reason(m.error_message)}` : ''}); ${SETTINGS_HINT}`,
      };
    case 'UNKNOWN_ERROR':
      return { retry: 'transient', why: 'UNKNOWN_ERROR' };
    default:
      return {
        fatal:
          `Street View metadata answered ` +
          `status ${JSON.stringify(m.status)}${m.error_message ? `: ${reason(m.error_message)}` : ''}`,
      };
  }
}

export function interpretImage(status: number, body: Buffer): Verdict<Buffer | null> {
  if (status === 200) return { ok: body };
  const text = body.toString('utf8');
  if (status === 429 || (status === 403 && /quota|OVER_QUERY_LIMIT/i.test(text)))
    return { retry: 'quota', why: `HTTP ${status}` };
  if (status >= 500) return { retry: 'transient', why: `HTTP ${status}` };
  if (status === 404) return { ok: null }; // no imagery for this panorama (return_error_code=true)
  if (status === 403) return { fatal: refused(text) };
  return { fatal: `Street View image answered HTTP ${status}: ${reason(text)}` };
}
