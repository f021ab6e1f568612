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
import { SlackWork } from "./slack-work.ts";

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
  /** Where Slack's work runs after the acknowledgement (local-mode.ts drains it on stop). */
  slackWork?: SlackWork<ChatOps.Ack.Work>;
}

/** Slack's signed routes: answered (503) only when `SLACK_SIGNING_SECRET` is set. */
function slack(route: "commands" | "interactions", work: SlackWork<ChatOps.Ack.Work>) {
  return async (c: { req: { text(): Promise<string>; header(): Record<string, string> } }) => {
    const secret = process.env.SLACK_SIGNING_SECRET;
    if (!secret)
      return toFetchResponse(
        json(503, { error: { code: "not_configured", message: "SLACK_SIGNING_SECRET is not set" } }),
      );
    // Stopping: acknowledging now would promise work that will not run.
    const stopping = () =>
      toFetchResponse(
        json(503, {
          error: { code: "stopping", message: "local mode is stopping; send it again once it runs" },
        }),
      );
    if (work.stopped) return stopping();
    let refused = false;
    // Queued work waits while an acknowledgement is being answered (slack-work.ts).
    const res = await work.acknowledging(async () =>
      ChatOps.Ack.acknowledge({
        route,
        rawBody: await c.req.text(),
        headers: c.req.header(),
        secret,
        replay: ChatOps.Replay.dynamoReplayGuard,
        dispatch: async (w) => {
          // Stopping began while the request was verified: no "on it" for work that will not run.
          refused = !work.add(w);
        },
      }),
    );
    return refused ? stopping() : toFetchResponse(res);
  };
}

/** Every local route's path with the methods it answers; another method is a 405, as on the JSON API. */
const METHODS: Record<string, string[]> = {
  "/api/cloud": ["GET"],
  "/api/cloud/calls": ["GET"],
  "/api/cloud/faults": ["GET", "POST", "DELETE"],
  "/api/cloud/faults/:id": ["DELETE"],
  "/api/lifecycle": ["GET"],
  "/api/outbox": ["GET"],
  "/slack/commands": ["POST"],
  "/slack/interactions": ["POST"],
};

/** The local-only routes as a Hono app. */
export function localApp(deps: LocalApiDeps): Hono<LambdaBindings> {
  const app = new Hono<LambdaBindings>();
  const work = deps.slackWork ?? new SlackWork((w: ChatOps.Ack.Work) => ChatOps.Worker.handle(w));
  if (deps.realCloud) {
    const message =
      "REFLEX_CLOUD=aws: runbooks use the AWS account your credentials reach" +
      (Object.keys(deps.realCloud.endpoints).length ? " (through the REFLEX_ENDPOINT_* endpoints)" : "") +
      ", not the simulated account; reflex cloud and reflex chaos act on the simulated account only";
    app.all("/api/cloud", (c) => c.json({ error: { code: "not_simulated", message } }, 409));
    app.all("/api/cloud/*", (c) => c.json({ error: { code: "not_simulated", message } }, 409));
  } else app.route("/", cloudApp(deps.cloud));
  app.get("/api/lifecycle", (c) => c.json({ events: deps.bus.list(Number(c.req.query("limit") ?? 100)) }));
  app.get("/api/outbox", (c) =>
    c.json({
      messages: deps.outbox.list({
        channel: c.req.query("channel"),
        thread: c.req.query("thread"),
        limit: Number(c.req.query("limit") ?? 100) || 100,
      }),
    }),
  );
  app.post("/slack/commands", slack("commands", work));
  app.post("/slack/interactions", slack("interactions", work));
  // A known path asked with another method (Hono runs routes in the order they were added).
  for (const [path, methods] of Object.entries(METHODS))
    app.all(path, (c) =>
      c.json(
        {
          error: {
            code: "method_not_allowed",
            message: `${c.req.method} is not allowed on ${new URL(c.req.url).pathname}; use ${methods.join(" or ")}`,
          },
        },
        405,
        { allow: methods.join(", ") },
      ),
    );
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
