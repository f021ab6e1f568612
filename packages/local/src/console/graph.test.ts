/**
 * The run graph's status inference (graph.js runs in the browser; its logic is plain functions
 * tested here against the real runbooks' ASL).
 */
import { createRequire } from "node:module";
import { Runbooks } from "@reflex/core";
import { describe, expect, it, vi } from "vitest";
import { toHtml, withServerDom } from "../server-dom.ts";
import { aslGraph, evaluateChoice, iterations, type RunForGraph, renderGraph, statusOf } from "./graph.js";

const scale = aslGraph(Runbooks.get("scale").stateMachine);
const backup = aslGraph(Runbooks.get("backup-snapshot").stateMachine);

let clock = Date.parse("2026-11-30T10:00:00Z");
const step = (name: string, status = "SUCCEEDED", target?: string) => {
  clock += 1000;
  const startedAt = new Date(clock).toISOString();
  return status === "RUNNING"
    ? { state: name, step: name, status, target, startedAt }
    : { state: name, step: name, status, target, startedAt, durationMs: 20 };
};
const statuses = (graph: ReturnType<typeof aslGraph>, run: RunForGraph) =>
  Object.fromEntries([...statusOf(graph, run, clock + 5000)].map(([name, s]) => [name, s.status]));

describe("aslGraph", () => {
  it("has one node per top-level state, and choice, default and catch edges", () => {
    expect(scale.start).toBe("Mode");
    expect(scale.nodes.map((n) => n.name)).toContain("CapacityDecision");
    expect(scale.edges).toEqual(
      expect.arrayContaining([
        { from: "Mode", to: "PlanResize", kind: "choice", label: "rule 1" },
        { from: "Mode", to: "PlanCapacity", kind: "default", label: "default" },
        { from: "SetCapacity", to: "RestoreCapacity", kind: "catch", label: "on error" },
        { from: "PlanCapacity", to: "CapacityDecision", kind: "next", label: undefined },
      ]),
    );
  });

  it("gives a Map state the steps of its iterations", () => {
    const map = backup.nodes.find((n) => n.name === "SnapshotTargets")!;
    expect(map).toMatchObject({ iterates: true, steps: ["snapshotInstance"] });
  });
});

describe("evaluateChoice", () => {
  const known = { execution: { dryRun: true }, params: { mode: "vertical", region: "eu-west-1" } };

  it("decides rules on the run's params and execution", () => {
    expect(evaluateChoice({ Variable: "$.execution.dryRun", BooleanEquals: true }, known)).toBe(true);
    expect(evaluateChoice({ Variable: "$.params.mode", StringEquals: "horizontal" }, known)).toBe(false);
    expect(evaluateChoice({ Variable: "$.params.copyToRegion", IsPresent: true }, known)).toBe(false);
  });

  it("leaves rules on a step's output unknown", () => {
    expect(evaluateChoice({ Variable: "$.progress.done", BooleanEquals: true }, known)).toBeUndefined();
    const mixed = {
      And: [
        { Variable: "$.params.mode", StringEquals: "vertical" },
        { Variable: "$.plan.x", IsPresent: true },
      ],
    };
    expect(evaluateChoice(mixed, known)).toBeUndefined();
    expect(
      evaluateChoice({ Or: [mixed, { Variable: "$.execution.dryRun", BooleanEquals: true }] }, known),
    ).toBe(true);
    expect(evaluateChoice({ Not: { Variable: "$.execution.dryRun", BooleanEquals: true } }, known)).toBe(
      false,
    );
  });
});

