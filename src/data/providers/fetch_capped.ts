// fetch for provider requests: redirects followed only within the same origin (a redirect to another host would take
// the key in the URL or the token in the header with it), and response bodies capped, so a misbehaving or hostile
// endpoint can neither leak credentials nor fill memory.

/** Largest response body read (a 2048-pixel Mapillary thumbnail is well under 2 MB). */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
const MAX_REDIRECTS = 5;

/** A response the client refuses to read on (cross-origin redirect, body over the cap): retrying will not help. */
export class RefusedResponseError extends Error {}

export async function fetchCapped(
  url: URL,
  init: { headers?: Record<string, string>; signal?: AbortSignal },
  maxBytes = MAX_RESPONSE_BYTES,
): Promise<{ status: number; body: Buffer; contentType: string }> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await fetch(current, { ...init, redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location !== null) {
      await res.body?.cancel();
      const next = new URL(location, current);
      if (next.origin !== url.origin) throw new RefusedResponseError(`redirect to another host (${next.host}) refused`);
      if (hop >= MAX_REDIRECTS) throw new RefusedResponseError(`more than ${MAX_REDIRECTS} redirects`);
      current = next;
      continue;
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new RefusedResponseError(`response of ${declared} bytes is over the ${maxBytes}-byte cap`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > maxBytes) throw new RefusedResponseError(`response over the ${maxBytes}-byte cap`);
      chunks.push(Buffer.from(chunk));
    }
    return { status: res.status, body: Buffer.concat(chunks), contentType: res.headers.get('content-type') ?? '' };
  }
}
