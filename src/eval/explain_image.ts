// An evidence map drawn over the image the model saw: each patch tinted from clear (no evidence for the class) to
// red (the most), scaled up without smoothing so the patches stay the model's own. Written as PNG for
// `predict --explain` and the game's reveal.
import { encodeSimplePng } from '../data/png.js';

/** 8-bit RGB image (size x size) with the grid x grid map over it, `scale` times larger, as PNG bytes. */
export function overlayPng(pixels: Uint8Array, size: number, map: ArrayLike<number>, grid: number, scale = 8): Buffer {
  if (pixels.length !== size * size * 3)
    throw new Error(`expected ${size}x${size} RGB pixels, got ${pixels.length} values`);
  let top = 0;
  for (let i = 0; i < map.length; i++) top = Math.max(top, map[i]!);
  const W = size * scale;
  const out = new Uint8Array(W * W * 3);
  const patch = size / grid;
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++) {
      const sy = Math.floor(y / scale);
      const sx = Math.floor(x / scale);
      const v = top > 0 ? Math.max(0, map[Math.floor(sy / patch) * grid + Math.floor(sx / patch)]!) / top : 0;
      const a = 0.65 * v;
      const heat = [255, Math.round(210 * (1 - v)), 0];
      for (let c = 0; c < 3; c++)
        out[(y * W + x) * 3 + c] = Math.round((1 - a) * pixels[(sy * size + sx) * 3 + c]! + a * heat[c]!);
    }
  return encodeSimplePng(out, W, W);
}
