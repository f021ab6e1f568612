/**
 * Every door that changes state checks who is acting (issue 17, item 2). The routes come from
 * the app itself (Hono's `app.routes`): a state-changing route that `ROUTE_ACCESS` does not list,
 * or that this file has no scenario for, fails here. Each scenario calls its route as a person
 * without the action (403, and an audit entry with the actor and the reason) and as one with it
 * (2xx), over local mode. The local-only app's routes are listed with their rule.
 */
import { Audit, type ConfigInput } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { restore } from "../examples/runbooks/restore/index.ts";
import { app, READ_ACCESS, ROUTE_ACCESS } from "../packages/functions/src/api.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { localApp } from "../packages/local/src/local-api.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { startTestLocal } from "./support/local.ts";
import { waitFor } from "./support/wait.ts";

const CONFIG: ConfigInput = {
  environment: "prod", // scale waits for a person
  access: {
    roles: { ops: ["cli:ops"], approver: ["cli:approver"], nobody: ["cli:nobody"] },
    allow: [
      {
        role: "ops",
        runbooks: ["*"],
        actions: ["run", "dry-run", "abort", "override-pause", "override-freeze"],
      },
      { role: "approver", runbooks: ["*"], actions: ["approve", "abort"] },
      // A role that exists and may do nothing that changes state.
      { role: "nobody", runbooks: ["scale"], actions: ["dry-run"], environments: ["nowhere"] },
    ],
  },
  // Off-hours is medium risk and waits for a person in prod; these routes' access is the point here.
  approvals: { deadline: "1h", policies: [{ runbooks: ["off-hours"], require: false }] },
  // Off-hours' overrides routes (a team's runbook): one schedule, one tagged instance.
  runbooks: [offHours, restore],
  offHours: {
    schedules: [
      { name: "office", timezone: "UTC", periods: [{ days: "daily", start: "00:00", stop: "23:59" }] },
    ],
  },
};

let local: LocalMode;
let kept: string;
beforeAll(async () => {
  const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150, capacityLaunchMs: 150 });
  kept = cloud.addInstance({
    name: "office-a",
    tags: { "reflex:managed": "true", "reflex:off-hours": "office" },
  }).InstanceId as string;
  local = await startTestLocal(CONFIG, { cloud });
});
afterAll(async () => local?.stop());

