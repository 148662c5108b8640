// Image -> class probabilities with a trained checkpoint: the one path shared by `geospike predict`, the game's model
// guesses and `POST /api/predict`. Photos go through the dataset's own crop + Lanczos resize (src/data/images.ts),
// then the checkpoint's per-channel normalisation, so the model sees what it saw in validation.
import * as tf from '@tensorflow/tfjs-core';
import { decodeRgb, processImage } from '../data/images.js';
import { evidenceMaps } from '../eval/explain.js';
import { overlayPng } from '../eval/explain_image.js';
import { normalise } from '../eval/explain_job.js';
import type { Model } from '../models/model.js';
import { loadModelFromCheckpoint, resolveCheckpointPath, type CheckpointMeta } from '../train/checkpoint.js';

export interface ClassProbability {
  class: string;
  probability: number;
}

export interface Prediction {
  /** The most probable class, its label index, and its probability. */
  class: string;
  label: number;
  confidence: number;
  /** Every class, most probable first. */
  probabilities: ClassProbability[];
}

export interface PredictorOptions {
  /** Rows cut from the bottom of a photo before squaring (the dataset's --crop-bottom, e.g. a watermark strip). */
  cropBottom?: number;
  /** Shown in results; defaults to the checkpoint's preset name. */
  name?: string;
}

export class Predictor {
  readonly classes: string[];
  readonly imageSize: number;
  private readonly mean: number[];
  private readonly std: number[];

  private constructor(
    readonly name: string,
    readonly checkpoint: string,
    readonly meta: CheckpointMeta,
    private readonly model: Model,
    private readonly cropBottom: number,
  ) {
    this.classes = meta.classes;
    this.imageSize = meta.model.imageSize;
    if (meta.mean.length !== 3 || meta.std.length !== 3 || meta.std.some((s) => !(s > 0))) {
      throw new Error(
        `${checkpoint}: normalisation must be 3 means and 3 positive stds, got mean ${meta.mean} std ${meta.std}`,
      );
    }
    if (meta.classes.length !== meta.model.classes) {
      throw new Error(
        `${checkpoint}: lists ${meta.classes.length} classes but the model has ${meta.model.classes} outputs`,
      );
    }
    this.mean = meta.mean;
    this.std = meta.std;
  }

  /** Loads a checkpoint (sidecar `.json`, its stem, or a run's checkpoints folder). Call initEngine() first. */
  static load(path: string, opts: PredictorOptions = {}): Predictor {
    const json = resolveCheckpointPath(path);
    const { model, meta } = loadModelFromCheckpoint(json);
    return new Predictor(opts.name ?? meta.preset, json, meta, model, opts.cropBottom ?? 0);
  }

  /** A photo of any size (JPEG, PNG, WebP, ...): crop and resize as the dataset does, then classify. */
  async predictImage(input: Buffer): Promise<Prediction> {
    const { pixels } = await processImage(input, { cropBottom: this.cropBottom, size: this.imageSize });
    return this.predictPixels([pixels])[0];
  }

  /** An image that is already imageSize x imageSize (a dataset's 32x32 PNG, as a buffer or a path): classify as is. */
  async predictSquare(input: Buffer | string): Promise<Prediction> {
    const { data, width, height } = await decodeRgb(input);
    if (width !== this.imageSize || height !== this.imageSize) {
      throw new Error(`expected a ${this.imageSize}x${this.imageSize} image, got ${width}x${height}`);
    }
    return this.predictPixels([data])[0];
  }

  /** Batch of 8-bit RGB HWC images of imageSize x imageSize -> one prediction each. */
  predictPixels(images: Uint8Array[]): Prediction[] {
    const s = this.imageSize;
    const per = s * s * 3;
    const x = new Float32Array(images.length * per);
    images.forEach((img, n) => {
      if (img.length !== per) throw new Error(`image ${n} has ${img.length} values, expected ${s}x${s}x3 = ${per}`);
      for (let i = 0; i < per; i++) x[n * per + i] = (img[i] / 255 - this.mean[i % 3]) / this.std[i % 3];
    });
    const probs = tf.tidy(() => {
      const logits = this.model.forward(tf.tensor4d(x, [images.length, s, s, 3]), { training: false });
      return tf.softmax(logits);
    });
    const flat = probs.dataSync() as Float32Array;
    probs.dispose();
    const k = this.classes.length;
    return images.map((_, n) => this.rank(flat.subarray(n * k, (n + 1) * k)));
  }

  /**
   * Which patches drove the guess of `label` on one imageSize x imageSize RGB image (src/eval/explain.ts), and the
   * map drawn over the image as a PNG.
   */
  explainPixels(pixels: Uint8Array, label: number): { map: Float32Array; grid: number; method: string; png: Buffer } {
    const x = normalise(pixels, this.mean, this.std);
    const m = evidenceMaps(this.model, x, 1, Int32Array.of(label));
    return {
      map: m.maps[0],
      grid: m.grid,
      method: m.method,
      png: overlayPng(pixels, this.imageSize, m.maps[0], m.grid),
    };
  }

  /** An imageSize x imageSize image (a dataset's 32x32 PNG): the evidence map of the guess drawn over it, as PNG. */
  async explainSquare(input: Buffer | string): Promise<Buffer> {
    const { data, width, height } = await decodeRgb(input);
    if (width !== this.imageSize || height !== this.imageSize)
      throw new Error(`expected a ${this.imageSize}x${this.imageSize} image, got ${width}x${height}`);
    return this.explainPixels(data, this.predictPixels([data])[0].label).png;
  }

  /** A photo of any size: its prediction and the evidence map of the predicted class over the 32x32 input. */
  async explainImage(input: Buffer): Promise<{ prediction: Prediction; png: Buffer; method: string }> {
    const { pixels } = await processImage(input, { cropBottom: this.cropBottom, size: this.imageSize });
    const prediction = this.predictPixels([pixels])[0];
    const { png, method } = this.explainPixels(pixels, prediction.label);
    return { prediction, png, method };
  }

  private rank(p: Float32Array): Prediction {
    const probabilities = this.classes
      .map((c, label) => ({ class: c, probability: p[label], label }))
      .sort((a, b) => b.probability - a.probability);
    const best = probabilities[0];
    return {
      class: best.class,
      label: best.label,
      confidence: best.probability,
      probabilities: probabilities.map(({ class: c, probability }) => ({ class: c, probability })),
    };
  }

  dispose(): void {
    this.model.store.dispose();
  }
}
