// Image -> class probabilities with a trained checkpoint: the one path shared by `geospike predict`, the game's model
// guesses and `POST /api/predict`. Photos go through the dataset's own crop + Lanczos resize (src/data/images.ts),
// then the checkpoint's per-channel normalisation through the same function as training and eval batches
// (src/data/model_input.ts), so the model sees the bits it saw in validation.
import * as tf from '@tensorflow/tfjs-core';
import { type DecodeLimits, decodeRgb, processImage } from '../data/images.js';
import { normalisationTable, writeModelInput } from '../data/model_input.js';
import type { Model } from '../models/model.js';
import { loadModelFromCheckpoint, resolveCheckpointPath, type CheckpointMeta } from '../train/checkpoint.js';
import { must } from '../util/must.js';

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
  /** The model's raw outputs (float32 values), in the checkpoint's class order: logits[label]. */
  logits: number[];
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
  /** The checkpoint's normalisation as the table every model-input path uses. */
  private readonly table: Float32Array;

  private constructor(
    readonly name: string,
    readonly checkpoint: string,
    readonly meta: CheckpointMeta,
    readonly model: Model,
    /** Rows cut from the bottom of a photo before squaring. */
    readonly cropBottom: number,
  ) {
    this.classes = meta.classes;
    this.imageSize = meta.model.imageSize;
    try {
      this.table = normalisationTable(meta.mean, meta.std);
    } catch (err) {
      throw new Error(`${checkpoint}: ${(err as Error).message}`);
    }
    if (meta.classes.length !== meta.model.classes) {
      throw new Error(
        `${checkpoint}: lists ${meta.classes.length} classes but the model has ${meta.model.classes} outputs`,
      );
    }
  }

  /** Loads a checkpoint (sidecar `.json`, its stem, or a run's checkpoints folder). Call initEngine() first. */
  static load(path: string, opts: PredictorOptions = {}): Predictor {
    const json = resolveCheckpointPath(path);
    const { model, meta } = loadModelFromCheckpoint(json);
    return new Predictor(opts.name ?? meta.preset, json, meta, model, opts.cropBottom ?? 0);
  }

  /** A photo of any size (JPEG, PNG, WebP, ...): crop and resize as the dataset does, then classify. */
  async predictImage(input: Buffer, decode?: DecodeLimits): Promise<Prediction> {
    const { pixels } = await processImage(input, { cropBottom: this.cropBottom, size: this.imageSize, decode });
    return this.predictOne(pixels);
  }

  /** An image that is already imageSize x imageSize (a dataset's 32x32 PNG, as a buffer or a path): classify as is. */
  async predictSquare(input: Buffer | string): Promise<Prediction> {
    const { data, width, height } = await decodeRgb(input);
    if (width !== this.imageSize || height !== this.imageSize) {
      throw new Error(`expected a ${this.imageSize}x${this.imageSize} image, got ${width}x${height}`);
    }
    return this.predictOne(data);
  }

  /** One 8-bit RGB HWC image of imageSize x imageSize -> its prediction. */
  predictOne(pixels: Uint8Array): Prediction {
    return must(this.predictPixels([pixels])[0], 'predictPixels gives one prediction per image');
  }

  /** Batch of 8-bit RGB HWC images of imageSize x imageSize -> one prediction each. */
  predictPixels(images: Uint8Array[]): Prediction[] {
    const s = this.imageSize;
    const x = this.modelInput(images);
    const logits = tf.tidy(() => this.model.forward(tf.tensor4d(x, [images.length, s, s, 3]), { training: false }));
    const probs = tf.softmax(logits);
    const flat = probs.dataSync() as Float32Array;
    const raw = logits.dataSync() as Float32Array;
    tf.dispose([logits, probs]);
    const k = this.classes.length;
    return images.map((_, n) => this.rank(flat.subarray(n * k, (n + 1) * k), raw.subarray(n * k, (n + 1) * k)));
  }

  /** What the model is fed for 8-bit RGB HWC images of imageSize x imageSize: [n, s, s, 3], as eval's batches. */
  modelInput(images: Uint8Array[]): Float32Array {
    const s = this.imageSize;
    const per = s * s * 3;
    const x = new Float32Array(images.length * per);
    images.forEach((img, n) => {
      if (img.length !== per) throw new Error(`image ${n} has ${img.length} values, expected ${s}x${s}x3 = ${per}`);
      writeModelInput(img, this.table, x, n * per);
    });
    return x;
  }

  private rank(p: Float32Array, logits: Float32Array): Prediction {
    const probabilities = this.classes
      .map((c, label) => ({ class: c, probability: must(p[label], 'one probability per class'), label }))
      .sort((a, b) => b.probability - a.probability);
    const best = must(probabilities[0], 'a model has at least one class');
    return {
      class: best.class,
      label: best.label,
      confidence: best.probability,
      probabilities: probabilities.map(({ class: c, probability }) => ({ class: c, probability })),
      logits: Array.from(logits),
    };
  }

  dispose(): void {
    this.model.store.dispose();
  }
}
