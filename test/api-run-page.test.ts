/**
 * One request for a run page: `GET /api/executions/:id` answers the run with its steps, audit,
 * result, its runbook's state machine (what `/api/runbooks/:name` gives) and the runs that
 * repeated it, so the console draws the page from it alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../packages/local/src/cli/main.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, runAndWait, startTestLocal } from "./support/local.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(async () => local?.stop());

describe("GET /api/executions/:id for a run page", () => {
  it("carries the runbook's state machine and the re-runs, beside the steps, audit and result", async () => {
    const first = await runAndWait(
      local,
      "backup-snapshot",
      { selector: { tag: { Backup: "daily" } } },
      true,
    );
    const rerun = await api<{ executionId: string }>(local, "POST", `/api/executions/${first.id}/rerun`, {});
    expect(rerun.status).toBe(202);
    await local.idle();

    const [run, runbook] = await Promise.all([
      api(local, "GET", `/api/executions/${first.id}`),
      api(local, "GET", "/api/runbooks/backup-snapshot"),
    ]);
    expect(run.status).toBe(200);
    expect(run.body.stateMachine).toEqual(runbook.body.stateMachine);
    expect(run.body.stateMachine.States).toBeTypeOf("object");
    expect(run.body.reruns).toEqual([rerun.body.executionId]);
    expect(run.body.steps.length).toBeGreaterThan(0);
    expect(run.body.audit.map((a: { kind: string }) => a.kind)).toContain("execution.started");
    expect(run.body.outcome).toBeDefined();

    // `reflex show` prints the re-runs the route gives (ids), without listing runs.
    const out: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: () => {}, colour: false, tty: false };
    expect(await main(["show", first.id, "--url", local.url], io)).toBe(0);
    expect(out.join("\n")).toContain(`re-runs   ${rerun.body.executionId}`);

    // The re-run is linked from the run it repeats, not the other way round.
    const again = await api(local, "GET", `/api/executions/${rerun.body.executionId}`);
    expect(again.body.reruns).toEqual([]);
    expect(again.body.trigger.rerunOf).toBe(first.id);
  });

  it.each([
    ["a run", (id: string) => `/api/executions/${id}`],
    ["the runs list", () => "/api/executions?limit=100"],
  ])(
    "answers 304 for %s that has not changed since the ETag the poller holds, and 200 once it has",
    async (_what, path) => {
      const run = await runAndWait(
        local,
        "backup-snapshot",
        { selector: { tag: { Backup: "daily" } } },
        true,
      );
      const get = (etag?: string) =>
        fetch(`${local.url}${path(run.id)}`, {
          headers: { accept: "application/json", ...(etag ? { "if-none-match": etag } : {}) },
        });

      const first = await get();
      const etag = first.headers.get("etag");
      expect([first.status, etag]).toEqual([200, expect.stringMatching(/^"[^"]+"$/)]);
      const same = await get(etag ?? "");
      expect([same.status, await same.text(), same.headers.get("etag")]).toEqual([304, "", etag]);

      // The run changes (a re-run is linked from it, and the list gains a row): a new answer.
      await api(local, "POST", `/api/executions/${run.id}/rerun`, {});
      await local.idle();
      const changed = await get(etag ?? "");
      expect(changed.status).toBe(200);
      expect(changed.headers.get("etag")).not.toBe(etag);
      expect((await changed.json()) as object).toBeTypeOf("object");
    },
  );
});
