// At most a few predictions decode and run at once (each can hold a decoded photo of up to 40 megapixels and the
// model's activations); a short queue waits, and beyond it the server answers 503 with Retry-After at once, so a
// burst of uploads cannot grow memory or latency without bound.
import { RefusedRequestError } from './refused_request.js';

export class PredictQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency = 2,
    readonly maxWaiting = 8,
  ) {}

  /** Runs `work` when a slot is free; throws a 503 RefusedRequestError when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new RefusedRequestError(
          503,
          `the server is busy (${this.running} predictions running, ${this.waiting.length} waiting); try again shortly`,
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes to the next in line
      else this.running--;
    }
  }
}
