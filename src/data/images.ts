// Image processing shared by the collector and the importers: decode, crop the watermark strip, square, resize, encode.
import sharp from 'sharp';

/** Side of the training images. */
export const IMAGE_SIZE = 32;

export interface ProcessOptions {
  /** Pixels cut from the bottom of the decoded image first (Street View's logo strip); 0 keeps everything. */
  cropBottom: number;
  /** Output side in pixels (32 for training). */
  size?: number;
  /** Also return a JPEG display copy (the cropped, squared source) at most this many pixels wide; 0 skips it. */
  displayMaxSide?: number;
}

export interface ProcessedImage {
  /** size x size 8-bit RGB PNG. */
  png: Buffer;
  /** JPEG display copy, when asked for. */
  display?: Buffer;
  /** Size of the decoded source image. */
  sourceWidth: number;
  sourceHeight: number;
}

/** A body that is not a decodable image (corrupt, truncated, HTML error page...). Callers log it and skip the image. */
export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

// Decoding keeps libvips strict ('warning'), so a truncated JPEG is an error rather than a half-grey image.
const decodeOptions = { failOn: 'warning' as const, limitInputPixels: 64 * 1024 * 1024 };

/**
 * Crops `cropBottom` rows, takes the centred square, and resizes it with Lanczos-3 (shrink-on-load off, so the result
 * matches PIL's `Image.resize(..., LANCZOS)` within about 1 grey level on the golden image).
 */
export async function processImage(input: Buffer, opts: ProcessOptions): Promise<ProcessedImage> {
  const size = opts.size ?? IMAGE_SIZE;
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, decodeOptions).metadata();
  } catch (err) {
    throw new ImageDecodeError(`not a decodable image (${(err as Error).message})`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new ImageDecodeError('not a decodable image (no dimensions)');
  const usable = height - opts.cropBottom;
  if (usable < 1) {
    throw new ImageDecodeError(`image is ${width}x${height}, too small to crop ${opts.cropBottom} rows from its bottom`);
  }
  const side = Math.min(width, usable);
  const region = { left: Math.floor((width - side) / 2), top: Math.floor((usable - side) / 2), width: side, height: side };
  // Decode once to raw RGB so a corrupt body fails here, not in one of the two encoders.
  let square: { data: Buffer; info: sharp.OutputInfo };
  try {
    square = await sharp(input, decodeOptions)
      .autoOrient()
      .extract(region)
      .flatten({ background: '#000000' })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageDecodeError(`not a decodable image (${(err as Error).message})`);
  }
  const raw = { raw: { width: side, height: side, channels: square.info.channels } } as const;
  const png = await sharp(square.data, raw)
    .resize(size, size, { kernel: 'lanczos3', fastShrinkOnLoad: false, fit: 'fill' })
    .removeAlpha()
    .png()
    .toBuffer();
  let display: Buffer | undefined;
  if (opts.displayMaxSide) {
    const d = sharp(square.data, raw).removeAlpha();
    if (side > opts.displayMaxSide) d.resize(opts.displayMaxSide, opts.displayMaxSide, { kernel: 'lanczos3' });
    display = await d.jpeg({ quality: 90 }).toBuffer();
  }
  return { png, display, sourceWidth: width, sourceHeight: height };
}

/** Encodes raw 8-bit pixels (HWC, 1 or 3 channels) as an RGB PNG. */
export async function encodeRgbPng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<Buffer> {
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width, height, channels } })
    .toColourspace('srgb')
    .png()
    .toBuffer();
}

/** Decodes any image to 8-bit RGB HWC pixels. */
export async function decodeRgb(input: Buffer | string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(input, decodeOptions)
    .flatten({ background: '#000000' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new ImageDecodeError(`expected 3 channels after conversion, got ${info.channels}`);
  return { data, width: info.width, height: info.height };
}
