// Google Maps URL signing: HMAC-SHA1 over the URL's path and query with the URL-safe base64 secret, appended as a
// URL-safe base64 `signature` parameter
// (https://developers.google.com/maps/documentation/streetview/digital-signature).
import { createHmac, timingSafeEqual } from 'node:crypto';

function secretBytes(secret: string): Buffer {
  const key = Buffer.from(secret.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length === 0)
    throw new Error(
      'GOOGLE_MAPS_URL_SIGNING_SECRET is not a URL-safe base64 string; copy it again from the Cloud console',
    );
  return key;
}

/** The signature of `pathAndQuery` (e.g. `/maps/api/streetview?size=...&key=...`), URL-safe base64 with padding. */
export function signPath(pathAndQuery: string, secret: string): string {
  return createHmac('sha1', secretBytes(secret))
    .update(pathAndQuery)
    .digest('base64')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

/** `url` with `&signature=...` appended, signed over its path and query. */
export function signUrl(url: URL, secret: string): URL {
  // Appended as text: searchParams would percent-encode the base64 padding, and the signature covers the exact bytes.
  return new URL(`${url.href}${url.search ? '&' : '?'}signature=${signPath(url.pathname + url.search, secret)}`);
}

/**
 * Checks a signed path+query whose last parameter is `signature` (what Google's server does; the fake server uses it).
 */
export function verifySignedPath(pathAndQuery: string, secret: string): boolean {
  const [, signed, signature] = /^(.*)[?&]signature=([A-Za-z0-9_=-]+)$/.exec(pathAndQuery) ?? [];
  if (signed === undefined || signature === undefined) return false;
  const expected = Buffer.from(signPath(signed, secret));
  const got = Buffer.from(signature);
  return expected.length === got.length && timingSafeEqual(expected, got);
}
