/**
 * The HTTP routes only local mode has, as one Hono app served through the same Lambda adapter
 * as the JSON API (see server.ts): the simulated account (`/api/cloud…`, cloud/http.ts), the
 * lifecycle events the local bus carried (`/api/lifecycle`), what ChatOps would have posted to
 * Slack (`/api/outbox`), and Slack's two signed routes (the same acknowledgement code as the
 * Lambda; the work runs in this process after the answer, as the worker Lambda would).
 */
import { ChatOps } from "@reflex/core";
import { type LambdaBindings, lambdaHandler } from "@reflex/functions/lib/hono";
import { json, toFetchResponse } from "@reflex/functions/lib/http";
import { Hono } from "hono";
import type { LocalBus } from "./bus.ts";
import { cloudApp } from "./cloud/http.ts";
import type { SimulatedCloud } from "./cloud/index.ts";
import { invoke } from "./lambda.ts";
import type { Outbox } from "./outbox.ts";
import type { ApiRoute } from "./server.ts";

/** The path prefixes the local app answers (the server sends everything else to the JSON API). */
export const LOCAL_PREFIXES = [
  "/api/cloud",
  "/api/cloud/",
  "/api/lifecycle",
  "/api/outbox",
  "/slack/commands",
  "/slack/interactions",
];

export interface LocalApiDeps {
  cloud: SimulatedCloud;
  /** `REFLEX_CLOUD=aws`: the simulated account is not in use, so `/api/cloud…` says so (409). */
  realCloud?: { endpoints: Partial<Record<string, string>> };
  bus: LocalBus;
  outbox: Outbox;
}

/** Slack's signed routes: answered (503) only when `SLACK_SIGNING_SECRET` is set. */
function slack(route: "commands" | "interactions") {
  return async (c: { req: { text(): Promise<string>; header(): Record<string, string> } }) => {
    const secret = process.env.SLACK_SIGNING_SECRET;
    if (!secret)
      return toFetchResponse(
        json(503, { error: { code: "not_configured", message: "SLACK_SIGNING_SECRET is not set" } }),
      );
    return toFetchResponse(
      await ChatOps.Ack.acknowledge({
        route,
        rawBody: await c.req.text(),
        headers: c.req.header(),
        secret,
        replay: ChatOps.Replay.dynamoReplayGuard,
        dispatch: async (work) => {
          setImmediate(
            () =>
              void ChatOps.Worker.handle(work).catch((err) =>
                console.error("reflex: slack work failed:", err),
              ),
          );
        },
      }),
    );
  };
}

/** The local-only routes as a Hono app; any method is answered on each, as before the move to Hono. */
export function localApp(deps: LocalApiDeps): Hono<LambdaBindings> {
  const app = new Hono<LambdaBindings>();
  if (deps.realCloud) {
    const message =
      "REFLEX_CLOUD=aws: runbooks use the AWS account your credentials reach" +
      (Object.keys(deps.realCloud.endpoints).length ? " (through the REFLEX_ENDPOINT_* endpoints)" : "") +
      ", not the simulated account; reflex cloud and reflex chaos act on the simulated account only";
    app.all("/api/cloud", (c) => c.json({ error: { code: "not_simulated", message } }, 409));
    app.all("/api/cloud/*", (c) => c.json({ error: { code: "not_simulated", message } }, 409));
  } else app.route("/", cloudApp(deps.cloud));
  app.all("/api/lifecycle", (c) => c.json({ events: deps.bus.list(Number(c.req.query("limit") ?? 100)) }));
  app.all("/api/outbox", (c) =>
    c.json({
      messages: deps.outbox.list({
        channel: c.req.query("channel"),
        thread: c.req.query("thread"),
        limit: Number(c.req.query("limit") ?? 100) || 100,
      }),
    }),
  );
  app.all("/slack/commands", slack("commands"));
  app.all("/slack/interactions", slack("interactions"));
  app.notFound((c) =>
    c.json(
      { error: { code: "not_found", message: `no route ${c.req.method} ${new URL(c.req.url).pathname}` } },
      404,
    ),
  );
  return app;
}

/** The local app as the server calls a route: the v2 event through Hono's Lambda adapter. */
export function localRoute(deps: LocalApiDeps): ApiRoute {
  const handler = lambdaHandler(localApp(deps));
  return (event) => invoke(handler, "reflex-local-routes", event);
}
