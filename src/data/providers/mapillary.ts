// Mapillary Graph API: image search in a small box around each candidate point (the API returns at most 2,000
// images per query, so boxes stay small), then the thumbnail download. The token goes in the Authorization header,
// never in a URL, and is not sent to the thumbnail host.
import { type Budget, checkEndpoint, type Http, KeyRing, type Verdict } from './http.js';
import type { Candidate, Provider, Source } from './provider.js';

export const MAPILLARY_ENDPOINT = 'https://graph.mapillary.com';
/** The API's cap on images per search. */
export const MAPILLARY_MAX_PER_QUERY = 2000;

export interface MapillaryOptions {
  tokens: string[];
  endpoint: URL;
  /** Smallest thumbnail at least this wide is fetched (256, 1024 or 2048). */
  fetchSize: number;
  cropBottom: number;
  /** Half-side of the search box in metres. */
  radius: number;
  http: Http;
  /** Counts thumbnail downloads against --max-requests, as Street View counts its billed images: a run whose every
   * thumbnail is unusable would otherwise never stop. */
  budget: Budget;
}

const TOKEN_HINT =
  'check MAPILLARY_ACCESS_TOKEN: it must be a client access token (MLY|...) from ' +
  'https://www.mapillary.com/dashboard/developers';

export function thumbField(fetchSize: number): string {
  return fetchSize <= 256 ? 'thumb_256_url' : fetchSize <= 1024 ? 'thumb_1024_url' : 'thumb_2048_url';
}

interface SearchHit {
  id?: string;
  computed_geometry?: { coordinates?: [number, number] };
  geometry?: { coordinates?: [number, number] };
  captured_at?: number;
  compass_angle?: number;
  [thumb: string]: unknown;
}

export class MapillaryProvider implements Provider {
  readonly name = 'mapillary';
  readonly pricePerImage = 0;
  readonly cropBottom: number;
  private readonly tokens: KeyRing;
  private readonly field: string;

  constructor(private readonly o: MapillaryOptions) {
    this.cropBottom = o.cropBottom;
    this.field = thumbField(o.fetchSize);
    this.tokens = new KeyRing(o.tokens, 'MAPILLARY_ACCESS_TOKEN token', o.http.opts.quotaStrikes);
  }

  async find(c: Candidate, seen: (id: string) => boolean): Promise<Source | null> {
    const dLat = this.o.radius / 110574;
    const dLng = this.o.radius / (111320 * Math.cos((c.lat * Math.PI) / 180));
    const hits = await this.o.http.request({
      what: 'Mapillary image search',
      keys: this.tokens,
      build: (k) => {
        const url = new URL('/images', this.o.endpoint);
        url.searchParams.set('fields', `id,computed_geometry,captured_at,compass_angle,${this.field}`);
        url.searchParams.set(
          'bbox',
          [c.lng - dLng, c.lat - dLat, c.lng + dLng, c.lat + dLat].map((v) => v.toFixed(6)).join(','),
        );
        url.searchParams.set('limit', String(MAPILLARY_MAX_PER_QUERY));
        return { url, headers: { authorization: `OAuth ${this.o.tokens[k]}` } };
      },
      interpret: (status, body) => interpretSearch(status, body),
    });
    // The closest unseen image with a thumbnail.
    let best: Source | null = null;
    let bestD = Infinity;
    for (const h of hits) {
      const pos = h.computed_geometry?.coordinates ?? h.geometry?.coordinates;
      const thumb = h[this.field];
      if (typeof h.id !== 'string' || !pos || typeof thumb !== 'string' || seen(h.id)) continue;
      const d = (pos[1] - c.lat) ** 2 + ((pos[0] - c.lng) * Math.cos((c.lat * Math.PI) / 180)) ** 2;
      if (d < bestD) {
        bestD = d;
        best = {
          id: h.id,
          lat: pos[1],
          lng: pos[0],
          heading: typeof h.compass_angle === 'number' ? h.compass_angle : null,
          captureDate: h.captured_at === undefined || h.captured_at === null ? null : captureDay(h.captured_at),
          ref: thumb,
        };
      }
    }
    return best;
  }

  async fetchImage(s: Source): Promise<Buffer | null> {
    const url = checkEndpoint(s.ref ?? '', 'the thumbnail URL Mapillary returned');
    return this.o.http.request({
      what: 'Mapillary thumbnail',
      budget: this.o.budget,
      build: () => ({ url }),
      interpret: (status, body): Verdict<Buffer | null> => {
        if (status === 200) return { ok: body };
        if (status === 429) return { retry: 'quota', why: 'HTTP 429' };
        if (status >= 500) return { retry: 'transient', why: `HTTP ${status}` };
        return { ok: null }; // expired or missing thumbnail: skip this image
      },
    });
  }
}

/** captured_at (ms since 1970) as YYYY-MM-DD; anything else is passed on as text, for the record check to refuse. */
function captureDay(v: unknown): string {
  const d = new Date(typeof v === 'number' ? v : NaN);
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().slice(0, 10);
}

export function interpretSearch(status: number, body: Buffer): Verdict<SearchHit[]> {
  let json: { data?: SearchHit[]; error?: { message?: string; code?: number } } | undefined;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const code = json?.error?.code;
  const message = (json?.error?.message ?? '').slice(0, 200);
  // Graph API rate limits: HTTP 429, or error codes 4, 17, 32, 613.
  if (status === 429 || (code !== undefined && [4, 17, 32, 613].includes(code)))
    return { retry: 'quota', why: `HTTP ${status}${code ? ` code ${code}` : ''}` };
  if (status >= 500) return { retry: 'transient', why: `HTTP ${status}` };
  if (status === 401 || status === 403 || code === 190)
    return { fatal: `Mapillary refused the token (HTTP ${status}${message ? `: ${message}` : ''}); ${TOKEN_HINT}` };
  if (status !== 200)
    return { fatal: `Mapillary image search answered HTTP ${status}${message ? `: ${message}` : ''}` };
  if (!json || !Array.isArray(json.data)) return { retry: 'transient', why: 'search answer is not the expected JSON' };
  return { ok: json.data };
}
