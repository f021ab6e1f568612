// @ts-check
/** An action from a button or form: disabled while it runs, reported, then the page refreshed. */
import { api, errorText } from "./api.js";
import { flash } from "./dom.js";

/** @type {() => Promise<unknown>} */
let afterAction = () => Promise.resolve();
/** What runs after every action (console.js: redraw the banner and the page). @param {() => Promise<unknown>} fn */
export function onAction(fn) {
  afterAction = fn;
}

/**
 * Runs one action; reports it; refreshes. Returns the response.
 * @param {Event | undefined} ev
 * @param {string} method
 * @param {string} path
 * @param {unknown} body
 * @param {string} done what the flash line says when it worked
 */
export async function act(ev, method, path, body, done) {
  ev?.preventDefault?.();
  const button = /** @type {HTMLButtonElement | null} */ (
    /** @type {any} */ (ev)?.submitter ?? ev?.currentTarget ?? null
  );
  if (button) button.disabled = true;
  const res = await api(method, path, body);
  if (button) button.disabled = false;
  if (res.status >= 200 && res.status < 300) flash(done);
  else if (
    res.status === 404 &&
    res.body?.error?.code === "not_found" &&
    /no route/.test(res.body.error.message ?? "")
  )
    flash(
      `This server does not offer ${method} ${path.replace(/\/[^/]*-[^/]*\//, "/:id/")} yet (404).`,
      true,
    );
  else flash(`${method} ${path} failed: ${errorText(res)}`, true);
  await afterAction();
  return res;
}