async function call(as: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${local.url}${path}`, {
    method,
    headers: { "content-type": "application/json", "x-reflex-actor": as },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const status = (id: string) => call("cli:ops", "GET", `/api/executions/${id}`);

/** A scale run waiting for approval; ended (withdrawn) by `cleanup`. */
async function waitingRun(): Promise<string> {
  const res = await call("cli:ops", "POST", "/api/runbooks/scale/executions", {
    params: { autoScalingGroup: "web", change: "+1" },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await waitFor(
    () => status(res.body.executionId),
    (e) => e.body.status === "WAITING_FOR_APPROVAL",
  );
  return res.body.executionId;
}

async function ended(id: string): Promise<void> {
  const now = await status(id);
  if (now.body.status === "WAITING_FOR_APPROVAL")
    await call("cli:ops", "POST", `/api/executions/${id}/reject`, { reason: "test done" });
  await waitFor(
    () => status(id),
    (e) => !["RUNNING", "WAITING_FOR_APPROVAL"].includes(e.body.status),
  );
  await local.idle();
}

async function finishedDryRun(): Promise<string> {
  const res = await call("cli:ops", "POST", "/api/runbooks/backup-snapshot/executions", {
    params: { selector: { tag: { Backup: "daily" } } },
    dryRun: true,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await ended(res.body.executionId);
  return res.body.executionId;
}

interface Scenario {
  /** Makes what the route acts on; returns the path and body to send. */
  setup: () => Promise<{ path: string; body: unknown; cleanup?: () => Promise<void> }>;
  /** Holds the action the route takes. */
  allowed: string;
  /** Holds no role that allows it. */
  denied: string;
}

const SCENARIOS: Record<string, Scenario> = {
  "POST /api/runbooks/:name/executions": {
    setup: async () => ({
      path: "/api/runbooks/backup-snapshot/executions",
      body: { params: { selector: { tag: { Backup: "daily" } } }, dryRun: true },
    }),
    allowed: "cli:ops",
    denied: "cli:nobody",
  },
  "POST /api/executions/:id/approve": {
    setup: async () => {
      const id = await waitingRun();
      return { path: `/api/executions/${id}/approve`, body: {}, cleanup: () => ended(id) };
    },
    allowed: "cli:approver",
    denied: "cli:nobody",
  },
  "POST /api/executions/:id/reject": {
    setup: async () => {
      const id = await waitingRun();
      return { path: `/api/executions/${id}/reject`, body: { reason: "no" }, cleanup: () => ended(id) };
    },
    allowed: "cli:approver",
    denied: "cli:nobody",
  },
  "POST /api/executions/:id/abort": {
    setup: async () => {
      const id = await waitingRun();
      return { path: `/api/executions/${id}/abort`, body: { reason: "stop" }, cleanup: () => ended(id) };
    },
    allowed: "cli:approver",
    denied: "cli:nobody",
  },
  "POST /api/executions/:id/rerun": {
    setup: async () => {
      const id = await finishedDryRun();
      return {
        path: `/api/executions/${id}/rerun`,
        body: { dryRun: true },
        cleanup: async () => local.idle(),
      };
    },
    allowed: "cli:ops",
    denied: "cli:nobody",
  },
  "POST /api/offhours/overrides": {
    setup: async () => ({
      path: "/api/offhours/overrides",
      body: { targets: [kept], for: "1h", reason: "release night" },
      cleanup: async () => local.idle(),
    }),
    allowed: "cli:ops",
    denied: "cli:nobody",
  },
  "DELETE /api/offhours/overrides": {
    setup: async () => ({
      path: "/api/offhours/overrides",
      body: { targets: [kept], reason: "done" },
      cleanup: async () => local.idle(),
    }),
    allowed: "cli:ops",
    denied: "cli:approver",
  },
  "POST /api/guardrails/pause": {
    setup: async () => ({ path: "/api/guardrails/pause", body: { reason: "drill" } }),
    allowed: "cli:ops",
    denied: "cli:nobody",
  },
  "POST /api/guardrails/resume": {
    setup: async () => ({ path: "/api/guardrails/resume", body: {} }),
    allowed: "cli:ops",
    denied: "cli:approver",
  },
};

/** Routes that change state without a role check, and what stands in for one. */
const NO_ROLE: Record<string, RegExp> = {
  // Deployed: IAM auth; AWS's own sources refused; each start admitted (and audited) as its rule.
  "ALL /events": /aws\.\* sources refused/,
};

/** The state-changing routes an app has: all but GET, and but the 405 answers on known paths. */
function stateChanging(routes: Array<{ method: string; path: string }>): string[] {
  const explicit = new Set(routes.filter((r) => r.method !== "ALL").map((r) => r.path));
  return [
    ...new Set(
      routes
        .filter((r) => r.method !== "GET" && r.method !== "HEAD")
        .filter((r) => !(r.method === "ALL" && explicit.has(r.path)))
        .map((r) => `${r.method} ${r.path}`),
    ),
  ];
}

describe("the route table", () => {
  it("gives every state-changing route of the API an access rule, and this file a scenario for each", () => {
    const routes = stateChanging(app.routes);

    expect(routes.length).toBeGreaterThanOrEqual(8);
    for (const r of routes) {
      expect(ROUTE_ACCESS, `${r} has no access rule in api.ts ROUTE_ACCESS`).toHaveProperty([r]);
      if (ROUTE_ACCESS[r].action === "gate") expect(ROUTE_ACCESS[r].checkedBy).toMatch(NO_ROLE[r]);
      else expect(SCENARIOS, `${r} has no route × role scenario here`).toHaveProperty([r]);
    }
  });

  it("lists the local-only app's state-changing routes with their rule (no person owns the simulated account)", () => {
    const routes = stateChanging(
      localApp({ cloud: SimulatedCloud.seeded(), bus: {} as never, outbox: {} as never }).routes,
    );
    // Local mode only, on 127.0.0.1: the laptop's user is the operator of the simulated cloud.
    const LOCAL_ONLY: Record<string, string> = {
      "POST /api/cloud/faults": "chaos: arm a fault in the simulated account (local only)",
      "DELETE /api/cloud/faults": "chaos: disarm all (local only)",
      "DELETE /api/cloud/faults/:id": "chaos: disarm one (local only)",
      // Read-only, though a POST as AWS's JSON protocol is: `reflex prices refresh` asks it.
      "POST /api/cloud/aws/pricing": "the simulated Price List (GetProducts; changes nothing; local only)",
      "POST /api/cloud/aws/pricing/": "the same, as the SDK sends it with a path in its endpoint",
      "POST /slack/commands": "Slack's signature; the command's own access check (ChatOps worker)",
      "POST /slack/interactions": "Slack's signature; the answer's own access check (Approvals.answer)",
    };

    expect(routes.sort()).toEqual(Object.keys(LOCAL_ONLY).sort());
  });
});

describe("route × role", () => {
  for (const [route, s] of Object.entries(SCENARIOS)) {
    const method = route.split(" ")[0];
    it(`${route}: 403 and audited for ${s.denied}, 2xx for ${s.allowed}`, async () => {
      const { path, body, cleanup } = await s.setup();
      try {
        const since = Date.now();
        const refused = await call(s.denied, method, path, body);
        const trail = await Audit.list({ actor: s.denied, since });
        const allowed = await call(s.allowed, method, path, body);

        expect(refused.status, JSON.stringify(refused.body)).toBe(403);
        expect(refused.body.error.message).toContain(s.denied);
        expect(trail.entries).toContainEqual(
          expect.objectContaining({ actor: s.denied, reason: expect.stringContaining(s.denied) }),
        );
        expect(allowed.status, JSON.stringify(allowed.body)).toBeGreaterThanOrEqual(200);
        expect(allowed.status, JSON.stringify(allowed.body)).toBeLessThan(300);
      } finally {
        await cleanup?.();
      }
    });
  }
});

describe("the read routes", () => {
  it("gives every GET route of the API a read rule: a runbook whose access it takes, or why any signed-in person may read it", () => {
    const reads = [...new Set(app.routes.filter((r) => r.method === "GET").map((r) => `GET ${r.path}`))];

    expect(reads.length).toBeGreaterThanOrEqual(15);
    for (const r of reads) {
      expect(READ_ACCESS, `${r} has no read rule in api.ts READ_ACCESS`).toHaveProperty([r]);
      const rule = READ_ACCESS[r];
      expect("runbook" in rule ? rule.runbook : rule.open, r).toMatch(/\w/);
    }
  });

  it.each([["/api/drills"], ["/api/drills?from=2026-12-01&to=2027-01-01"], ["/api/drills/db-1/history"]])(
    "refuses %s (restore's drill reports) to a person with no role on restore: 403 naming why, audited",
    async (path) => {
      for (const who of ["cli:nobody", "cli:stranger"]) {
        const refused = await call(who, "GET", path);
        expect(refused.status, `${who} ${path}`).toBe(403);
        expect(refused.body.error).toMatchObject({ code: "access_denied" });
        expect(refused.body.error.message).toContain("restore");
        const audited = await Audit.list({ actor: who, kind: "access.refused", limit: 20 });
        expect(audited.entries.some((e) => e.reason.includes(path.split("?")[0] as string))).toBe(true);
      }
      // A forged token is no identity, whoever the header names: refused before any route (401).
      const forged = await fetch(`${local.url}${path}`, {
        headers: { authorization: "Bearer forged.token.here", "x-reflex-actor": "cli:ops" },
      });
      expect(forged.status, path).toBe(401);
      // This config has no drill db-1: its history is a 404 to whoever may read the reports.
      const answered = path.includes("/history") ? 404 : 200;
      expect((await call("cli:ops", "GET", path)).status).toBe(answered);
      // An approver holds actions on every runbook, restore among them: may read the reports.
      expect((await call("cli:approver", "GET", path)).status).toBe(answered);
    },
  );
});
