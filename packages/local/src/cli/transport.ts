/**
 * Placeholder until the real transport lands (server discovery from `.reflex/`, SigV4 for
 * https URLs): resolves `--url` > `REFLEX_URL` > the local default, and sends plain fetch.
 * The real module keeps this signature, so the CLI does not change when it replaces this one.
 */

export interface Transport {
  /** The server's origin, e.g. `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** True for a deployed API (requests are signed; `--as` does not apply). */
  remote: boolean;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export async function openTransport(opts: { url?: string }): Promise<Transport> {
  const baseUrl = (
    opts.url ??
    process.env.REFLEX_URL ??
    `http://127.0.0.1:${process.env.REFLEX_PORT ?? 8787}`
  ).replace(/\/+$/, "");
  return {
    baseUrl,
    remote: baseUrl.startsWith("https:"),
    fetch: (path, init) => fetch(`${baseUrl}${path}`, init),
  };
}
