/**
 * ChatOps end to end in local mode: signed Slack requests to the local server, the same
 * acknowledgement and worker code as the Lambdas, runs on the local engine, and the outbox
 * holding what Slack would have received.
 */
import { ChatOps } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../packages/local/src/cli/main.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import type { OutboxEntry } from "../packages/local/src/outbox.ts";
import { api, startTestLocal } from "./support/local.ts";
import { postSlack } from "./support/slack.ts";
import { until } from "./support/wait.ts";

const SECRET = "e2e-signing-secret";
const RESPONSE_URL = "https://hooks.slack.com/commands/T1/1/abc";

async function slack(
  local: LocalMode,
  route: "commands" | "interactions",
  form: Record<string, string>,
  secret = SECRET,
) {
  const body = new URLSearchParams(form).toString();
  const ts = Math.floor(Date.now() / 1000);
  const res = await postSlack(local.url, route, body, secret, ts);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, raw: { body, ts } };
}

const command = (local: LocalMode, user: string, text: string) =>
  slack(local, "commands", {
    command: "/reflex",
    text,
    user_id: user,
    user_name: user.toLowerCase(),
    channel_id: "C0NCALL",
    team_id: "T1",
    response_url: `${RESPONSE_URL}/${user}/${Math.random()}`,
  });

const responsesTo = (local: LocalMode, user: string) =>
  local.outbox
    .list({ limit: 1000 })
    .filter((e) => e.kind === "response" && e.responseUrl?.includes(`/${user}/`));

async function auditEntries(local: LocalMode): Promise<Array<Record<string, any>>> {
  return (await api(local, "GET", "/api/audit?limit=200")).body.entries;
}

