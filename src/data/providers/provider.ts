// What the collector needs from an imagery provider: find a source image near a point (the free phase), then fetch it.

export interface Candidate {
  /** Index of the point in the class's seeded sequence. */
  seq: number;
  lat: number;
  lng: number;
  /** Random camera heading for providers that render a view (Street View). */
  heading: number;
}

export interface Source {
  /** The provider's id (Street View pano_id, Mapillary image id). */
  id: string;
  lat: number;
  lng: number;
  heading: number | null;
  captureDate: string | null;
  /** Provider-specific data the fetch needs (e.g. a thumbnail URL). */
  ref?: string;
}

export interface Provider {
  readonly name: string;
  /** Price of one image request in US dollars (metadata is free). */
  readonly pricePerImage: number;
  /** Rows cut from the bottom of each fetched image. */
  readonly cropBottom: number;
  /** A usable source near the candidate that `seen` does not know yet, or null when there is none. */
  find(c: Candidate, seen: (id: string) => boolean): Promise<Source | null>;
  /** The image bytes, or null when the provider has no image for this source after all. */
  fetchImage(s: Source, c: Candidate): Promise<Buffer | null>;
}

/** Comma-separated credentials from an environment variable; the names are the only thing ever printed. */
export function credentialsFrom(env: NodeJS.ProcessEnv, name: string, fix: string): string[] {
  const list = (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new Error(`${name} is not set; ${fix}`);
  return list;
}
