/**
 * ChatOps under signed but hostile Slack requests, in local mode: user-supplied text never
 * becomes a mention or link in a message (Slack's escaping: & < >), and every field of an
 * interaction payload is checked before use — a bad one gets a polite answer and an audit
 * entry, never a DynamoDB error or a silent TypeError.
 */
import { ChatOps } from "@reflex/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ApprovalRecords from "../packages/core/src/state/approvals.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";
import { postSlack } from "./support/slack.ts";
import { until } from "./support/wait.ts";

const SECRET = "hostile-signing-secret";
const RESPONSE_URL = "https://hooks.slack.com/commands/T1/1/hostile";
/** What a param, reason or comment could carry to ping a channel, mention someone or link away. */
const HOSTILE = "<!channel> <!here> <@U0BAD> <https://evil.example|click> & co";
/** Markup that must never appear in anything Reflex posts. */
const INJECTED = ["<!channel>", "<!here>", "<@U0BAD>", "<https://evil"];

async function slack(local: LocalMode, route: "commands" | "interactions", form: Record<string, string>) {
  const body = new URLSearchParams(form).toString();
  const res = await postSlack(local.url, route, body, SECRET);
  return { status: res.status, text: await res.text() };
}

/** Slack escapes &, < and > in the command text it sends. */
const asSlackSends = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

let n = 0;
const command = (local: LocalMode, user: string, text: string) => {
  const url = `${RESPONSE_URL}/${user}/${++n}`;
  return slack(local, "commands", {
    command: "/reflex",
    text: asSlackSends(text),
    user_id: user,
    channel_id: "C0NCALL",
    response_url: url,
  }).then((res) => ({ ...res, url }));
};

const click = (local: LocalMode, payload: unknown) =>
  slack(local, "interactions", { payload: JSON.stringify(payload) });

const responseAt = (local: LocalMode, url: string) =>
  until(`the answer to ${url}`, () =>
    local.outbox.list({ limit: 1000 }).find((e) => e.kind === "response" && e.responseUrl === url),
  );

const audit = async (local: LocalMode) =>
  (await api(local, "GET", "/api/audit?limit=500")).body.entries as Array<Record<string, any>>;

function expectNoInjectedMarkup(posted: unknown) {
  const json = JSON.stringify(posted);
  for (const markup of INJECTED) expect(json).not.toContain(markup);
}

