import { readFileSync } from "node:fs";
import { Runbooks } from "@reflex/core";
import { describe, expect, it } from "vitest";
import { restartService } from "../../../../examples/runbooks/restart-service/index.ts";
import type { ExecutionView } from "./client.ts";
import { colours } from "./colour.ts";
import { formatExecution, formatSteps, runCommand } from "./format.ts";

const base: ExecutionView = {
  id: "scale-20261128T100000Z-ab12cd",
  runbook: "scale",
  status: "FAILED",
  dryRun: false,
  startedAt: "2026-11-28T10:00:00.000Z",
  endedAt: "2026-11-28T10:00:42.000Z",
  trigger: {
    kind: "rerun",
    name: "scale-20261128T090000Z-000000",
    actor: "cli:alice",
    rerunOf: "scale-20261128T090000Z-000000",
  },
};

/** The view the API serves: the run with its results in the one result shape. */
function served(e: ExecutionView): ExecutionView {
  return { ...e, outcome: Runbooks.outcomeOf({ ...e, result: e.result ?? {} }) };
}

describe("formatExecution", () => {
  it("says what a scale's rollback undid, and why it ran", () => {
    const text = formatExecution(
      served({
        ...base,
        error: "CapacityNotReached",
        result: {
          plan: { autoScalingGroup: "web", previous: { desired: 6 }, target: 8, limits: [] },
          applied: { from: 6, to: 8 },
          rollback: {
            restored: true,
            found: 8,
            desired: 6,
            reason: "set the desired capacity back from 8 to 6",
            failure: { Error: "CapacityNotReached", Cause: "2 of 8 InService after 10m" },
          },
        },
      }),
      colours(false),
      { reruns: ["scale-20261128T110000Z-ffffff"] },
    );

    expect(text).toContain("error     CapacityNotReached");
    expect(text).toMatch(
      /\nTargets\n {2}– web {2}rolled-back — set the desired capacity back from 8 to 6\n {6}capacity: 6 → 8$/,
    );
    expect(text).toContain("rerun of  scale-20261128T090000Z-000000");
    expect(text).toContain("re-runs   scale-20261128T110000Z-ffffff");
  });

  it("says which snapshots a backup's rollback deleted and which it kept", () => {
    const text = formatExecution(
      served({
        ...base,
        runbook: "backup-snapshot",
        result: { rollback: { deleted: ["snap-1"], kept: ["snap-2", "snap-3"], failed: [], reason: null } },
      }),
    );

    expect(text).toMatch(
      /\nArtifacts\n {2}deleted by rollback {2}snap-1\n {2}kept by rollback {2}snap-2\n {2}kept by rollback {2}snap-3/,
    );
  });

  it("shows a failover's primary before and after, and its switch back", () => {
    const text = formatExecution(
      served({
        ...base,
        runbook: "failover",
        result: {
          plan: {
            pair: "app",
            from: { instance: "i-a" },
            to: { instance: "i-b" },
            actions: ["move Elastic IP"],
          },
          switchBack: { failure: { Error: "VerifyFailed" }, verified: [{ ok: true }] },
        },
      }),
    );

    expect(text).toContain("      primary: i-a → i-b");
    expect(text).toContain("– app  rolled-back — switched back to i-a after VerifyFailed, verified");
  });

  it("shows a scale-in that was skipped, with the sentence that says why", () => {
    const text = formatExecution(
      served({
        ...base,
        status: "SUCCEEDED",
        result: {
          plan: {
            autoScalingGroup: "web",
            change: "-2",
            previous: { desired: 6 },
            target: 6,
            limits: [],
            skipped: "scale-in skipped: web-cpu-high has not been OK for 15m",
          },
          summary: "scale-in skipped: web-cpu-high has not been OK for 15m",
        },
      }),
    );

    expect(text).toContain("summary   scale-in skipped: web-cpu-high has not been OK for 15m");
    expect(text).toMatch(/\nTargets\n {2}– web {2}skipped — scale-in skipped: web-cpu-high/);
  });

  it("has no colour escapes when colour is off, and marks words either way", () => {
    const plain = formatExecution({ ...base, status: "SUCCEEDED" }, colours(false));
    const coloured = formatExecution({ ...base, status: "SUCCEEDED" }, colours(true));

    expect(plain).not.toContain("\u001b[");
    expect(plain).toContain("✓ SUCCEEDED");
    expect(coloured).toContain("\u001b[32mSUCCEEDED\u001b[39m");
  });
});

describe("formatSteps", () => {
  it("folds a polling step's repeats into one line with its count and total time", () => {
    const poll = { step: "checkSnapshots", status: "SUCCEEDED", durationMs: 2 };

    const lines = formatSteps([{ step: "plan", status: "SUCCEEDED", durationMs: 5 }, poll, poll, poll]);

    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/✓ checkSnapshots ×3\s+SUCCEEDED 6 ms in all/);
  });
});

describe("runCommand", () => {
  it("writes params as --param pairs a shell takes as they are", () => {
    expect(
      runCommand("patch", {
        selector: { tag: { PatchGroup: "web" } },
        maxConcurrency: "50%",
        ids: ["a", "b"],
      }),
    ).toBe("reflex run patch --param selector.tag.PatchGroup=web --param maxConcurrency=50% --param ids=a,b");
    expect(runCommand("x", { note: "two words" })).toBe("reflex run x --param 'note=two words'");
  });
});

describe("the views of a run's results", () => {
  // The CLI's, the console's and Slack's: they render the one result shape, so they name no
  // runbook — neither a built-in nor a team's own (the example's).
  it.each([
    ["packages/local/src/cli/format.ts"],
    ["packages/local/src/console/console.js"],
    ["packages/local/src/console/graph.js"],
    ["packages/core/src/chatops/blocks.ts"],
  ])("%s names no runbook and reads no runbook's own record", (file) => {
    const text = readFileSync(file, "utf8");
    const names = [...Runbooks.list().map((r) => r.name), restartService.name];
    const named = names.filter((n) => new RegExp(`(?<![A-Za-z-])${n}(?![A-Za-z-])`).test(text));
    expect(named).toEqual([]);
    // Nor do they guess from a runbook's own record (`result.plan`, `result.rollback`): they
    // read `outcome`, and show the record only whole, as JSON.
    expect(text.match(/\bresult\??\.\w+/g) ?? []).toEqual([]);
  });
});
