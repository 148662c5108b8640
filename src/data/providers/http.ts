// HTTP for the providers: retries with exponential backoff and jitter, a shared request rate that slows down on
// quota errors, key rotation, a budget of billed requests, and error messages that never carry a URL or a key.
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchCapped, RefusedResponseError } from './fetch_capped.js';
import { must } from '../../util/must.js';

/** Stop at once: a setting is wrong (key refused, bad signature). The message says which. */
export class FatalError extends Error {
  override name = 'FatalError';
}
/** Every key hit its quota; the run stops cleanly and can be resumed later. */
export class QuotaExhaustedError extends Error {
  override name = 'QuotaExhaustedError';
}
/** --max-requests reached; the run stops cleanly. */
export class BudgetExhaustedError extends Error {
  override name = 'BudgetExhaustedError';
}
/** Ctrl-C (or the caller) asked to stop. */
export class StoppedError extends Error {
  override name = 'StoppedError';
}
/** One item failed after all its retries; the collector skips it. */
export class GaveUpError extends Error {
  override name = 'GaveUpError';
}

/** What a response means, decided by the provider. */
export type Verdict<T> = { ok: T } | { retry: 'transient' | 'quota'; why: string } | { fatal: string };

export interface HttpOptions {
  /** Requests per second over all concurrent work. */
  qps: number;
  /** Per-attempt timeout, headers and body together. */
  timeoutMs: number;
  /** Cap on a response body (default MAX_RESPONSE_BYTES, 32 MB). */
  maxBodyBytes?: number;
  /** Retries of a transient failure (5xx, timeout, reset) before giving up on the item. */
  retries: number;
  /** First backoff delay; doubles per attempt (capped at 30 s), with full jitter. */
  backoffMs: number;
  /** Consecutive quota errors after which a key counts as exhausted. */
  quotaStrikes: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export const DEFAULT_HTTP: Omit<HttpOptions, 'qps'> = { timeoutMs: 20000, retries: 5, backoffMs: 500, quotaStrikes: 6 };

/** Spaces request starts at least 1/qps apart; halves the rate on quota errors and creeps back on success. */
export class RateLimiter {
  private next = 0;
  private rate: number;
  constructor(private readonly maxQps: number) {
    if (!(maxQps > 0)) throw new Error(`--qps must be above 0, got ${maxQps}`);
    this.rate = maxQps;
  }
  get qps(): number {
    return this.rate;
  }
  async wait(signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    if (at > now) await sleep(at - now, undefined, { signal }).catch(() => {});
  }
  slowDown(): void {
    this.rate = Math.max(this.maxQps / 64, this.rate / 2);
  }
  recover(): void {
    this.rate = Math.min(this.maxQps, this.rate * 1.05);
  }
}

/** Credentials in rotation; a key that keeps hitting its quota is set aside for the rest of the run. */
export class KeyRing {
  private current = 0;
  private readonly strikes: number[];
  private readonly exhausted: boolean[];
  constructor(
    readonly keys: string[],
    private readonly what: string,
    private readonly maxStrikes: number,
  ) {
    if (keys.length === 0) throw new Error(`no ${what} given`);
    this.strikes = keys.map(() => 0);
    this.exhausted = keys.map(() => false);
  }
  /** Index of the key to use now. */
  get index(): number {
    return this.current;
  }
  ok(i: number): void {
    this.strikes[i] = 0;
  }
  /** Records a quota error on key i; rotates when it is spent, throws when all are. */
  quota(i: number, log?: (line: string) => void): void {
    const strikes = must(this.strikes[i], `key ${i} is one of the ring's keys`) + 1;
    this.strikes[i] = strikes;
    if (strikes >= this.maxStrikes && !this.exhausted[i]) {
      this.exhausted[i] = true;
      const next = this.exhausted.findIndex((e) => !e);
      if (next >= 0) {
        log?.(`${this.what} #${i + 1} of ${this.keys.length} is over its quota; switching to #${next + 1}`);
        this.current = next;
      }
    }
    this.check();
  }
  /** Throws once every key is spent. */
  check(): void {
    if (this.exhausted.every(Boolean)) {
      throw new QuotaExhaustedError(
        `every ${this.what} (${this.keys.length}) is over its quota; the dataset so far is saved — run the same ` +
          `command later to continue`,
      );
    }
  }
}

/** Retries a run of any size may bill before the default --max-requests stops it (10% of a few dozen is one or two). */
export const MIN_RETRY_HEADROOM = 20;

/** The default --max-requests: the plan plus 10%, and at least MIN_RETRY_HEADROOM more than the plan. */
export function defaultMaxRequests(needed: number): number {
  return Math.max(Math.ceil(needed * 1.1), needed + MIN_RETRY_HEADROOM);
}

/** Counts billed requests against --max-requests. */
export class Budget {
  used = 0;
  constructor(readonly max: number) {}
  take(): void {
    if (this.used >= this.max) {
      throw new BudgetExhaustedError(
        `--max-requests ${this.max} reached; the dataset so far is saved — raise the limit and run again to continue`,
      );
    }
    this.used++;
  }
}

export interface RequestSpec<T> {
  /** What is being fetched, for messages ("Street View metadata"). Never a URL. */
  what: string;
  /** Builds the request for key `keyIndex` (the URL may carry the key; it is never logged). */
  build: (keyIndex: number) => { url: URL; headers?: Record<string, string> };
  interpret: (status: number, body: Buffer, contentType: string) => Verdict<T>;
  /** Charged per attempt (billed endpoints). */
  budget?: Budget;
  keys?: KeyRing;
}

export class Http {
  readonly limiter: RateLimiter;
  readonly stats = { requests: 0, retries: 0, quotaErrors: 0, transientErrors: 0 };
  constructor(readonly opts: HttpOptions) {
    this.limiter = new RateLimiter(opts.qps);
  }

