// Runs async tasks over items with at most `limit` in flight, in order of start.
export async function forEachLimit<T>(
  items: Iterable<T>,
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const it = items[Symbol.iterator]();
  let failed: unknown;
  let hasFailed = false;
  async function worker(): Promise<void> {
    for (;;) {
      if (hasFailed) return;
      const next = it.next();
      if (next.done) return;
      try {
        await task(next.value);
      } catch (err) {
        if (!hasFailed) {
          hasFailed = true;
          failed = err;
        }
        return;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (hasFailed) throw failed;
}