describe("ChatOps with hostile text and payloads", () => {
  let local: LocalMode;
  beforeAll(async () => {
    process.env.SLACK_SIGNING_SECRET = SECRET;
    local = await startTestLocal({
      environment: "local",
      chatops: { channel: "C0NCALL" },
      access: {
        roles: { sre: ["U123"], oncall: ["U456"] },
        allow: [
          { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort", "override-pause"] },
          { role: "oncall", runbooks: ["scale"], actions: ["run", "dry-run"] },
        ],
      },
    });
  });
  afterAll(async () => {
    await local?.stop();
    delete process.env.SLACK_SIGNING_SECRET;
  });

  describe("escaping (Slack's & < > rules)", () => {
    it("posts a failing run's error with a <!channel> param escaped in the channel, never as a ping", async () => {
      const sent = await command(local, "U123", "run backup-snapshot selector.tag.Backup=<!channel>");
      const started = await responseAt(local, sent.url);
      const id = started.text.match(/`(backup-snapshot-[^`]+)`/)?.[1];
      expect(id, started.text).toBeDefined();
      const failed = await until("the failure in the channel", () =>
        local.outbox
          .list({ limit: 1000 })
          .find((e) => e.kind === "message" && e.text.startsWith(`backup-snapshot ${id} failed`)),
      );
      expect(JSON.stringify(failed.blocks)).toContain("&lt;!channel&gt;");
      for (const posted of local.outbox.list({ limit: 1000 }))
        expect(JSON.stringify(posted)).not.toContain("<!channel>");
    });

    it("escapes a hostile reason, comment, param and unknown word in every answer", async () => {
      const texts = [
        `pause ${HOSTILE}`,
        "resume",
        `run scale autoScalingGroup=web change=${HOSTILE}`,
        `run scale autoScalingGroup=web change=+1 mode=${HOSTILE}`,
        `status ${HOSTILE}`,
        `${HOSTILE}`,
        `run ${HOSTILE}`,
        `run scale --${HOSTILE}`,
      ];
      for (const text of texts) {
        const sent = await command(local, "U123", text);
        expectNoInjectedMarkup(sent.text);
        if (text.startsWith("pause") || text.startsWith("run scale autoScalingGroup"))
          expectNoInjectedMarkup(await responseAt(local, sent.url));
      }
      const paused = local.outbox
        .list({ limit: 1000 })
        .find((e) => e.kind === "response" && /Automatic runs are paused/.test(e.text));
      expect(paused?.text).toContain("&lt;!channel&gt; &lt;!here&gt; &lt;@U0BAD&gt;");
      expect(paused?.text).toContain("&amp; co");
    });

    it("escapes every field of every lifecycle message it posts", async () => {
      const posted: unknown[] = [];
      const recording: ChatOps.Transport.Transport = {
        postMessage: async (m) => {
          posted.push(m);
          return { channel: m.channel, ts: `${Date.now()}.${posted.length}` };
        },
        updateMessage: async (m) => void posted.push(m),
        respond: async () => {},
        userGroups: async () => [],
      };
      const detail = {
        executionId: "hostile-1",
        runbook: HOSTILE,
        dryRun: false,
        status: "FAILED",
        trigger: { kind: HOSTILE, name: HOSTILE, actor: `slack:${HOSTILE}` },
        requestedBy: HOSTILE,
        deadline: HOSTILE,
        reasons: [HOSTILE],
        approvers: [HOSTILE],
        plan: { selector: HOSTILE },
        by: HOSTILE,
        answer: "approve",
        comment: HOSTILE,
        error: HOSTILE,
        cause: HOSTILE,
        reason: HOSTILE,
        mode: HOSTILE,
        rollback: HOSTILE,
        check: HOSTILE,
        result: { summary: HOSTILE, plan: { note: HOSTILE } },
        attention: { reason: HOSTILE, completedSteps: [HOSTILE], inFlightSteps: [HOSTILE] },
      };
      const types = [
        "Execution Started",
        "Approval Requested",
        "Approval Answered",
        "Execution Succeeded",
        "Execution Failed",
        "Execution Aborted",
        "Execution Lost",
        "Abort Requested",
        "Event Suppressed",
      ];
      // An approval request's message comes from its record (not the event): a hostile one.
      await ApprovalRecords.put({
        executionId: detail.executionId,
        runbook: HOSTILE,
        state: "ApprovalWait",
        token: "token",
        requestedBy: HOSTILE,
        requestedAt: new Date().toISOString(),
        deadline: new Date(Date.now() + 3_600_000).toISOString(),
        reasons: [HOSTILE],
        approvers: [HOSTILE],
        minApprovers: 1,
        selfApproval: false,
        plan: { selector: HOSTILE },
        stateInput: {},
      });
      // And an answer's message from the answer the record holds: a hostile one.
      const pending = await ApprovalRecords.find(detail.executionId);
      if (!pending) throw new Error("the approval record was not written");
      await ApprovalRecords.decide(pending, {
        answer: { actor: HOSTILE, answer: "approve", comment: HOSTILE, at: new Date().toISOString() },
        status: "PENDING",
      });
      for (const type of types)
        await ChatOps.Notifier.notify(type, detail, { config: local.config, transport: recording });
      expect(posted.length).toBeGreaterThanOrEqual(types.length);
      expectNoInjectedMarkup(posted);
      expect(JSON.stringify(posted)).toContain("&lt;!channel&gt;");
      // A page comes only from the run's record (ctx.page writes it): a forged one posts nothing.
      const before = posted.length;
      await ChatOps.Notifier.notify(
        "Attention Needed",
        { ...detail, reason: HOSTILE },
        { config: local.config, transport: recording },
      );
      expect(posted.length).toBe(before);
    });

    it("escapes the blocks a dry-run's plan and an approval request are built from", () => {
      const { Blocks } = ChatOps;
      expectNoInjectedMarkup(
        Blocks.dryRunPlan({ executionId: "x-1", runbook: HOSTILE, summary: HOSTILE, plan: { a: HOSTILE } }),
      );
      expectNoInjectedMarkup(
        Blocks.approvalRequest({
          executionId: "x-1",
          runbook: HOSTILE,
          requestedBy: `slack:${HOSTILE}`,
          deadline: new Date().toISOString(),
          reasons: [HOSTILE],
          approvers: [HOSTILE],
          plan: { note: HOSTILE },
        }),
      );
      expectNoInjectedMarkup(
        Blocks.approvalAnswered(
          { executionId: "x-1", runbook: HOSTILE },
          { by: HOSTILE, answer: "reject", status: "REJECTED", comment: HOSTILE, at: HOSTILE },
        ),
      );
      // A Slack user id is still mentioned: that markup is Reflex's own.
      expect(Blocks.mention("slack:U123")).toBe("<@U123>");
    });
  });

  it("refuses a command over 4,000 characters with the limit named, and starts nothing", async () => {
    const before = (await api(local, "GET", "/api/executions?limit=500")).body.executions.length;
    const sent = await command(
      local,
      "U123",
      `run backup-snapshot selector.tag.Backup=${"x".repeat(4000)} --dry-run`,
    );
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.text).text).toMatch(/over 4,000 characters; nothing was run/);
    await until("the audited command", async () =>
      (await audit(local)).find((e) => e.kind === "chatops.command" && e.data?.text?.length >= 2000),
    );
    expect((await api(local, "GET", "/api/executions?limit=500")).body.executions).toHaveLength(before);
  });

  it.each([1500, 3900])(
    "answers a run whose param is %i characters politely, never with a store error",
    async (size) => {
      const sent = await command(
        local,
        "U123",
        `run backup-snapshot selector.tag.Backup=${"y".repeat(size)} --dry-run`,
      );
      const answer = await responseAt(local, sent.url);
      expect(answer.text).not.toMatch(/went wrong|Dynamo|hashkey|ValidationException/i);
    },
  );

  describe("interaction payloads", () => {
    const base = (over: Record<string, unknown>) => ({
      type: "block_actions",
      user: { id: "U123" },
      channel: { id: "C0NCALL" },
      actions: [{ action_id: "reflex.approve", value: "scale-1" }],
      ...over,
    });

    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      [
        "an approve button whose value is 3,000 characters",
        { actions: [{ action_id: "reflex.approve", value: "a".repeat(3000) }] },
        /actions\[0\]\.value is over 2,000 characters/,
      ],
      [
        "a run-it button whose value is 5,000 characters",
        { actions: [{ action_id: "reflex.run-it", value: "b".repeat(5000) }] },
        /actions\[0\]\.value is over 2,000 characters/,
      ],
      [
        "an approve button whose value is no execution id",
        { actions: [{ action_id: "reflex.approve", value: "scale 1; drop" }] },
        /actions\[0\]\.value is not an execution id/,
      ],
      ["a user.id sent as an object", { user: { id: { $ne: null } } }, /user\.id must be a string/],
      ["a user.id that is no Slack id", { user: { id: "U1<!channel>" } }, /user\.id is not a Slack id/],
      ["no user", { user: undefined }, /user must be an object with an id/],
      ["actions that are not a list", { actions: { action_id: "reflex.approve" } }, /actions must be a list/],
      [
        "an action_id that is a number",
        { actions: [{ action_id: 7, value: "x" }] },
        /action_id must be a string/,
      ],
      ["a channel.id sent as a list", { channel: { id: ["C1"] } }, /channel\.id must be a string/],
      [
        "a reason of 5,000 characters",
        {
          actions: [{ action_id: "reflex.reject", value: "scale-1" }],
          state: { values: { "reflex.reason": { "reflex.reject-reason": { value: "r".repeat(5000) } } } },
        },
        /is over 1,000 characters/,
      ],
    ];

    it.each(cases)("answers %s politely, audits it, and does nothing else", async (_what, over, problem) => {
      const url = `${RESPONSE_URL}/click/${++n}`;
      const ack = await click(local, base({ ...over, response_url: url }));
      expect(ack.status).toBe(200);
      const answer = await responseAt(local, url);
      expect(answer.response_type).toBe("ephemeral");
      expect(answer.text).toMatch(/could not read that button click/);
      expect(answer.text).toMatch(problem);
      expect(answer.text).toMatch(/Nothing was done\.$/);
      expect(answer.text).not.toMatch(/went wrong|Dynamo|hashkey|TypeError/i);
      const entry = await until("the audit entry", async () =>
        (await audit(local)).find((e) => e.kind === "chatops.refused" && problem.test(e.reason)),
      );
      expect(entry.actor).toMatch(/^slack:(U123|unknown)$/);
      expect(JSON.stringify(entry).length).toBeLessThan(2000);
    });

    it("audits a payload it cannot answer (no usable response_url) and sends nothing", async () => {
      const before = local.outbox.list({ limit: 1000 }).length;
      const ack = await click(
        local,
        base({ user: { id: 42 }, response_url: "http://169.254.169.254/latest" }),
      );
      expect(ack.status).toBe(200);
      const entry = await until("the audit entry", async () =>
        (await audit(local)).find(
          (e) => e.kind === "chatops.refused" && /response_url is not an https URL/.test(e.reason),
        ),
      );
      expect(entry).toMatchObject({ actor: "slack:unknown" });
      expect(local.outbox.list({ limit: 1000 }).length).toBe(before);
    });

    it("answers a command whose user_id is no Slack id politely, audits it, and runs nothing", async () => {
      const url = `${RESPONSE_URL}/cmd/${++n}`;
      const ack = await slack(local, "commands", {
        text: "pause now",
        user_id: `U1${"9".repeat(3000)}`,
        channel_id: "C0NCALL",
        response_url: url,
      });
      expect(ack.status).toBe(200);
      const answer = await responseAt(local, url);
      expect(answer.text).toMatch(
        /could not read that command: user_id is not a Slack id\. Nothing was done\.$/,
      );
      const entry = await until("the audit entry", async () =>
        (await audit(local)).find(
          (e) => e.kind === "chatops.refused" && /user_id is not a Slack id/.test(e.reason),
        ),
      );
      expect(entry.actor).toBe("slack:unknown");
      const guardrails = (await api(local, "GET", "/api/guardrails")).body;
      expect(JSON.stringify(guardrails)).toMatch(/"paused":false/);
    });

    it("answers any payload at all politely, never with an internal error, and never throws", async () => {
      const replies: string[] = [];
      const recording: ChatOps.Transport.Transport = {
        postMessage: async (m) => ({ channel: m.channel, ts: "1.1" }),
        updateMessage: async () => {},
        respond: async (_url, m) => void replies.push(m.text),
        userGroups: async () => [],
      };
      const action = fc.record(
        {
          action_id: fc.oneof(
            fc.constantFrom("reflex.approve", "reflex.reject", "reflex.run-it", "reflex.reject-reason"),
            fc.anything(),
          ),
          value: fc.oneof(
            fc.string({ maxLength: 5000 }),
            fc.stringMatching(/^[a-z]{1,10}-[0-9]{1,4}$/),
            fc.anything(),
          ),
        },
        { requiredKeys: [] },
      );
      const payload = fc.record(
        {
          type: fc.oneof(fc.constant("block_actions"), fc.anything()),
          user: fc.oneof(fc.record({ id: fc.oneof(fc.constant("U123"), fc.anything()) }), fc.anything()),
          channel: fc.oneof(
            fc.record({ id: fc.oneof(fc.constant("C0NCALL"), fc.anything()) }),
            fc.anything(),
          ),
          response_url: fc.oneof(fc.constant(`${RESPONSE_URL}/prop`), fc.anything()),
          actions: fc.oneof(fc.array(action, { maxLength: 3 }), fc.anything()),
          state: fc.anything(),
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(payload, async (p) => {
          const before = replies.length;
          const message = await ChatOps.Worker.handle(
            { kind: "interaction", payload: p as Record<string, any>, receivedAt: Date.now() },
            { transport: recording, config: local.config },
          );
          // Always an answer, and sent wherever the payload names a usable response_url.
          expect(message?.text).toEqual(expect.any(String));
          expect(message?.text).not.toMatch(/went wrong/);
          if (p.response_url === `${RESPONSE_URL}/prop`) expect(replies.length).toBe(before + 1);
        }),
        { numRuns: 150 },
      );
      expect(replies.every((r) => !/went wrong/.test(r))).toBe(true);
    });

    it("still answers a well-formed click for an unknown run as not found", async () => {
      const url = `${RESPONSE_URL}/click/${++n}`;
      await click(
        local,
        base({ response_url: url, actions: [{ action_id: "reflex.approve", value: "scale-nope" }] }),
      );
      const answer = await responseAt(local, url);
      expect(answer.text).not.toMatch(/could not read/);
      expect(answer.text).toMatch(/scale-nope/);
    });
  });
});
