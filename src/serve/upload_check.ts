// What POST /api/predict accepts, decided from the image's header before anything is decoded: one of the formats the
// README lists, at most MAX_UPLOAD_PIXELS pixels and at most MAX_UPLOAD_SIDE on its longest side. A 200 KB PNG can
// declare 8192x8192 pixels (200 MB of RGB once decoded), and a 152 KB PNG of 1 x 39,000,000 pixels passes the pixel
// count yet took ~13 s to decode; the header says both in a few bytes, so such uploads cost the server nothing. What
// passes is decoded with sharp's own limits (UPLOAD_DECODE_LIMITS) as a second line.
import sharp from 'sharp';
import type { DecodeLimits } from '../data/images.js';
import { RefusedRequestError } from './refused_request.js';

/** The formats the README lists for /api/predict (sharp's names). Everything else (SVG, TIFF, HEIF, GIF...) is 415. */
export const UPLOAD_FORMATS = ['jpeg', 'png', 'webp'] as const;

/** 40 megapixels: a 10 MB photo from an ordinary camera or phone (up to about 7700x5200) passes; 8192x8192 does not. */
export const MAX_UPLOAD_PIXELS = 40_000_000;

/**
 * Longest side: twice a 40-megapixel photo's (7700 px) leaves room for panoramas; a 1-pixel-wide strip does not pass.
 */
export const MAX_UPLOAD_SIDE = 16_000;

/** sharp's limits for decoding an upload that passed the header check: its pixels, and libvips time. */
export const UPLOAD_DECODE_LIMITS: DecodeLimits = { limitInputPixels: MAX_UPLOAD_PIXELS, timeoutSeconds: 10 };

/**
 * Throws a 415 (format) or 413 (pixels) RefusedRequestError
 * unless the upload's header says it is small enough to decode.
 */
export async function checkUploadHeader(
  image: Buffer,
  maxPixels = MAX_UPLOAD_PIXELS,
  maxSide = MAX_UPLOAD_SIDE,
): Promise<void> {
  let meta: sharp.Metadata;
  try {
    // metadata() reads the header only; limitInputPixels: false so that the size check below is the one that speaks.
    meta = await sharp(image, { limitInputPixels: false, pages: 1 }).metadata();
  } catch {
    throw new RefusedRequestError(
      415,
      `the upload is not an image geospike can read; send ${UPLOAD_FORMATS.map((f) => f.toUpperCase()).join(', ')}`,
    );
  }
  if (!(UPLOAD_FORMATS as readonly string[]).includes(meta.format ?? '')) {
    throw new RefusedRequestError(
      415,
      `${String(meta.format).toUpperCase()} images are not accepted; ` +
        `send ${UPLOAD_FORMATS.map((f) => f.toUpperCase()).join(', ')}`,
    );
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  const pixels = width * height;
  if (!(pixels > 0))
    throw new RefusedRequestError(415, 'the upload is not an image geospike can read (no dimensions in its header)');
  if (Math.max(width, height) > maxSide) {
    throw new RefusedRequestError(
      413,
      `the image is ${width}x${height} pixels; the limit on its longest side is ${maxSide} pixels (resize it first)`,
    );
  }
  if (pixels > maxPixels) {
    throw new RefusedRequestError(
      413,
      `the image is ${meta.width}x${meta.pageHeight ?? meta.height} pixels; the limit is ${maxPixels / 1e6} megapixels`,
    );
  }
}
