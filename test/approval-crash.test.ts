/**
 * An approval decided by a process that dies before it tells the run: a child `reflex start`
 * is killed with SIGKILL at `approval:after-decide` (the answer won its conditional write and
 * is audited; SendTaskSuccess not yet sent) and restarted on the same data dir. The run must
 * do what the recorded decision says — not wait for a second approval, not be lost.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  call as callAs,
  dataDir,
  startChild as startOn,
  stopChildren,
  until as untilState,
} from "./support/child.ts";

const startChild = (dir: string, crashAt?: string) =>
  startOn(dir, "test/fixtures/approval.config.ts", crashAt);
const call = (url: string, as: string, method: string, path: string, body?: unknown) =>
  callAs(url, method, path, body, as);

afterEach(stopChildren);

/** The run once its status passes `ok`. */
const until = (url: string, id: string, ok: (status: string) => boolean) =>
  untilState(`run ${id}`, async () => {
    const e = await call(url, "cli:alice", "GET", `/api/executions/${id}`);
    return e.status === 200 && ok(e.body.status) ? e.body : undefined;
  });

describe("a crash between an approval's decision and telling the run", () => {
  it("is finished at restart from the recorded decision: the run goes on as approved", async () => {
    const dir = dataDir();
    const doomed = await startChild(dir, "approval:after-decide");
    const started = await call(doomed.url, "cli:alice", "POST", "/api/runbooks/scale/executions", {
      params: { autoScalingGroup: "web", change: "+1" },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const id = started.body.executionId as string;
    await until(doomed.url, id, (s) => s === "WAITING_FOR_APPROVAL");
    await call(doomed.url, "cli:carol", "POST", `/api/executions/${id}/approve`, {}).catch(() => undefined);
    expect((await doomed.exited).signal).toBe("SIGKILL");

    const restarted = await startChild(dir);
    const run = await until(restarted.url, id, (s) => !["RUNNING", "WAITING_FOR_APPROVAL"].includes(s));
    const again = await call(restarted.url, "cli:carol", "POST", `/api/executions/${id}/approve`, {});

    expect(run.status).toBe("SUCCEEDED");
    expect(run.audit.map((a: { kind: string }) => a.kind)).toContain("approval.approved");
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain("already approved by cli:carol");
  });
});
