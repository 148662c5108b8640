// Learning rate per optimizer step: linear warm-up from minLr to lr over warmupEpochs, then cosine down to minLr at
// the last step. With e = step / stepsPerEpoch (fractional epochs):
//   e < W:  lr(e) = minLr + (lr - minLr) * e / W
//   e >= W: lr(e) = minLr + (lr - minLr) * (1 + cos(pi * (e - W) / (E - W))) / 2
export interface ScheduleOptions {
  lr: number;
  minLr: number;
  warmupEpochs: number;
  epochs: number;
  stepsPerEpoch: number;
}

export function learningRate(step: number, o: ScheduleOptions): number {
  const e = step / o.stepsPerEpoch;
  if (e < o.warmupEpochs) return o.minLr + ((o.lr - o.minLr) * e) / o.warmupEpochs;
  const span = Math.max(o.epochs - o.warmupEpochs, 1e-9);
  const progress = Math.min((e - o.warmupEpochs) / span, 1);
  return o.minLr + ((o.lr - o.minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
}
