// What POST /api/predict accepts, decided from the image's header before anything is decoded: one of the formats the
// README lists, and at most MAX_UPLOAD_PIXELS pixels. A 200 KB PNG can declare 8192x8192 pixels (200 MB of RGB once
// decoded); the header says so in a few bytes, so such an upload costs the server nothing.
import sharp from 'sharp';
import { GameError } from './game.js';

/** The formats the README lists for /api/predict (sharp's names). Everything else (SVG, TIFF, HEIF, GIF...) is 415. */
export const UPLOAD_FORMATS = ['jpeg', 'png', 'webp'] as const;

/** 40 megapixels: a 10 MB photo from an ordinary camera or phone (up to about 7700x5200) passes; 8192x8192 does not. */
export const MAX_UPLOAD_PIXELS = 40_000_000;

/** Throws a 415 (format) or 413 (pixels) GameError unless the upload's header says it is small enough to decode. */
export async function checkUploadHeader(image: Buffer, maxPixels = MAX_UPLOAD_PIXELS): Promise<void> {
  let meta: sharp.Metadata;
  try {
    // metadata() reads the header only; limitInputPixels: false so that the size check below is the one that speaks.
    meta = await sharp(image, { limitInputPixels: false, pages: 1 }).metadata();
  } catch {
    throw new GameError(
      415,
      `the upload is not an image geospike can read; send ${UPLOAD_FORMATS.map((f) => f.toUpperCase()).join(', ')}`,
    );
  }
  if (!(UPLOAD_FORMATS as readonly string[]).includes(meta.format ?? '')) {
    throw new GameError(
      415,
      `${String(meta.format).toUpperCase()} images are not accepted; send ${UPLOAD_FORMATS.map((f) => f.toUpperCase()).join(', ')}`,
    );
  }
  const pixels = (meta.width ?? 0) * (meta.pageHeight ?? meta.height ?? 0);
  if (!(pixels > 0))
    throw new GameError(415, 'the upload is not an image geospike can read (no dimensions in its header)');
  if (pixels > maxPixels) {
    throw new GameError(
      413,
      `the image is ${meta.width}x${meta.pageHeight ?? meta.height} pixels; the limit is ${maxPixels / 1e6} megapixels`,
    );
  }
}