describe("statusOf", () => {
  it("marks a horizontal scale's path passed, its end reached, and the vertical branch not run", () => {
    const run = {
      status: "SUCCEEDED",
      params: { mode: "horizontal" },
      steps: [step("planCapacity"), step("setCapacity"), step("checkCapacity"), step("checkCapacity")],
    };

    expect(statuses(scale, run)).toMatchObject({
      Mode: "PASSED",
      PlanCapacity: "SUCCEEDED",
      CapacityDecision: "PASSED",
      SetCapacity: "SUCCEEDED",
      WaitForCapacity: "PASSED",
      CheckCapacity: "SUCCEEDED",
      CapacityReached: "PASSED",
      Scaled: "PASSED",
      PlanResize: "NOT_RUN",
      DryRunPlanned: "NOT_RUN",
      Skipped: "NOT_RUN",
      RestoreCapacity: "NOT_RUN",
    });
    expect(statusOf(scale, run).get("CheckCapacity")!.timing).toBe("×2, 40 ms total");
  });

  it("ends a dry-run in DryRunPlanned, deciding the choice from execution.dryRun", () => {
    const run = {
      status: "SUCCEEDED",
      dryRun: true,
      params: { mode: "horizontal" },
      steps: [step("planCapacity")],
    };

    expect(statuses(scale, run)).toMatchObject({ DryRunPlanned: "PASSED", Skipped: "NOT_RUN" });
  });

  it("ends a run that planned nothing to do in Skipped", () => {
    const run = {
      status: "SUCCEEDED",
      dryRun: false,
      params: { mode: "horizontal" },
      steps: [step("planCapacity")],
    };

    expect(statuses(scale, run)).toMatchObject({
      CapacityDecision: "PASSED",
      Skipped: "PASSED",
      DryRunPlanned: "NOT_RUN",
    });
  });

  it("follows a failure through the catch to the rollback and its Fail state", () => {
    const run = {
      status: "FAILED",
      params: { mode: "horizontal" },
      steps: [
        step("planCapacity"),
        step("setCapacity"),
        step("checkCapacity", "FAILED"),
        step("restoreCapacity"),
      ],
    };

    expect(statuses(scale, run)).toMatchObject({
      CheckCapacity: "FAILED",
      RestoreCapacity: "SUCCEEDED",
      RolledBack: "FAILED",
      Scaled: "NOT_RUN",
      PlanFailed: "NOT_RUN",
    });
  });

  it("shows a running step and no end while the run runs", () => {
    const run = {
      status: "RUNNING",
      params: { mode: "vertical" },
      steps: [step("planResize"), step("stopInstance", "RUNNING")],
    };

    const s = statuses(scale, run);
    expect(s).toMatchObject({
      Mode: "PASSED",
      PlanResize: "SUCCEEDED",
      StopInstance: "RUNNING",
      PlanCapacity: "NOT_RUN",
    });
    expect(s.Resized).toBe("NOT_RUN");
    expect(s.RolledBack).toBe("NOT_RUN");
  });

  it("counts a Map's iterations and fails it when one target failed", () => {
    const run = {
      status: "RUNNING",
      steps: [
        step("plan"),
        step("snapshotInstance", "SUCCEEDED", "i-1"),
        step("snapshotInstance", "FAILED", "i-2"),
      ],
    };

    const s = statusOf(backup, run);
    expect(s.get("SnapshotTargets")).toMatchObject({
      status: "FAILED",
      records: [{ target: "i-1" }, { target: "i-2" }],
    });
  });

  it("marks the approval state a waiting run stands in", () => {
    const asl = {
      StartAt: "Plan",
      States: {
        Plan: { Type: "Task", Parameters: { step: "plan" }, Next: "Approve" },
        Approve: {
          Type: "Task",
          Resource: "arn:aws:states:::lambda:invoke.waitForTaskToken",
          Parameters: { step: "approve" },
          Next: "Act",
        },
        Act: { Type: "Task", Parameters: { step: "act" }, End: true },
      },
    };

    expect(statuses(aslGraph(asl), { status: "WAITING_FOR_APPROVAL", steps: [step("plan")] })).toEqual({
      Plan: "SUCCEEDED",
      Approve: "WAITING_FOR_APPROVAL",
      Act: "NOT_RUN",
    });
    // Also when the approval state writes a step record of its own while it waits.
    expect(
      statuses(aslGraph(asl), {
        status: "WAITING_FOR_APPROVAL",
        steps: [step("plan"), step("approve", "RUNNING")],
      }),
    ).toMatchObject({ Approve: "WAITING_FOR_APPROVAL", Act: "NOT_RUN" });
  });
});

describe("iterations", () => {
  it("groups a Map's records by target, each item's status its last record's, untargeted records apart", () => {
    const records = [
      step("beginTarget"),
      step("prepareTarget", "SUCCEEDED", "i-1"),
      step("installPatches", "FAILED", "i-1"),
      step("installPatches", "SUCCEEDED", "i-1"),
      step("prepareTarget", "SUCCEEDED", "i-2"),
      step("installPatches", "FAILED", "i-2"),
      step("prepareTarget", "RUNNING", "i-3"),
    ];

    const { items, untargeted } = iterations(records);

    expect(items.map((i) => [i.target, i.status, i.records.length])).toEqual([
      ["i-1", "SUCCEEDED", 3],
      ["i-2", "FAILED", 2],
      ["i-3", "RUNNING", 1],
    ]);
    expect(untargeted.map((r) => r.step)).toEqual(["beginTarget"]);
  });
});

