// Reuse of the native kernels' output arrays. A fresh array of hundreds of MB costs a page fault per 4 KB on first
// write, which took longer than the kernels themselves (a third of a Spikformer step's CPU time was the kernel
// zeroing pages). Arrays come back here when their tensor is disposed, unless anything else may still see them.
// Idle arrays up to a limit stay resident ("hot"); beyond it their pages go back to the OS at once ("cold":
// reusable, but faulted in again), which also keeps disposed memory from lingering until V8's next GC. The limit
// follows the workload: a fraction of the most memory the pool's arrays have held at once, so peak memory grows by
// at most that fraction while big models (GBs of activations) still reuse most of their arrays without faults.
// The same fraction, uncapped, bounds the resident arrays (out and idle together) whenever an array has to be made
// or faulted in: the longest-idle ones go cold first. Otherwise a forward pass whose layers change sizes held its
// earlier layers' idle arrays on top of its busiest moment.

/** Arrays below this size come from V8's heap quickly enough; pooling them would only hold memory. */
const MIN_POOLED = 1 << 16;

export class BufferPool {
  private hot = new Map<number, Float32Array[]>();
  private cold = new Map<number, Float32Array[]>();
  private held = 0;
  /** The hot arrays in the order they came back (a Set keeps insertion order): the first to go cold. */
  private idle = new Set<Float32Array>();
  private coldBytes = 0;
  /** Bytes of pool-made arrays currently out (in tensors), and the most ever out at once. */
  private out = 0;
  private maxOut = 0;
  /** Buffers this pool handed out; only these ever come back. */
  private owned = new WeakSet<ArrayBuffer>();
  /** Buffers someone else may hold a reference to (read out, or aliased by a JS kernel): never reused. */
  private escaped = new WeakSet<ArrayBuffer>();
  /** Arrays an op wrote its output into (handOn): how many of their tensors' disposals give nothing back. */
  private handedOn = new WeakMap<Float32Array, number>();
  hits = 0;
  misses = 0;

  /**
   * fraction: idle resident memory allowed, relative to the most the pool's arrays ever held at once;
   * minBytes/maxBytes bound that limit.
   */
  constructor(
    private release: (values: Float32Array) => void,
    readonly fraction = 0.25,
    readonly minBytes = 64 * 2 ** 20,
    readonly maxBytes = 4 * 2 ** 30,
    readonly coldLimitBytes = 2 ** 36,
  ) {}

  /** The current resident limit for idle arrays. */
  get limitBytes(): number {
    return Math.min(this.maxBytes, Math.max(this.minBytes, this.fraction * this.maxOut));
  }

  private lend(a: Float32Array): Float32Array {
    this.out += a.byteLength;
    if (this.out > this.maxOut) this.maxOut = this.out;
    return a;
  }

  /** A float32 array of n elements with arbitrary contents (zeroed when asked). */
  alloc(n: number, zero = false): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const h = this.hot.get(n)?.pop();
    if (h) {
      this.hits++;
      this.held -= h.byteLength;
      this.idle.delete(h);
      if (zero) h.fill(0);
      return this.lend(h);
    }
    this.makeRoom(n * 4); // from here on the array's pages are faulted in: new resident memory
    const c = this.cold.get(n)?.pop();
    if (c) {
      this.hits++;
      this.coldBytes -= c.byteLength;
      return this.lend(c); // released pages come back as zeros
    }
    this.misses++;
    const fresh = new Float32Array(n);
    this.owned.add(fresh.buffer);
    return this.lend(fresh);
  }

  /** Sends the longest-idle hot arrays cold until `bytes` more fit in the resident limit (see the file's head). */
  private makeRoom(bytes: number): void {
    const limit = Math.max(this.maxOut, this.fraction * this.maxOut, this.out + bytes); // as it will be with these out
    for (const a of this.idle) {
      if (this.out + this.held + bytes <= limit) break;
      this.idle.delete(a);
      const list = this.hot.get(a.length)!;
      list.splice(list.indexOf(a), 1);
      this.held -= a.byteLength;
      this.toCold(a);
    }
  }

  /** Releases an array's pages to the OS and keeps it for reuse, unless the cold arrays are at their limit. */
  private toCold(a: Float32Array): void {
    if (this.coldBytes + a.byteLength > this.coldLimitBytes) return; // let the GC have it
    this.release(a);
    this.coldBytes += a.byteLength;
    push(this.cold, a);
  }

  /** Marks values as visible outside the backend: they stay valid for whoever holds them. */
  escape(values: unknown): void {
    const buf = (values as { buffer?: unknown } | null)?.buffer;
    if (buf instanceof ArrayBuffer && this.owned.has(buf) && !this.escaped.has(buf)) {
      this.escaped.add(buf);
      this.out -= buf.byteLength; // never coming back: no longer counted as out
    }
  }

  /**
   * Lets an op write its output over an input it consumes (AdamW's parameter and moments, which the caller replaces
   * with the results): true when this pool made the array and nobody outside the backend can see it. Two tensors then
   * hold the array; the first of them disposed gives nothing back.
   */
  handOn(values: unknown): values is Float32Array {
    if (!this.ours(values)) return false;
    this.handedOn.set(values, (this.handedOn.get(values) ?? 0) + 1);
    return true;
  }

  /** A whole array this pool made that nobody outside the backend can see (not a view: not ours to recycle). */
  private ours(values: unknown): values is Float32Array {
    if (!(values instanceof Float32Array)) return false;
    const buf = values.buffer;
    if (!(buf instanceof ArrayBuffer) || !this.owned.has(buf) || this.escaped.has(buf)) return false;
    return values.byteOffset === 0 && values.byteLength === buf.byteLength;
  }

  /** Takes back the values of a disposed tensor if this pool made them and nobody else can see them. */
  give(values: unknown): void {
    if (!(values instanceof Float32Array)) return;
    const sharing = this.handedOn.get(values);
    if (sharing !== undefined) {
      if (sharing > 1) this.handedOn.set(values, sharing - 1);
      else this.handedOn.delete(values);
      return; // another tensor still holds it
    }
    if (!this.ours(values)) return;
    if (this.hot.get(values.length)?.includes(values) || this.cold.get(values.length)?.includes(values)) return;
    this.out -= values.byteLength;
    if (this.held + values.byteLength > this.limitBytes) {
      this.toCold(values);
      return;
    }
    this.held += values.byteLength;
    push(this.hot, values);
    this.idle.add(values);
  }

  /** Drops every pooled array (they are freed by the next GC). */
  clear(): void {
    this.hot.clear();
    this.idle.clear();
    this.cold.clear();
    this.held = 0;
    this.coldBytes = 0;
  }

  get heldBytes(): number {
    return this.held;
  }
}

function push(lists: Map<number, Float32Array[]>, a: Float32Array): void {
  let list = lists.get(a.length);
  if (!list) {
    list = [];
    lists.set(a.length, list);
  }
  list.push(a);
}
