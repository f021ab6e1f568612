/** Waiting for state in tests: poll until it holds, never sleep a fixed time as synchronization. */

const EVERY_MS = 25;

/**
 * Polls `probe` until it answers a value (anything but undefined) and returns it; after `ms` (a
 * deadline that only fails the test) throws, naming `what` it waited for.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, EVERY_MS));
  }
}

/**
 * Polls `read` until `ok` holds of its answer and returns that answer; after `ms` (a deadline
 * that only fails the test) throws with the last answer.
 */
export async function waitFor<T>(read: () => Promise<T> | T, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting; last: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, EVERY_MS));
  }
}
