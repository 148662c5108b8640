// The run's per-epoch record: summary.csv (timm style, one row per epoch) and metrics.jsonl (the same and more).
// Rows are appended before the epoch's checkpoint is written; on resume, rows past the checkpoint's epoch (from a run
// killed in between) are dropped, so each epoch appears exactly once.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';
import { runPaths } from './run_folder.js';

export interface EpochRecord {
  epoch: number;
  train_loss: number;
  train_acc: number;
  val_loss: number;
  val_acc: number;
  lr: number;
  epoch_seconds: number;
  images_per_s: number;
  /** Mean firing rate over all LIF layers on the validation images (spiking models). */
  firing_rate: number | null;
}

export const SUMMARY_COLUMNS: (keyof EpochRecord)[] = [
  'epoch',
  'train_loss',
  'train_acc',
  'val_loss',
  'val_acc',
  'lr',
  'epoch_seconds',
  'images_per_s',
  'firing_rate',
];

export class RunLog {
  readonly summary: string;
  readonly metrics: string;

  constructor(readonly dir: string) {
    ({ summary: this.summary, metrics: this.metrics } = runPaths(dir));
  }

  append(row: EpochRecord, extra: Record<string, unknown>): void {
    if (!existsSync(this.summary)) appendFileSync(this.summary, `${SUMMARY_COLUMNS.join(',')}\n`);
    appendFileSync(this.summary, `${SUMMARY_COLUMNS.map((c) => (row[c] === null ? '' : String(row[c]))).join(',')}\n`);
    appendFileSync(this.metrics, `${JSON.stringify({ ...row, ...extra })}\n`);
  }

  /** Keeps only rows of epochs <= `epochs` (1-based epoch numbers). */
  async truncate(epochs: number): Promise<void> {
    if (existsSync(this.summary)) {
      const [header, ...rows] = readFileSync(this.summary, 'utf8').split('\n').filter(Boolean);
      const kept = rows.filter((r) => Number(r.split(',')[0]) <= epochs);
      await writeFileAtomic(this.summary, [header, ...kept].map((l) => `${l}\n`).join(''));
    }
    if (existsSync(this.metrics)) {
      const kept = readFileSync(this.metrics, 'utf8')
        .split('\n')
        .filter((l) => {
          if (!l) return false;
          try {
            return (JSON.parse(l) as EpochRecord).epoch <= epochs;
          } catch {
            return false; // a line torn by a kill mid-append
          }
        });
      await writeFileAtomic(this.metrics, kept.map((l) => `${l}\n`).join(''));
    }
  }
}
