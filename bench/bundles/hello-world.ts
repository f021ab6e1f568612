/** The baseline for bench/bundles.ts: a handler that imports nothing, bundled exactly like Reflex's. */
export const handler = async () => ({ statusCode: 200, body: "hello" });
