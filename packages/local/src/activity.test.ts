import { describe, expect, it } from "vitest";
import { describeEvent, followActivity } from "./activity.ts";
import { LocalBus } from "./bus.ts";

const ID = "scale-20261130T140211Z-7f3a01";

function watch() {
  const bus = new LocalBus("reflex-local", async () => undefined);
  const lines: string[] = [];
  const log = followActivity(
    bus,
    (l) => lines.push(l.slice(9)),
    () => new Date("2026-11-30T14:02:11Z"),
  );
  let t = Date.parse("2026-11-30T14:02:11Z") / 1000;
  const publish = async (type: string, detail: Record<string, unknown>, after = 1) => {
    t += after;
    await bus.putEvents({
      Entries: [
        {
          EventBusName: "reflex-local",
          Source: "reflex",
          DetailType: `Reflex ${type}`,
          Detail: JSON.stringify(detail),
          Time: t,
        },
      ],
    });
  };
  return { lines, log, publish };
}

describe("the activity lines of reflex start", () => {
  it("follow a run through approval to its end, with how long it took", async () => {
    const { lines, publish } = watch();
    const trigger = { kind: "manual", actor: "cli:alice" };

    await publish("Execution Started", { executionId: ID, runbook: "scale", trigger, dryRun: false });
    await publish("Approval Requested", { executionId: ID, runbook: "scale", approvers: ["oncall"] });
    await publish("Approval Answered", {
      executionId: ID,
      runbook: "scale",
      by: "cli:bob",
      status: "APPROVED",
    });
    await publish("Execution Succeeded", { executionId: ID, runbook: "scale", status: "SUCCEEDED" }, 4.2);

    expect(lines).toEqual([
      `run    scale ${ID} → RUNNING (manual by cli:alice)`,
      `run    scale ${ID} RUNNING → WAITING_FOR_APPROVAL (needs oncall; reflex approve ${ID})`,
      `run    scale ${ID} WAITING_FOR_APPROVAL → RUNNING (approved by cli:bob)`,
      `run    scale ${ID} RUNNING → SUCCEEDED (6.2 s)`,
    ]);
  });

  it("say who aborted a run, and that a lost run needs its targets checked", async () => {
    const { lines, publish } = watch();

    await publish("Abort Requested", {
      executionId: ID,
      runbook: "scale",
      by: "cli:alice",
      mode: "graceful",
      reason: "wrong group",
    });
    await publish("Execution Aborted", { executionId: ID, runbook: "scale", status: "ABORTED" });
    await publish("Execution Lost", { executionId: "patch-1", runbook: "patch", status: "FAILED" });

    expect(lines).toEqual([
      `run    scale ${ID} abort requested by cli:alice (graceful): wrong group`,
      `run    scale ${ID} RUNNING → ABORTED`,
      "run    patch patch-1 RUNNING → LOST ⚠ check its targets: reflex show patch-1",
    ]);
  });

  it("say why a schedule or a person could not start a run, but leave a rule's to its event line", async () => {
    const { lines, publish } = watch();

    await publish("Event Suppressed", {
      runbook: "backup-snapshot",
      check: "freeze",
      reason: "change freeze 'xmas' until 2026-12-27T00:00:00Z",
      actor: "schedule:nightly-backup",
      trigger: { kind: "schedule", name: "nightly-backup", actor: "schedule:nightly-backup" },
    });
    await publish("Start Refused", {
      runbook: "scale",
      check: "cooldown",
      reason: "scale ran on asg:web 2 min ago",
      actor: "cli:dave",
      trigger: { kind: "manual" },
    });
    await publish("Event Suppressed", {
      runbook: "scale",
      check: "cooldown",
      reason: "…",
      trigger: { kind: "rule", name: "r" },
    });

    expect(lines).toEqual([
      "start  backup-snapshot (schedule nightly-backup by schedule:nightly-backup) → suppressed: freeze — change freeze 'xmas' until 2026-12-27T00:00:00Z",
      "start  scale (manual by cli:dave) → refused: cooldown — scale ran on asg:web 2 min ago",
    ]);
  });

  it("print nothing once stopped", async () => {
    const { lines, log, publish } = watch();
    log.stop();

    await publish("Execution Started", { executionId: ID, runbook: "scale", trigger: { kind: "manual" } });

    expect(lines).toEqual([]);
  });

  it("describe the events Reflex knows in a few words", () => {
    expect(describeEvent({ source: "aws.ec2", detail: { "instance-id": "i-1", state: "stopped" } })).toBe(
      "aws.ec2 instance i-1 stopped",
    );
    expect(describeEvent({ source: "acme.deploy", "detail-type": "Deploy Finished", detail: {} })).toBe(
      "acme.deploy Deploy Finished",
    );
  });

  it("never write a control character an event carried to the terminal, showing it escaped instead", () => {
    const lines: string[] = [];
    const log = followActivity(new LocalBus("reflex-local", async () => undefined), (l) => lines.push(l));
    // Anyone who can name an alarm (or send an event) chooses these bytes.
    const alarmName =
      "web-cpu\u001b[2J\u001b]0;pwned\u0007\r\n14:00:00 run    scale x RUNNING → SUCCEEDED\u009b31m\u202e";

    log.decided({ source: "aws.cloudwatch", detail: { alarmName, state: { value: "ALARM" } } }, [
      { eventId: "e-1", decision: "no-match", reason: "" } as never,
    ]);

    expect(lines).toHaveLength(1);
    expect(
      [...lines[0]].filter((c) => c < " " || (c >= "\u007f" && c <= "\u009f") || c === "\u202e"),
    ).toEqual([]);
    expect(lines[0]).toContain(
      "alarm web-cpu\\x1b[2J\\x1b]0;pwned\\x07\\r\\n14:00:00 run    scale x RUNNING → SUCCEEDED\\x9b31m\\u202e ALARM → no rule matches",
    );
  });

  it("escape control characters in run lines too: an error's cause, a rejection's comment", async () => {
    const { lines, publish } = watch();

    await publish("Approval Answered", {
      executionId: ID,
      runbook: "scale",
      by: "cli:eve\u001b[8m",
      status: "REJECTED",
      comment: "no\nway",
    });
    await publish("Execution Failed", {
      executionId: "scale-2",
      runbook: "scale",
      error: "States.TaskFailed",
      cause: "boom\u001b[1A",
    });

    expect(lines).toEqual([
      `run    scale ${ID} rejected by cli:eve\\x1b[8m: no\\nway`,
      "run    scale scale-2 RUNNING → FAILED: States.TaskFailed — boom\\x1b[1A",
    ]);
  });
});