  async request<T>(spec: RequestSpec<T>): Promise<T> {
    const { signal, log } = this.opts;
    let transient = 0;
    let quotaRow = 0;
    for (;;) {
      if (signal?.aborted) throw new StoppedError('stopped');
      await this.limiter.wait(signal);
      if (signal?.aborted) throw new StoppedError('stopped');
      spec.keys?.check();
      const keyIndex = spec.keys?.index ?? 0;
      spec.budget?.take();
      const { url, headers } = spec.build(keyIndex);
      this.stats.requests++;
      let verdict: Verdict<T>;
      try {
        const attempt = AbortSignal.timeout(this.opts.timeoutMs);
        const res = await fetchCapped(
          url,
          { headers, signal: signal ? AbortSignal.any([signal, attempt]) : attempt },
          this.opts.maxBodyBytes,
        );
        verdict = spec.interpret(res.status, res.body, res.contentType);
      } catch (err) {
        if (signal?.aborted) throw new StoppedError('stopped');
        if (err instanceof RefusedResponseError) throw new GaveUpError(`${spec.what}: ${err.message}`);
        // Timeouts, resets, refused connections. The error's text may quote the request, so only its code is kept.
        const e = err as { name?: string; cause?: { code?: string } };
        const code =
          e.name === 'TimeoutError'
            ? `timeout after ${this.opts.timeoutMs} ms`
            : (e.cause?.code ?? e.name ?? 'network error');
        // A name that does not resolve will not resolve on a retry either: stop at once (a host name holds no key).
        if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
          throw new FatalError(
            `cannot reach ${new URL(url).hostname}: its name does not resolve (${code}); check the network ` +
              'connection (or --endpoint) and run the command again, which continues where it stopped',
          );
        }
        verdict = { retry: 'transient', why: code };
      }
      if ('ok' in verdict) {
        spec.keys?.ok(keyIndex);
        this.limiter.recover();
        return verdict.ok;
      }
      if ('fatal' in verdict) throw new FatalError(verdict.fatal);
      let delay: number;
      if (verdict.retry === 'quota') {
        this.stats.quotaErrors++;
        this.limiter.slowDown();
        spec.keys?.quota(keyIndex, log);
        delay = this.backoff(Math.min(quotaRow++, 6));
        if (!spec.keys && quotaRow > this.opts.quotaStrikes)
          throw new QuotaExhaustedError(`${spec.what}: still over quota after ${quotaRow} tries (${verdict.why})`);
        log?.(`${spec.what}: over quota (${verdict.why}); slowing to ${this.limiter.qps.toFixed(2)} requests/s`);
      } else {
        this.stats.transientErrors++;
        if (transient >= this.opts.retries)
          throw new GaveUpError(`${spec.what}: gave up after ${transient + 1} attempts (${verdict.why})`);
        delay = this.backoff(transient++);
        log?.(`${spec.what}: ${verdict.why}; retry ${transient} of ${this.opts.retries} in ${delay} ms`);
      }
      this.stats.retries++;
      await sleep(delay, undefined, { signal }).catch(() => {});
    }
  }

  // Full jitter: uniform in [0, min(cap, base * 2^attempt)], at least 1 ms.
  private backoff(attempt: number): number {
    return Math.max(1, Math.round(Math.random() * Math.min(30000, this.opts.backoffMs * 2 ** attempt)));
  }
}

/** Keys are sent only over https, except to this machine (tests, local proxies). */
export function checkEndpoint(url: string, flag: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${flag} '${url}' is not a URL; give one like https://maps.googleapis.com`);
  }
  const local = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && local)) {
    throw new Error(
      `${flag} must use https (plain http only to 127.0.0.1/localhost), so keys never cross a network unencrypted`,
    );
  }
  if (u.username || u.password)
    throw new Error(`${flag} must not carry credentials; keys come from environment variables`);
  return u;
}
