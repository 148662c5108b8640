// Image processing shared by the collector and the importers: decode, crop the watermark strip, square, resize, encode.
import sharp from 'sharp';
import { encodeSimplePng, greyToRgb } from './png.js';
import { resizeSquare } from './resize.js';

/** Side of the training images. */
export const IMAGE_SIZE = 32;

export interface ProcessOptions {
  /** Pixels cut from the bottom of the decoded image first (Street View's logo strip); 0 keeps everything. */
  cropBottom: number;
  /** Output side in pixels (32 for training). */
  size?: number;
  /** Also return a JPEG display copy (the cropped, squared source) at most this many pixels wide; 0 skips it. */
  displayMaxSide?: number;
  /** Tighter decode limits for untrusted input (the game server's uploads). */
  decode?: DecodeLimits;
}

/** sharp's own limits on one decode: pixels (sharp refuses more) and libvips time in seconds (0: none). */
export interface DecodeLimits {
  limitInputPixels?: number;
  timeoutSeconds?: number;
}

export interface ProcessedImage {
  /** size x size 8-bit RGB PNG. */
  png: Buffer;
  /** The same pixels, RGB HWC (for a caller that classifies them at once instead of decoding the PNG again). */
  pixels: Uint8Array;
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
 * Crops `cropBottom` rows, takes the centred square, and resizes it with Lanczos-3 as PIL's `Image.resize(...,
 * LANCZOS)` does (resize.ts). One libvips call decodes the whole image to RGB; cropping, resizing and the PNG are
 * done here, and a second call encodes the display JPEG: each libvips call costs ~1 ms on these small images.
 */
export async function processImage(input: Buffer, opts: ProcessOptions): Promise<ProcessedImage> {
  const size = opts.size ?? IMAGE_SIZE;
  // Decode once to raw RGB so a corrupt body fails here, not in the encoder.
  let decoded: { data: Buffer; width: number; height: number };
  try {
    decoded = await decodeRgb(input, opts.decode);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError(`not a decodable image (${(err as Error).message})`);
  }
  const { width, height } = decoded;
  const usable = height - opts.cropBottom;
  if (usable < 1) {
    throw new ImageDecodeError(
      `image is ${width}x${height}, too small to crop ${opts.cropBottom} rows from its bottom`,
    );
  }
  const side = Math.min(width, usable);
  const region = {
    left: Math.floor((width - side) / 2),
    top: Math.floor((usable - side) / 2),
    width: side,
    height: side,
  };
  const pixels = resizeSquare(decoded.data, width, region.left, region.top, side, size);
  const png = encodeSimplePng(pixels, size, size);
  let display: Buffer | undefined;
  if (opts.displayMaxSide) {
    const d = sharp(decoded.data, { raw: { width, height, channels: 3 } }).extract(region);
    if (side > opts.displayMaxSide) d.resize(opts.displayMaxSide, opts.displayMaxSide, { kernel: 'lanczos3' });
    display = await d.jpeg({ quality: 90 }).toBuffer();
  }
  return { png, pixels, display, sourceWidth: width, sourceHeight: height };
}

/** Encodes raw 8-bit pixels (HWC, 1 or 3 channels) as an RGB PNG. */
export async function encodeRgbPng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<Buffer> {
  return encodeSimplePng(channels === 3 ? pixels : greyToRgb(pixels), width, height);
}

/** Decodes any image to 8-bit RGB HWC pixels, upright (EXIF orientation applied). */
export async function decodeRgb(
  input: Buffer | string,
  limits: DecodeLimits = {},
): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(input, {
    ...decodeOptions,
    limitInputPixels: limits.limitInputPixels ?? decodeOptions.limitInputPixels,
  })
    .timeout({ seconds: limits.timeoutSeconds ?? 0 })
    .autoOrient()
    .flatten({ background: '#000000' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new ImageDecodeError(`expected 3 channels after conversion, got ${info.channels}`);
  return { data, width: info.width, height: info.height };
}
