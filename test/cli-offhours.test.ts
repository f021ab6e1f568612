/**
 * `reflex offhours … --json` against a server that runs off-hours (a team's runbook from
 * examples/runbooks/off-hours): JSON only, no colour, exit 0 — the rule test/cli-commands.test.ts
 * holds every other --json command to, on a server of its own.
 */
import { RunbookItems } from "@reflex/core";
import { describe, expect, it } from "vitest";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { SimulatedCloud } from "../packages/local/src/cloud/index.ts";
import { ANSI, commandTree, pathOf, reflex } from "./support/cli.ts";
import { api, startTestLocal } from "./support/local.ts";

const tree = commandTree();

describe("reflex offhours with --json, against a server running off-hours", () => {
  it("prints JSON only, with no colour, for every off-hours command that takes --json", async () => {
    const cloud = SimulatedCloud.seeded({ snapshotDurationMs: 150 });
    const id = cloud.addInstance({
      name: "web-a",
      tags: { "reflex:managed": "true", "reflex:off-hours": "office" },
    }).InstanceId as string;
    const local = await startTestLocal(
      {
        runbooks: [offHours],
        offHours: {
          schedules: [
            { name: "office", timezone: "UTC", periods: [{ days: "daily", start: "00:00", stop: "23:59" }] },
          ],
        },
      },
      { cloud },
    );
    try {
      const args: Record<string, string[]> = {
        "offhours keep": [id, "--for", "1h", "--reason", "a test"],
        "offhours overrides": [],
        "offhours release": [id],
        "offhours report": [],
        "offhours preview": ["office", "--transitions", "2"],
      };
      const withJson = tree
        .filter((c) => c.options.some((o) => o.long === "--json"))
        .map((c) => pathOf(c).join(" "))
        .filter((name) => name.startsWith("offhours "));
      expect(withJson.sort()).toEqual(Object.keys(args).sort()); // a new command needs its line above
      for (const name of Object.keys(args)) {
        const ran = await reflex([...name.split(" "), ...args[name], "--json", "--url", local.url], {
          colour: true,
        });
        expect({ name, code: ran.code, stderr: ran.stderr }).toEqual({
          name,
          code: 0,
          stderr: expect.any(String),
        });
        expect(() => JSON.parse(ran.stdout), name).not.toThrow();
        expect(ran.stdout.includes(ANSI), name).toBe(false);
      }
      // preview's text: the next transitions on the schedule's clock and in UTC, and the hours a week.
      const text = await reflex([
        "offhours",
        "preview",
        "office",
        "--at",
        "2026-12-07T10:00:00Z",
        "--url",
        local.url,
      ]);
      expect(text.code).toBe(0);
      expect(text.stdout.split("\n").slice(0, 3)).toEqual([
        "office (UTC): running 167.88 h a week",
        `  2026-12-07 23:59 UTC  (2026-12-07T23:59:00.000Z)  → stopped: stops 1  ${id}`,
        `  2026-12-08 00:00 UTC  (2026-12-08T00:00:00.000Z)  → running: starts 1  ${id}`,
      ]);
      const bad = await reflex(["offhours", "preview", "office", "--transitions", "0", "--url", local.url]);
      expect(bad.code).toBe(2);
      // Savings come from the server: GET /api/offhours/savings totals the stops that ended in [from, to).
      const saving = (
        target: string,
        to: string,
        instanceMinutes: number,
        dollars: number | "unpriced",
        costCenter?: string,
      ) =>
        RunbookItems.put("off-hours", `saving#${target}#${to}`, {
          target,
          kind: "instance",
          from: "2026-12-01T18:00:00.000Z",
          to,
          instanceMinutes,
          dollars,
          ...(costCenter ? { costCenter } : {}),
          estimate: true,
          ebs: "still billed",
        });
      await saving("i-0000000000000000a", "2026-12-02T06:00:00.000Z", 720, 0.12, "web");
      await saving("i-0000000000000000b", "2026-12-02T06:00:00.000Z", 720, 1.15, "web");
      await saving("i-0000000000000000c", "2026-12-02T06:00:00.000Z", 720, "unpriced");
      await saving("i-0000000000000000a", "2026-12-09T06:00:00.000Z", 720, 0.12, "web");
      const savings = await api(
        local,
        "GET",
        "/api/offhours/savings?from=2026-12-01&to=2026-12-03&by=tag:CostCenter",
      );
      expect(savings.status).toBe(200);
      expect(savings.body).toMatchObject({ estimate: true, ebs: "still billed", stops: 3 });
      expect(savings.body.totals).toEqual([
        { group: "web", instanceHours: 24, dollars: 1.27, unpriced: 0 },
        { group: "(none)", instanceHours: 12, dollars: 0, unpriced: 1 },
      ]);
      const badQuery = await api(local, "GET", "/api/offhours/savings?from=yesterday");
      expect(badQuery.status).toBe(400);
      expect(badQuery.body.error).toMatchObject({ code: "invalid_query", path: "from" });
      const report = await reflex(["offhours", "report", "--from", "2026-12-01", "--url", local.url]);
      expect(report.stdout).toBe(
        "4 stop(s) ended; estimated savings (on-demand prices from your table; EBS still billed):\n  all: 48 instance-hours, $1.39 (+1 unpriced)\n",
      );
    } finally {
      await local.stop();
    }
  });
});
