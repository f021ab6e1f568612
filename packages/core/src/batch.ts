/**
 * Micro-batching: items submitted in the same tick are sent together (up to `max` a batch),
 * and each submitter's promise settles with its own item's result once its batch is done — so
 * "written" still means written before the caller goes on. Used where an API takes batches
 * (BatchWriteItem, PutEvents) and a storm would otherwise send one request per item.
 *
 * @example
 * const put = batcher(25, async (items) => { await writeAll(items); return items.map(() => undefined); });
 * await put(item);
 */
export function batcher<T, R>(
  max: number,
  send: (items: T[]) => Promise<R[]>,
  /** How long the first item of a batch waits for company; 0 sends on the next turn of the event loop. */
  waitMs = 0,
): (item: T) => Promise<R> {
  let queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = queue.length > max;
    const batch = queue.slice(0, max);
    queue = queue.slice(max);
    if (scheduled) setImmediate(() => void flush());
    if (batch.length === 0) return;
    try {
      const results = await send(batch.map((p) => p.item));
      for (const [i, p] of batch.entries()) p.resolve(results[i]);
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  return (item) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (queue.length >= max) void flush();
      else if (!scheduled) {
        scheduled = true;
        if (waitMs > 0) setTimeout(() => void flush(), waitMs);
        else setImmediate(() => void flush());
      }
    });
}
