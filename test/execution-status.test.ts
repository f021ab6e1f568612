/**
 * The execution-status handler closes only runs of this stage's own state machines: a status
 * event of another stage's machine (same account, a longer stage name, the same run id) is
 * ignored, not used to close the run of the same name here; a run is closed only when
 * DescribeExecution confirms its execution ended (test/provenance.test.ts has the forged ones).
 */
import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { Aws, Executions, Runbooks } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../packages/functions/src/execution-status.ts";
import { type LocalMode, STATE_MACHINE_PREFIX } from "../packages/local/src/local-mode.ts";
import { executionFailedEvent } from "./support/events.ts";
import { startTestLocal } from "./support/local.ts";
import { noopRunbook } from "./support/runbooks.ts";

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal();
});
afterAll(async () => local?.stop());

const trigger = { kind: "schedule" as const, name: "nightly", actor: "schedule:nightly" };

describe("execution-status handler", () => {
  it("ignores the status of another stage's state machine even when the run id is the same", async () => {
    await Executions.create({
      id: "nightly-2026-01-01",
      runbook: "backup-snapshot",
      dryRun: false,
      params: {},
      trigger,
    });
    const prefix = process.env.REFLEX_STATE_MACHINE_ARN_PREFIX!;
    const otherStage = `${prefix}alice-backup-snapshot`;

    await handler(
      executionFailedEvent(otherStage, "nightly-2026-01-01", "Boom", "another stage's run failed") as never,
      {} as never,
    );

    expect((await Executions.get("nightly-2026-01-01")).status).toBe("RUNNING");
  });

  it("closes the run when Step Functions confirms this stage's execution ended, with the status it reports", async () => {
    await Executions.create({
      id: "nightly-2026-01-02",
      runbook: "backup-snapshot",
      dryRun: false,
      params: {},
      trigger,
    });
    const prefix = process.env.REFLEX_STATE_MACHINE_ARN_PREFIX!;

    // A real execution of that name (input the machine cannot run, so it fails): the engine
    // sends its status event to the handler, which reads the execution back before closing.
    await Aws.client(SFNClient, "sfn").send(
      new StartExecutionCommand({
        stateMachineArn: `${prefix}backup-snapshot`,
        name: "nightly-2026-01-02",
        input: "{}",
      }),
    );
    await local.idle();

    expect((await Executions.get("nightly-2026-01-02")).status).toBe("FAILED");
  });

  it("closes a run of a runbook registered after it last looked (a config loaded again, another local mode in the process)", async () => {
    const prefix = process.env.REFLEX_STATE_MACHINE_ARN_PREFIX!;
    // The handler has answered before the runbook exists...
    await handler(
      executionFailedEvent(`${prefix}alice-backup-snapshot`, "late-0", "Boom", "the run failed") as never,
      {} as never,
    );
    const late = noopRunbook({ name: "late-noop", summary: "Registered after the handler first ran" });
    Runbooks.register(late);
    try {
      // ...then it is registered, and the engine runs it (as a new local mode's would).
      local.engine.registerRunbook(Runbooks.get("late-noop"), STATE_MACHINE_PREFIX);
      await Executions.create({ id: "late-1", runbook: "late-noop", dryRun: false, params: {}, trigger });
      await Aws.client(SFNClient, "sfn").send(
        new StartExecutionCommand({ stateMachineArn: `${prefix}late-noop`, name: "late-1", input: "{}" }),
      );
      await local.idle();

      expect((await Executions.get("late-1")).status).not.toBe("RUNNING");
    } finally {
      Runbooks.unregister("late-noop");
    }
  });
});
