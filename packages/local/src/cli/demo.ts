/**
 * `reflex demo`: a scripted scenario, in-process and in memory, that shows each runbook, its
 * trigger and its guardrails — the same code paths as `reflex start`, narrated.
 */
import { Gate, must, validateConfig } from "@reflex/core";
import { SimulatedCloud } from "../cloud/index.ts";
import { type LocalMode, startLocal } from "../local-mode.ts";
import { alarmEvent } from "../sample-events.ts";

const say = (s = "") => process.stdout.write(`${s}\n`);

const alarm = (name: string, state: "ALARM" | "OK", at: Date) =>
  alarmEvent(name, state, at, { id: `${name}-${state}-${at.getTime()}` });

/** What the demo reads of a run (`GET /api/executions/:id`); `result` is the backup's when it ended. */
interface RunView {
  status: string;
  error?: string | null;
  result?: { summary?: string; manifest?: string; plan?: { create: unknown[]; prune: unknown[] } };
}

/** What the demo reads of the audit trail (`GET /api/audit`). */
interface AuditPage {
  entries: Array<{ kind: string }>;
}

/** A read of local mode's own API, whose answers the demo's scenario knows the shape of. */
async function get<T>(local: LocalMode, path: string): Promise<T> {
  return (await fetch(`${local.url}${path}`)).json() as Promise<T>;
}

async function run(local: LocalMode, runbook: string, params: unknown, dryRun = false) {
  const res = await fetch(`${local.url}/api/runbooks/${runbook}/executions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-reflex-actor": "demo" },
    body: JSON.stringify({ params, dryRun }),
  });
  const { executionId } = (await res.json()) as { executionId: string };
  await local.idle();
  return get<RunView>(local, `/api/executions/${executionId}`);
}

export async function demo(): Promise<number> {
  const config = validateConfig({
    rules: [
      {
        name: "web-cpu-high",
        on: {
          source: ["aws.cloudwatch"],
          detail: { alarmName: ["web-cpu-high"], state: { value: ["ALARM"] } },
        },
        run: "scale",
        with: { autoScalingGroup: "web", change: "+2" },
        cooldown: "10m",
      },
      {
        name: "db-unhealthy",
        on: {
          source: ["aws.cloudwatch"],
          detail: { alarmName: [{ prefix: "db-" }], state: { value: ["ALARM"] } },
        },
        run: "backup-snapshot",
        with: { selector: { tag: { Role: "db" } } },
        cooldown: "0s",
      },
    ],
    freezes: [
      {
        name: "demo-freeze",
        from: "2030-01-01T00:00:00Z",
        to: "2030-01-02T00:00:00Z",
        reason: "the demo's freeze",
      },
    ],
    guardrails: { breaker: { failures: 3, within: "30m" } },
  });
  const local = await startLocal({
    config,
    port: 0,
    quiet: true,
    dataDir: null,
    scheduler: false,
    waitMs: 50,
    cloud: SimulatedCloud.seeded({ snapshotDurationMs: 300 }),
  });
  try {
    const web = () =>
      must(
        local.cloud.autoScalingGroups().find((g) => g.AutoScalingGroupName === "web"),
        'local.cloud.autoScalingGroups().find((g) => g.AutoScalingGroupName === "web")',
      );
    say(
      `Reflex demo — local mode at ${local.url}, a simulated account with ${local.cloud.instances().length} instances.\n`,
    );

    say("1. backup-snapshot, dry-run: the plan, and no mutating call");
    const before = local.cloud.calls.length;
    const dry = await run(
      local,
      "backup-snapshot",
      { selector: { tag: { Backup: "daily" } }, keepLast: 1 },
      true,
    );
    const plan = must(dry.result?.plan, "the dry run's plan");
    say(
      `   ${dry.status}: would snapshot ${plan.create.length} volumes, delete ${plan.prune.length} expired Reflex snapshots`,
    );
    say(`   mutating calls made: ${local.cloud.calls.slice(before).filter((c) => c.mutating).length}\n`);

    say("2. backup-snapshot for real");
    const real = await run(local, "backup-snapshot", { selector: { tag: { Backup: "daily" } }, keepLast: 1 });
    const done = must(real.result, "the backup's result");
    say(`   ${real.status}: ${done.summary}; manifest ${done.manifest}\n`);

    say("3. An alarm fires: web-cpu-high → scale web +2");
    const t0 = new Date();
    const [d1] = await Gate.handleEvent(alarm("web-cpu-high", "ALARM", t0), { config });
    await local.idle();
    say(`   decision: ${d1.decision} (${d1.executionId}); web desired capacity now ${web().DesiredCapacity}`);
    const [d2] = await Gate.handleEvent(alarm("web-cpu-high", "ALARM", t0), { config });
    say(`   the same event again: ${d2.decision} — ${d2.reason}`);
    const [d3] = await Gate.handleEvent(alarm("web-cpu-high", "ALARM", new Date(t0.getTime() + 60_000)), {
      config,
      now: new Date(t0.getTime() + 60_000),
    });
    say(`   it flaps a minute later: ${d3.decision} by ${d3.guardrail} — ${d3.reason}\n`);

    say("4. Guardrails on by default");
    const frozenAt = new Date("2030-01-01T12:00:00Z");
    const [f] = await Gate.handleEvent(alarm("db-1-cpu", "ALARM", frozenAt), { config, now: frozenAt });
    say(`   during a change freeze: ${f.decision} by ${f.guardrail} — ${f.reason}`);
    local.cloud.injectFault({
      operation: "DescribeInstances",
      kind: "error",
      code: "UnauthorizedOperation",
      message: "demo: access denied",
    });
    for (let i = 1; i <= 3; i++) {
      const [d] = await Gate.handleEvent(alarm(`db-${i}-cpu`, "ALARM", new Date(t0.getTime() + i * 1000)), {
        config,
      });
      await local.idle();
      const e = await get<RunView>(local, `/api/executions/${d.executionId}`);
      say(`   automatic run ${i} against a broken account: ${e.status} (${e.error})`);
    }
    local.cloud.clearFaults();
    const [b] = await Gate.handleEvent(alarm("db-9-cpu", "ALARM", new Date(t0.getTime() + 10_000)), {
      config,
    });
    say(`   the next alarm: ${b.decision} by ${b.guardrail} — ${b.reason}`);
    await fetch(`${local.url}/api/guardrails/resume`, {
      method: "POST",
      headers: { "x-reflex-actor": "demo-oncall" },
    });
    const [r] = await Gate.handleEvent(alarm("db-9-cpu", "ALARM", new Date(t0.getTime() + 20_000)), {
      config,
    });
    await local.idle();
    say(`   after \`reflex resume\` by a person: ${r.decision}\n`);

    const audit = await get<AuditPage>(local, "/api/audit?limit=500");
    const kinds = new Map<string, number>();
    for (const a of audit.entries) kinds.set(a.kind, (kinds.get(a.kind) ?? 0) + 1);
    say(
      `5. Every decision is in the audit trail (${audit.entries.length} entries dated today; the freeze decision is filed under its simulated 2030 date):`,
    );
    for (const [k, n] of [...kinds].sort()) say(`   ${k.padEnd(22)} ${n}`);
    say(
      "\nNext: `npm start`, then open the dashboard, or `npx reflex run backup-snapshot --param selector.tag.Backup=daily --wait`.",
    );
    return 0;
  } finally {
    await local.stop();
  }
}
