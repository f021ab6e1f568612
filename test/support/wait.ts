/** Waiting for state in tests: poll until it holds, never sleep a fixed time as synchronization. */

/**
 * Polls `what` until `ok` holds of its answer and returns that answer; after `ms` (a deadline
 * that only fails the test) throws with the last answer.
 */
export async function until<T>(what: () => Promise<T> | T, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting; last: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
