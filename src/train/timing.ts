// Where an epoch's wall time goes, measured with a running mark: each `lap(phase)` charges the time since the
// previous lap to that phase, so the phases add up to the epoch exactly and cost one clock read each.
import { performance } from 'node:perf_hooks';

export const PHASES = ['step', 'data', 'validation', 'checkpoint', 'other'] as const;
export type Phase = (typeof PHASES)[number];

/** Seconds of one epoch and of each phase in it, and the images it trained on. */
export type EpochTiming = { epoch: number; images: number; seconds: number } & Record<Phase, number>;

export class EpochTimer {
  private mark = performance.now();
  private sums: Record<Phase, number> = { step: 0, data: 0, validation: 0, checkpoint: 0, other: 0 };

  /** Charges the time since the last lap (or the timer's start) to `phase`. */
  lap(phase: Phase): void {
    const now = performance.now();
    this.sums[phase] += now - this.mark;
    this.mark = now;
  }

  /** The epoch's timing, with whatever ran since the last lap counted as `other`. */
  finish(epoch: number, images: number): EpochTiming {
    this.lap('other');
    const s = Object.fromEntries(PHASES.map((p) => [p, this.sums[p] / 1000])) as Record<Phase, number>;
    return { epoch, images, seconds: PHASES.reduce((a, p) => a + s[p], 0), ...s };
  }
}
