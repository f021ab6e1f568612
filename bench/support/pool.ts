/** Helpers the load benchmarks share. */

/** Runs `work` over `items` with at most `limit` in flight; returns elapsed ms. */
export async function pool<T>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
  return performance.now() - started;
}

/** Shuffles `items` in place with a seeded generator, so a run is repeatable. */
export function shuffle<T>(items: T[], seed = 42): T[] {
  let s = seed;
  const rand = () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
