/** `drills:` in reflex.config.ts, checked by the restore runbook's own config schema at load: every problem with its path. */
import { ConfigError, validateConfig } from "@reflex/core";
import { checkRunbook } from "@reflex/sdk";
import { describe, expect, it } from "vitest";
import { restore } from "../examples/runbooks/restore/index.ts";
import { reflex } from "./support/cli.ts";

const drill = {
  name: "db-1",
  source: { instanceId: "i-ef1006a91d63e7570" },
  isolate: { instanceId: "i-0123456789abcdef0" },
  targets: { rtoMinutes: 30, rpoMinutes: 1560 },
};

function problems(drills: unknown): Array<{ path: string; message: string }> {
  try {
    validateConfig({ runbooks: [restore], drills });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues as Array<{ path: string; message: string }>;
  }
}

describe("drills in the config", () => {
  it("takes a sound drill", () => {
    expect(problems([drill])).toEqual([]);
  });

  it("names each bad drill's field: no isolate, its own source as scratch, a target of zero", () => {
    const found = problems([
      { ...drill, isolate: undefined },
      { ...drill, name: "self", isolate: { instanceId: drill.source.instanceId } },
      { ...drill, name: "zero", targets: { rtoMinutes: 0, rpoMinutes: 60 } },
    ]);

    const paths = found.map((p) => p.path);
    expect(paths).toContain("drills[0].isolate");
    expect(paths).toContain("drills[1].isolate.instanceId");
    expect(paths).toContain("drills[2].targets.rtoMinutes");
    expect(found.every((p) => p.message.endsWith("(runbook 'restore')"))).toBe(true);
  });

  it("takes a selector instead of a source, and names a drill with both or neither at its source", () => {
    const { source: _, ...noSource } = drill;
    expect(problems([{ ...noSource, selector: { tag: { Tier: "db" } } }])).toEqual([]);
    const found = problems([
      { ...drill, selector: { tag: { Tier: "db" } } },
      { ...noSource, name: "neither" },
      { ...noSource, name: "fast", selector: { tag: { Tier: "db" } }, fastRestore: "yes" },
    ]);

    expect(found.map((p) => p.path)).toEqual([
      "drills[0].source",
      "drills[1].source",
      "drills[2].fastRestore",
    ]);
    expect(found[0].message).toMatch(/^give exactly one of source and selector/);
  });

  it("reflex config check names each bad drill (no isolate, its source as scratch, keepFor over 168 h, its own bad cron or zone) and its schedule's bad cron by path, and exits 2", async () => {
    const out = await reflex(["config", "check", "--config", "test/fixtures/bad-drills.config.ts"]);
    expect(out.code).toBe(2);
    for (const path of [
      "drills[0].isolate:",
      "drills[1].isolate.instanceId: a drill restores into a scratch instance, never into its source instance",
      "drills[2].keepFor: must be at most 168 hours (7 days), as AWS Backup's validation window",
      "drills[3].cron: cron needs 6 fields",
      "drills[4].timezone: must be an IANA time zone such as Europe/Berlin",
      "drills[5].timezone: a timezone is the cron's: give cron too",
      "schedules[0].cron: cron needs 6 fields",
    ])
      expect(out.stderr).toContain(path);
  });

  it("makes a drill's cron its schedule (drill-<name>, its zone, run restore with the drill), and keepFor 0 by default", () => {
    const config = validateConfig({
      runbooks: [restore],
      drills: [
        { ...drill, cron: "cron(0 4 ? * SUN *)", timezone: "Europe/Berlin" },
        { ...drill, name: "db-2" },
      ],
    });
    expect(config.schedules).toEqual([
      expect.objectContaining({
        name: "drill-db-1",
        cron: "cron(0 4 ? * SUN *)",
        timezone: "Europe/Berlin",
        run: "restore",
        with: { drill: "db-1" },
      }),
    ]);
    expect(
      ((config.runbookConfig?.drills ?? []) as Array<{ keepFor: number }>).map((d) => d.keepFor),
    ).toEqual([0, 0]);
  });

  it("refuses two drills of one name", () => {
    expect(problems([drill, drill]).map((p) => p.path)).toEqual(["drills[1].name"]);
  });

  it("refuses a drill named summary: its reports would share reports/drills/summary/ with the month's summaries", () => {
    const found = problems([drill, { ...drill, name: "summary" }]);

    expect(found.map((p) => p.path)).toEqual(["drills[1].name"]);
    expect(found[0]?.message).toMatch(/reserved/);
    // A near name is a drill like any other.
    expect(problems([{ ...drill, name: "summary-db" }])).toEqual([]);
  });
});

describe("the reconciler's sweep permissions (lostRun)", () => {
  it("restore's sweep may detach and delete only what carries the automation tag; one that may change anything is refused", () => {
    expect(checkRunbook(restore as never)).toEqual([]);
    const loose = {
      ...restore,
      lostRun: {
        permissions: [{ actions: ["ec2:DeleteVolume"], mutating: true, tagCondition: "none" as const }],
      },
    };
    expect(checkRunbook(loose as never)).toContainEqual({
      path: "lostRun.permissions[0]",
      message:
        "a lost-run inspector only reads; a sweep may change only what carries the automation tag (tagCondition: resource)",
    });
  });
});