describe("ChatOps in local mode", () => {
  let local: LocalMode;
  beforeAll(async () => {
    process.env.SLACK_SIGNING_SECRET = SECRET;
    local = await startTestLocal({
      environment: "local",
      chatops: { channel: "C0NCALL" },
      approvals: { policies: [{ runbooks: ["scale"], require: true }] },
      access: {
        roles: { oncall: ["U123"], sre: ["U789"] },
        allow: [
          { role: "oncall", runbooks: ["scale"], actions: ["run", "dry-run"] },
          { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] },
        ],
      },
    });
  });
  afterAll(async () => {
    await local?.stop();
    delete process.env.SLACK_SIGNING_SECRET;
  });

  it("starts a run from a signed /reflex run, approves it with a signed button click, and threads every notification", async () => {
    const ack = await command(local, "U123", "run scale autoScalingGroup=web change=+1");
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ response_type: "ephemeral" });

    const started = await until("the start reply", () =>
      responsesTo(local, "U123").find((r) => /Started/.test(r.text)),
    );
    const executionId = started.text.match(/`(scale-[^`]+)`/)![1];
    const approvalMessage = await until("the approval request", () =>
      local.outbox
        .list()
        .find(
          (e) =>
            e.kind === "message" && e.text.includes("waits for approval") && e.text.includes(executionId),
        ),
    );
    const buttons = approvalMessage.blocks?.find((b) => b.type === "actions") as {
      elements: Array<{ action_id: string; value: string }>;
    };
    expect(buttons.elements.map((b) => [b.action_id, b.value])).toEqual([
      ["reflex.approve", executionId],
      ["reflex.reject", executionId],
    ]);

    const click = await slack(local, "interactions", {
      payload: JSON.stringify({
        type: "block_actions",
        user: { id: "U789" },
        channel: { id: approvalMessage.channel },
        message: { ts: approvalMessage.ts },
        response_url: `${RESPONSE_URL}/U789/click`,
        actions: [{ action_id: "reflex.approve", value: executionId }],
      }),
    });
    expect(click.status).toBe(200);
    await until("the run to end", async () => {
      const e = (await api(local, "GET", `/api/executions/${executionId}`)).body;
      return ["SUCCEEDED", "FAILED"].includes(e.status) ? e : undefined;
    });
    const thread = await until("the succeeded notification", () => {
      const t = local.outbox.list({ thread: approvalMessage.thread_ts, limit: 1000 }).reverse();
      return t.some((m) => /succeeded/.test(m.text)) ? t : undefined;
    });

    expect((await api(local, "GET", `/api/executions/${executionId}`)).body.status).toBe("SUCCEEDED");
    const root = thread[0];
    expect(root.text).toBe(`scale ${executionId} started`);
    expect(thread.slice(1).every((m: OutboxEntry) => m.thread_ts === root.ts)).toBe(true);
    expect(thread.map((m) => m.text.split(":")[0])).toEqual([
      `scale ${executionId} started`,
      `scale ${executionId}`, // the approval request, since updated

      "approved by slack",
      `scale ${executionId} succeeded`,
    ]);
    const updated = thread[1];
    expect(updated.edits).toHaveLength(1);
    expect(JSON.stringify(updated.blocks)).toMatch(/Approved by <@U789> at \d{4}-/);
    expect(JSON.stringify(updated.blocks)).not.toMatch(/reflex\.approve/);
  });

  it("posts a dry-run's plan with a Run it button that starts the real run through admission", async () => {
    await command(local, "U789", "run scale autoScalingGroup=web change=+1 --dry-run");
    const started = await until("the dry-run start", () =>
      responsesTo(local, "U789").find((r) => /Started \*scale\* \(dry-run\)/.test(r.text)),
    );
    const dryId = started.text.match(/`(scale-[^`]+)`/)![1];
    const plan = await until("the plan", () =>
      local.outbox.list().find((e) => e.kind === "message" && e.text.startsWith(`dry-run of scale ${dryId}`)),
    );
    const runIt = (
      (plan.blocks ?? []).find((b) => b.type === "actions") as {
        elements: Array<{ action_id: string; value: string }>;
      }
    ).elements[0];
    expect([runIt.action_id, runIt.value]).toEqual(["reflex.run-it", dryId]);

    await slack(local, "interactions", {
      payload: JSON.stringify({
        type: "block_actions",
        user: { id: "U789" },
        channel: { id: "C0NCALL" },
        response_url: `${RESPONSE_URL}/U789/run-it`,
        actions: [{ action_id: "reflex.run-it", value: dryId }],
      }),
    });
    const real = await until("the real run's start", () =>
      responsesTo(local, "U789").find(
        (r) => r.responseUrl?.endsWith("/run-it") && /Started \*scale\* `/.test(r.text),
      ),
    );
    const realId = real.text.match(/`(scale-[^`]+)`/)![1];
    const e = (await api(local, "GET", `/api/executions/${realId}`)).body;
    expect(e).toMatchObject({
      dryRun: false,
      params: { autoScalingGroup: "web", change: "+1" },
      trigger: { kind: "chatops", actor: "slack:U789", rerunOf: dryId },
    });
    // It waits for approval like any real scale here; U789 may not approve a run they asked for.
    await until("the approval request", () =>
      local.outbox.list().find((m) => m.text.includes(`${realId} waits for approval`)),
    );
    await command(local, "U789", `reject ${realId} only testing the button`);
    await until("the run to end", async () =>
      ["ABORTED", "FAILED"].includes((await api(local, "GET", `/api/executions/${realId}`)).body.status)
        ? true
        : undefined,
    );
  });

  it("shows the outbox to `reflex outbox`, a run's thread oldest first", async () => {
    const root = local.outbox
      .list({ limit: 1000 })
      .reverse()
      .find((m) => m.kind === "message" && !m.thread_ts)!;
    const lines: string[] = [];
    const code = await main(["outbox", "--thread", root.ts!, "--url", local.url], {
      out: (s) => lines.push(s),
      err: (s) => lines.push(s),
      colour: false,
      tty: false,
    });
    expect(code).toBe(0);
    expect(lines[0].split("\n")[1]).toBe(`  ${root.text}`);
    expect(lines[0]).toMatch(/ \(edited\)\n {2}scale scale-\S+: approved by slack:U789\n/);
  });

  it("refuses a user without the role politely, and audits the command and the refusal", async () => {
    const ack = await command(local, "U999", "run scale autoScalingGroup=web change=+1");
    expect(ack.status).toBe(200);

    const answer = await until("the refusal", () => responsesTo(local, "U999")[0]);
    expect(answer.response_type).toBe("ephemeral");
    expect(answer.text).toMatch(
      /^:no_entry: Sorry <@U999>, you may not do that: slack:U999 may not run scale in local/,
    );
    const audit = await auditEntries(local);
    expect(audit.find((e) => e.kind === "chatops.command" && e.actor === "slack:U999")).toMatchObject({
      reason: "/reflex run scale autoScalingGroup=web change=+1 (in C0NCALL)",
      data: { channel: "C0NCALL", user: "U999", text: "/reflex run scale autoScalingGroup=web change=+1" },
    });
    expect(audit.find((e) => e.kind === "start.refused" && e.actor === "slack:U999")).toMatchObject({
      guardrail: "access",
    });
  });

  it("names the bad param and shows the example", async () => {
    await command(local, "U123", "run scale autoScalingGroup=web change=lots");
    const answer = await until("the params error", () =>
      responsesTo(local, "U123").find((r) => /do not fit|param/.test(r.text)),
    );
    expect(answer.text).toMatch(/• param `change`: must be \+N, -N or =N/);
    expect(answer.text).toMatch(
      /Example: `\/reflex run scale mode=horizontal autoScalingGroup=web change=\+2`/,
    );
  });

  it("answers forged, stale and replayed requests 401 and writes nothing", async () => {
    const before = (await auditEntries(local)).length;
    const forged = await command(local, "U123", "pause").then(() =>
      slack(local, "commands", { user_id: "U123", text: "list" }, "wrong-secret"),
    );
    expect(forged.status).toBe(401);

    const first = await slack(local, "commands", { user_id: "U789", text: "whoami", channel_id: "C1" });
    const replayed = await postSlack(local.url, "commands", first.raw.body, SECRET, first.raw.ts);
    expect([first.status, replayed.status]).toEqual([200, 401]);

    const stale = Math.floor(Date.now() / 1000) - 301;
    const staleRes = await fetch(`${local.url}/slack/commands`, {
      method: "POST",
      headers: {
        "x-slack-request-timestamp": String(stale),
        "x-slack-signature": ChatOps.Signature.sign(SECRET, stale, "user_id=U789&text=list"),
      },
      body: "user_id=U789&text=list",
    });
    expect(staleRes.status).toBe(401);
    await until("the audited commands", async () =>
      (await auditEntries(local)).length >= before + 2 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 200));
    // The invalid `pause` (no reason) and the one whoami: nothing for the three refused requests.
    const added = (await auditEntries(local)).slice(0, (await auditEntries(local)).length - before);
    expect(added.map((e) => `${e.kind} ${e.actor}`).sort()).toEqual([
      "chatops.command slack:U123",
      "chatops.command slack:U789",
    ]);
  });

  it("answers a body over Slack's size 413", async () => {
    const res = await slack(local, "commands", {
      user_id: "U1",
      text: "x".repeat(ChatOps.Ack.MAX_BODY_BYTES),
    });
    expect(res.status).toBe(413);
  });
});
