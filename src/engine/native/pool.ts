// Reuse of the native kernels' output arrays. A fresh array of hundreds of MB costs a page fault per 4 KB on first
// write, which took longer than the kernels themselves (a third of a Spikformer step's CPU time was the kernel
// zeroing pages). Arrays come back here when their tensor is disposed, unless anything else may still see them.
// Up to `limitBytes` stay resident ("hot"); beyond that their pages go back to the OS at once ("cold": reusable,
// but faulted in again), which also keeps disposed memory from lingering until V8's next GC.
import type { DataId } from '@tensorflow/tfjs-core';

/** Arrays below this size come from V8's heap quickly enough; pooling them would only hold memory. */
const MIN_POOLED = 1 << 16;

export class BufferPool {
  private hot = new Map<number, Float32Array[]>();
  private cold = new Map<number, Float32Array[]>();
  private held = 0;
  private coldBytes = 0;
  /** Buffers this pool handed out; only these ever come back. */
  private owned = new WeakSet<ArrayBuffer>();
  /** Buffers someone else may hold a reference to (read out, or aliased by a JS kernel): never reused. */
  private escaped = new WeakSet<ArrayBuffer>();
  hits = 0;
  misses = 0;

  constructor(readonly limitBytes: number, private release: (values: Float32Array) => void, readonly coldLimitBytes = 2 ** 36) {}

  /** A float32 array of n elements with arbitrary contents (zeroed when asked). */
  alloc(n: number, zero = false): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const h = this.hot.get(n)?.pop();
    if (h) {
      this.hits++;
      this.held -= h.byteLength;
      if (zero) h.fill(0);
      return h;
    }
    const c = this.cold.get(n)?.pop();
    if (c) {
      this.hits++;
      this.coldBytes -= c.byteLength;
      return c; // released pages come back as zeros
    }
    this.misses++;
    const fresh = new Float32Array(n);
    this.owned.add(fresh.buffer);
    return fresh;
  }

  /** Marks values as visible outside the backend: they stay valid for whoever holds them. */
  escape(values: unknown): void {
    const buf = (values as { buffer?: unknown } | null)?.buffer;
    if (buf instanceof ArrayBuffer && this.owned.has(buf)) this.escaped.add(buf);
  }

  /** Takes back the values of a disposed tensor if this pool made them and nobody else can see them. */
  give(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    const buf = values.buffer;
    if (!(buf instanceof ArrayBuffer) || !this.owned.has(buf) || this.escaped.has(buf)) return;
    if (values.byteOffset !== 0 || values.byteLength !== buf.byteLength) return; // a view: not ours to recycle
    if (this.hot.get(values.length)?.includes(values) || this.cold.get(values.length)?.includes(values)) return;
    let into = this.hot;
    if (this.held + values.byteLength <= this.limitBytes) {
      this.held += values.byteLength;
    } else {
      if (this.coldBytes + values.byteLength > this.coldLimitBytes) return; // let the GC have it
      this.release(values);
      this.coldBytes += values.byteLength;
      into = this.cold;
    }
    let list = into.get(values.length);
    if (!list) into.set(values.length, (list = []));
    list.push(values);
  }

  /** Drops every pooled array (they are freed by the next GC). */
  clear(): void {
    this.hot.clear();
    this.cold.clear();
    this.held = 0;
    this.coldBytes = 0;
  }

  get heldBytes(): number {
    return this.held;
  }
}

/** The parts of the cpu backend's storage the pool needs. */
export interface Storage {
  has(id: DataId): boolean;
  get(id: DataId): { values?: unknown } | undefined;
}