describe("renderGraph", () => {
  // dagre, counting its layouts (the graph reads it from the page's globals).
  const dagre = createRequire(import.meta.url)("@dagrejs/dagre");
  let layouts = 0;
  const counted = {
    ...dagre,
    layout(g: unknown) {
      layouts++;
      dagre.layout(g);
    },
  };
  const draw = (run: RunForGraph) =>
    withServerDom({ dagre: counted }, () => toHtml(renderGraph(backup, statusOf(backup, run, clock + 5000))));

  /** Each box's size and place, as drawn: `[name, x, y, width]`. */
  const boxes = (html: string) =>
    [...html.matchAll(/data-state="([^"]+)"[\s\S]*?<rect x="([^"]+)" y="([^"]+)" width="([^"]+)"/g)].map(
      (m) => m.slice(1),
    );

  it("lays a runbook's graph out once: every run of it, whatever its states' lines say, has the same boxes in the same places", async () => {
    // graph.js loaded afresh: nothing laid out in it yet (other files in this process draw graphs).
    vi.resetModules();
    const fresh = (await import("./graph.js")) as typeof import("./graph.js");
    const draw = (run: RunForGraph) =>
      withServerDom({ dagre: counted }, () =>
        toHtml(fresh.renderGraph(backup, fresh.statusOf(backup, run, clock + 5000))),
      );
    const done = { status: "SUCCEEDED", steps: [step("plan")] };
    const before = layouts;

    const first = draw(done);
    const again = draw({ ...done });
    const running = draw({ status: "RUNNING", steps: [step("plan", "RUNNING")] });
    const failed = draw({
      status: "FAILED",
      steps: [step("plan"), { ...step("snapshot", "FAILED"), durationMs: 3_723_000 }],
    });

    expect(again).toBe(first);
    expect(running).not.toBe(first);
    expect(boxes(running)).toEqual(boxes(first));
    expect(boxes(failed)).toEqual(boxes(first));
    expect(boxes(first).length).toBe(backup.nodes.length);
    expect(layouts - before).toBe(1);
  });

  it("cuts a state's line short to fit its box, and says the whole of it in the state's title", () => {
    const steps = Array.from({ length: 12 }, () => ({ ...step("plan"), durationMs: 3_723_000 }));
    const html = draw({ status: "SUCCEEDED", steps });
    const plan = /data-state="Plan"[\s\S]*?<\/g>/.exec(html)?.[0] ?? "";

    expect(plan).toContain("<title>Plan (Task): succeeded, ×12, 12 h 24 min total</title>");
    expect(plan).toMatch(/<text class="sub"[^>]*>✓ succeeded · ×12, 12 h 24…<\/text>/);
  });

  /**
   * A new page: graph.js loaded afresh (nothing laid out in it yet), in a browser whose
   * localStorage is `stored`; it draws the backup runbook's graph for a run.
   */
  const newPage = async (stored: Map<string, string>) => {
    const localStorage = {
      getItem: (k: string) => stored.get(k) ?? null,
      setItem: (k: string, v: string) => void stored.set(k, v),
    };
    vi.resetModules();
    const fresh = (await import("./graph.js")) as typeof import("./graph.js");
    return (run: RunForGraph, dagre: unknown = counted) =>
      withServerDom({ dagre, window: globalThis, localStorage }, () =>
        toHtml(fresh.renderGraph(backup, fresh.statusOf(backup, run, clock + 5000))),
      );
  };

  it("keeps a layout in the browser's storage: a new page draws the runbook's graph from it without dagre, and lays out again what it cannot use", async () => {
    const stored = new Map<string, string>();
    const done = { status: "SUCCEEDED", steps: [step("plan")] };
    const page = () => newPage(stored);
    const before = layouts;

    const first = (await page())(done);
    expect(layouts - before).toBe(1);
    expect(JSON.parse(stored.get("reflex.layouts") ?? "[]")).toHaveLength(1);

    // A new tab, dagre not loaded (yet): the graph, not the list, from the stored layout.
    const second = (await page())(done, undefined);
    expect(second).toBe(first);
    expect(layouts - before).toBe(1);

    // A stored layout that lacks a state's box (written by another version, or tampered with) is not used.
    const [[key, kept]] = JSON.parse(stored.get("reflex.layouts") ?? "[]");
    delete kept.nodes.Plan;
    stored.set("reflex.layouts", JSON.stringify([[key, kept]]));
    expect((await page())(done)).toBe(first);
    expect(layouts - before).toBe(2);
    stored.set("reflex.layouts", "not json");
    expect((await page())(done)).toBe(first);
    expect(layouts - before).toBe(3);
  });

  it("takes a stored layout only when its boxes and edges are the graph's: one tampered with (an edge between states that do not exist, a kind that is more classes, a box resized, `__proto__` keys) is laid out again", async () => {
    const stored = new Map<string, string>();
    const done = { status: "SUCCEEDED", steps: [step("plan")] };
    const page = async () => (await newPage(stored))(done);
    const first = await page();
    const [[key, good]] = JSON.parse(stored.get("reflex.layouts") ?? "[]");
    const edge = good.edges[0];
    const tampered: Array<(l: typeof good) => void> = [
      (l) => l.edges.push({ ...edge, from: "Ghost", to: "Nowhere" }),
      (l) => l.edges.splice(0, 1),
      (l) => (l.edges[0].kind = `${edge.kind} taken`),
      (l) => (l.edges[0].to = "Ghost"),
      (l) => (l.nodes.Plan.width = 4000),
    ];
    for (const change of tampered) {
      const l = structuredClone(good);
      change(l);
      stored.set("reflex.layouts", JSON.stringify([[key, l]]));
      const before = layouts;
      expect(await page()).toBe(first);
      expect(layouts - before).toBe(1);
    }
    // `__proto__` keys, as JSON.parse makes them (own keys): nothing on Object's prototype.
    stored.set(
      "reflex.layouts",
      JSON.stringify([[key, good]]).replace(
        '"nodes":{',
        '"nodes":{"__proto__":{"x":1,"y":1,"width":1,"height":1},',
      ),
    );
    const before = layouts;
    expect(await page()).toBe(first);
    expect(layouts - before).toBe(0);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
