/**
 * The merged identity (issue 17.1) and approval (17.4, 18.3) work, attacked together: one
 * person through two identities racing themselves, self-approval through a linked identity or
 * an Identity Center session, two sessions of one role, a forged SendTaskSuccess on a request
 * with answers but no decision, approvers by Slack user group, an abort racing an answer with
 * linked identities, and hostile caller ARNs. Driven as Lambda runs the API (an API Gateway v2
 * event carrying the IAM authorizer's userArn) over the local engine, so runs really wait.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { Admission, Approvals, Audit, type ConfigInput, Runs, useConfig, validateConfig } from "@reflex/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { iamApi } from "./support/api-event.ts";
import { startTestLocal } from "./support/local.ts";
import { waitFor } from "./support/wait.ts";

const ACCOUNT = "111122223333";
const session = (role: string, name: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${name}`;
const SSO_SRE = "AWSReservedSSO_SRE_0123456789abcdef";
const SSO_READ = "AWSReservedSSO_ReadOnly_fedcba9876543210";
const ALICE_IAM = `arn:aws:iam::${ACCOUNT}:user/alice`;

const CONFIG: ConfigInput = {
  environment: "prod", // scale is medium risk: every run waits for a person
  people: [
    { name: "alice", iam: [ALICE_IAM], slack: "UALICE1" },
    { name: "bob", iam: ["sso:bob"], slack: "UBOB1" },
  ],
  access: {
    roles: {
      oncall: [`arn:aws:iam::${ACCOUNT}:role/OnCall`, "person:bob"],
      sre: [
        `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_SRE_*`,
        "person:alice",
        "slack:UCAROL1",
        "group:S0SRE",
      ],
    },
    allow: [
      { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run", "approve"] },
      { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] },
    ],
  },
  approvals: { deadline: "1h" },
};

/** Rounds per race (each side sent first in half of them). */
const ROUNDS = Number(process.env.REFLEX_RACE_ROUNDS ?? 6);

const call = iamApi(ACCOUNT);

const VIEWER = session("OnCall", "viewer");
const show = (id: string) => call(VIEWER, "GET", `/api/executions/${id}`);
const ended = (id: string) =>
  waitFor(
    () => show(id),
    (e) => !["RUNNING", "WAITING_FOR_APPROVAL"].includes(e.body.status),
  );

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal(CONFIG);
});
afterAll(async () => local?.stop());

/** Runs a test left waiting: withdrawn by their requester, so the next test finds the group unlocked. */
const started: Array<{ id: string; as: string }> = [];
afterEach(async () => {
  useConfig(validateConfig(CONFIG));
  for (const { id, as } of started.splice(0)) {
    const run = await show(id);
    if (run.body.status === "WAITING_FOR_APPROVAL")
      await call(as, "POST", `/api/executions/${id}/reject`, { reason: "test done" });
    await ended(id);
  }
  await local.idle();
});

/** A scale run started by `as` (an IAM caller's ARN), waiting for approval. */
async function waitingScale(as: string): Promise<string> {
  const web = local.cloud.autoScalingGroups("us-east-1").find((g) => g.AutoScalingGroupName === "web");
  const change = (web?.DesiredCapacity ?? 0) < (web?.MaxSize ?? 0) ? "+1" : "-1";
  const res = await call(as, "POST", "/api/runbooks/scale/executions", {
    params: { autoScalingGroup: "web", change },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const id = res.body.executionId as string;
  started.push({ id, as });
  await waitFor(
    () => show(id),
    (e) => e.body.status === "WAITING_FOR_APPROVAL",
  );
  return id;
}

const mutatingCallsOf = (id: string) => local.cloud.mutatingCalls().filter((c) => c.executionId === id);
const withMinApprovers = (n: number) =>
  useConfig(validateConfig({ ...CONFIG, approvals: { deadline: "1h", minApprovers: n } }));

/** An answer as an outcome (status code and body), whichever door it came through. */
async function outcome(p: Promise<unknown>): Promise<{ status: number; body: any }> {
  try {
    const v = (await p) as { status?: number; body?: unknown };
    if (typeof v?.status === "number" && "body" in v) return v as { status: number; body: any };
    return { status: 200, body: v };
  } catch (err) {
    const e = err as { code?: string; name: string; message: string };
    const status =
      { ValidationError: 400, AccessDeniedError: 403, NotFoundError: 404, ConflictError: 409 }[e.name] ?? 500;
    return { status, body: { error: { code: e.code ?? e.name, message: e.message } } };
  }
}

describe("one person through two identities, racing themselves", () => {
  // Both in-process (as the API and the Slack worker each call it), so neither door is always first.
  const viaIam = (id: string) =>
    Approvals.answer({ executionId: id, actor: { id: ALICE_IAM }, answer: "approve", comment: "go" });
  const viaSlack = (id: string) =>
    Approvals.answer({ executionId: id, actor: { id: "slack:UALICE1" }, answer: "approve", comment: "go" });
  const both = (id: string, i: number) =>
    i % 2 === 0
      ? Promise.all([outcome(viaIam(id)), outcome(viaSlack(id))])
      : Promise.all([outcome(viaSlack(id)), outcome(viaIam(id))]).then(([s, a]) => [a, s]);

  it("with minApprovers 1: exactly one answer wins, the other is 409, the audit names alice once as approver", async () => {
    const tally: Record<string, number> = {};
    for (let i = 0; i < ROUNDS; i++) {
      const id = await waitingScale(session("OnCall", `req-${i}`));
      const [iam, slack] = await both(id, i);
      const label = `round ${i}: iam=${iam.status} ${JSON.stringify(iam.body)} slack=${slack.status} ${JSON.stringify(slack.body)}`;
      const run = await ended(id);

      expect(
        [iam.status, slack.status].filter((s) => s < 300),
        label,
      ).toHaveLength(1);
      expect(
        [iam.status, slack.status].filter((s) => s === 409),
        label,
      ).toHaveLength(1);
      expect(run.body.status, label).toBe("SUCCEEDED");
      const audit = (await Audit.list({ execution: id })).entries.reverse(); // oldest first
      const alice = audit.filter((a) => a.actor === "alice");
      expect(
        alice.map((a) => a.kind),
        label,
      ).toEqual(["approval.approved", "approval.conflict"]);
      expect(alice[0].identity, label).toMatch(/^(slack:UALICE1|arn:aws:iam::111122223333:user\/alice)$/);
      const key = iam.status < 300 ? "iam won" : "slack won";
      tally[key] = (tally[key] ?? 0) + 1;
    }
    console.log(`alice (IAM) + alice (Slack), minApprovers 1, ${ROUNDS} rounds: ${JSON.stringify(tally)}`);
  }, 120_000);

  it("with minApprovers 2: one of them counts, the other is 409, and the run still waits for a second person", async () => {
    withMinApprovers(2);
    for (let i = 0; i < ROUNDS; i++) {
      const id = await waitingScale(session("OnCall", `req-${i}`));
      const [iam, slack] = await both(id, i);
      const label = `round ${i}: iam=${iam.status} ${JSON.stringify(iam.body)} slack=${slack.status} ${JSON.stringify(slack.body)}`;
      const won = iam.status < 300 ? iam : slack;

      expect([iam.status, slack.status].sort(), label).toEqual([200, 409]);
      expect(won.body, label).toMatchObject({ status: "PENDING", approvals: 1, needed: 2 });
      const req = await Approvals.find(id);
      expect(req?.status, label).toBe("PENDING");
      expect(req?.answers.map((a) => a.actor)).toEqual(["person:alice"]);
      // Both attempts are in the audit, the one that counted first.
      const alice = (await Audit.list({ execution: id })).entries
        .reverse()
        .filter((a) => a.actor === "alice");
      expect(
        alice.map((a) => [a.kind, a.identity]),
        label,
      ).toEqual([
        ["approval.approved", iam.status < 300 ? ALICE_IAM : "slack:UALICE1"],
        ["approval.conflict", iam.status < 300 ? "slack:UALICE1" : ALICE_IAM],
      ]);
      expect((await show(id)).body.status, label).toBe("WAITING_FOR_APPROVAL");
      const carol = await Approvals.answer({
        executionId: id,
        actor: { id: "slack:UCAROL1" },
        answer: "approve",
      });
      expect(carol, label).toMatchObject({ status: "APPROVED", approvals: 2 });
      expect((await ended(id)).body.status, label).toBe("SUCCEEDED");
    }
  }, 120_000);
});

describe("self-approval and role sessions", () => {
  it("refuses bob approving from Slack or another Identity Center permission set the run he asked for as an Identity Center user", async () => {
    const id = await waitingScale(session(SSO_SRE, "bob"));

    const slack = await outcome(
      Approvals.answer({ executionId: id, actor: { id: "slack:UBOB1" }, answer: "approve" }),
    );
    const otherSet = await call(session(SSO_READ, "bob"), "POST", `/api/executions/${id}/approve`, {});

    expect(slack.status).toBe(403);
    expect(slack.body.error.message).toMatch(/bob asked for this run/);
    // Another permission set is still bob.
    expect(otherSet.status).toBe(403);
    expect(otherSet.body.error.message).toMatch(/bob asked for this run/);
    const refused = (await Audit.list({ execution: id })).entries.filter(
      (a) => a.kind === "approval.refused",
    );
    expect(refused).toContainEqual(expect.objectContaining({ actor: "bob", identity: "slack:UBOB1" }));
    expect((await Approvals.find(id))?.answers).toEqual([]);
  });

  it("refuses bob approving through an Identity Center session the run he asked for from Slack", async () => {
    const web = local.cloud.autoScalingGroups("us-east-1").find((g) => g.AutoScalingGroupName === "web");
    const change = (web?.DesiredCapacity ?? 0) < (web?.MaxSize ?? 0) ? "+1" : "-1";
    const a = await Admission.admit({
      runbook: "scale",
      params: { autoScalingGroup: "web", change },
      trigger: { kind: "chatops" },
      actor: { id: "slack:UBOB1" },
    });
    if (!a.admitted) throw new Error(`not admitted: ${JSON.stringify(a)}`);
    const id = a.execution.id;
    started.push({ id, as: session(SSO_SRE, "bob") });
    await waitFor(
      () => show(id),
      (e) => e.body.status === "WAITING_FOR_APPROVAL",
    );

    const viaSso = await call(session(SSO_SRE, "bob"), "POST", `/api/executions/${id}/approve`, {});

    expect(viaSso.status).toBe(403);
    expect(viaSso.body.error.message).toMatch(/bob asked for this run/);
  });

  it("counts two sessions of one role (different session names) as one approver", async () => {
    withMinApprovers(2);
    const id = await waitingScale(session(SSO_SRE, "bob"));

    const first = await call(session("OnCall", "pat"), "POST", `/api/executions/${id}/approve`, {});
    const second = await call(
      session("OnCall", "definitely-someone-else"),
      "POST",
      `/api/executions/${id}/approve`,
      {},
    );

    expect(first.body).toMatchObject({ status: "PENDING", approvals: 1, needed: 2 });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe("already_answered");
    expect((await show(id)).body.status).toBe("WAITING_FOR_APPROVAL");
  });
});

describe("the task token is not authority, also half-way", () => {
  it("a SendTaskSuccess with the table's token on a request with one of two approvals fails the run, changing nothing", async () => {
    withMinApprovers(2);
    const id = await waitingScale(session("OnCall", "req"));
    const first = await Approvals.answer({
      executionId: id,
      actor: { id: "slack:UALICE1" },
      answer: "approve",
    });
    expect(first).toMatchObject({ status: "PENDING", approvals: 1 });
    const table = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: local.storage.dynamoEndpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }),
    );
    const row = await table.send(
      new GetCommand({ TableName: process.env.REFLEX_TABLE, Key: { pk: `APPROVAL#${id}`, sk: "APPROVAL" } }),
    );
    const sfn = new SFNClient({
      endpoint: local.url,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    await sfn.send(
      new SendTaskSuccessCommand({
        taskToken: row.Item?.token as string,
        output: JSON.stringify({ approvedBy: ["alice", "carol"] }),
      }),
    );
    sfn.destroy();
    table.destroy();

    const run = await ended(id);
    expect(run.body).toMatchObject({ status: "FAILED", error: "ApprovalNotRecorded" });
    expect(run.body.cause).toMatch(/approval not recorded: the request is PENDING/);
    expect(mutatingCallsOf(id)).toEqual([]);
  });
});

describe("approvers by the Identity Center permission set they signed in with", () => {
  it("counts an approval by a user whose approver role comes only from the permission set's role pattern", async () => {
    const id = await waitingScale(session("OnCall", "req"));

    const out = await call(session(SSO_SRE, "dora"), "POST", `/api/executions/${id}/approve`, {});

    expect(out.body).toMatchObject({ status: "APPROVED", approvals: 1, needed: 1 });
    const run = await ended(id);
    expect(run.body.status).toBe("SUCCEEDED");
    expect(run.body.steps).toContainEqual(
      expect.objectContaining({ step: "verifyApproval", status: "SUCCEEDED" }),
    );
  });
});

describe("approvers by Slack user group", () => {
  it("counts an approval by a member of an approver group (group: member), and the run goes on", async () => {
    const id = await waitingScale(session("OnCall", "req"));

    const out = await Approvals.answer({
      executionId: id,
      actor: { id: "slack:UGRP01", groups: ["S0SRE"] },
      answer: "approve",
    });

    expect(out).toMatchObject({ status: "APPROVED", approvals: 1, needed: 1 });
    const run = await ended(id);
    expect(run.body.status).toBe("SUCCEEDED");
  });
});

describe("abort with linked identities", () => {
  it("names the person in the abort's audit and decision, keeping the identity", async () => {
    const id = await waitingScale(session("OnCall", "req"));

    const abort = await Runs.abort({
      executionId: id,
      actor: { id: "slack:UALICE1" },
      reason: "wrong group",
    });
    const run = await ended(id);
    const late = await call(session(SSO_SRE, "bob"), "POST", `/api/executions/${id}/approve`, {});

    expect(abort).toMatchObject({ rollback: "nothing to undo" });
    expect(run.body).toMatchObject({ status: "ABORTED", error: "RunAborted" });
    expect(late.status).toBe(409);
    expect(late.body.error.message).toContain("aborted by alice");
    const audit = (await Audit.list({ execution: id })).entries;
    expect(audit).toContainEqual(
      expect.objectContaining({
        kind: "execution.abort-requested",
        actor: "alice",
        identity: "slack:UALICE1",
      }),
    );
    expect(audit).toContainEqual(
      expect.objectContaining({ kind: "approval.conflict", actor: "bob", identity: "sso:bob" }),
    );
  });

  it("abort (alice via Slack) racing approve (bob via Identity Center): one wins, the run does what it said, the audit names people", async () => {
    const tally: Record<string, number> = {};
    for (let i = 0; i < ROUNDS; i++) {
      const id = await waitingScale(session("OnCall", `req-${i}`));
      const abort = () =>
        outcome(Runs.abort({ executionId: id, actor: { id: "slack:UALICE1" }, reason: "stop it" }));
      // In-process, as the API calls it for that session (actor() resolves it to sso:bob), so
      // neither door is always first.
      const approve = () =>
        outcome(
          Approvals.answer({
            executionId: id,
            actor: { id: "sso:bob", raw: session(SSO_SRE, "bob") },
            answer: "approve",
          }),
        );
      const [ab, ap] =
        i % 2 === 0
          ? await Promise.all([abort(), approve()])
          : await Promise.all([approve(), abort()]).then(([p, b]) => [b, p]);
      const run = await ended(id);
      const label = `round ${i}: abort=${ab.status} ${JSON.stringify(ab.body)} approve=${ap.status} ${JSON.stringify(ap.body)} run=${run.body.status}`;

      expect(
        [ab.status, ap.status].filter((s) => s < 300),
        label,
      ).toHaveLength(1);
      const audit = (await Audit.list({ execution: id })).entries;
      if (ab.status < 300) {
        expect(ap.status, label).toBe(409);
        expect(ap.body.error.message, label).toContain("aborted by alice");
        expect(ab.body, label).toMatchObject({ rollback: "nothing to undo" });
        expect(run.body, label).toMatchObject({ status: "ABORTED", error: "RunAborted" });
        expect(mutatingCallsOf(id), label).toEqual([]);
        expect(audit, label).toContainEqual(
          expect.objectContaining({ kind: "approval.conflict", actor: "bob", identity: "sso:bob" }),
        );
      } else {
        expect(ab.status, label).toBe(409);
        expect(ab.body.error.message, label).toContain("approved by bob");
        expect(run.body.status, label).toBe("SUCCEEDED");
        expect(audit, label).toContainEqual(
          expect.objectContaining({ kind: "approval.conflict", actor: "alice", identity: "slack:UALICE1" }),
        );
      }
      const key = ab.status < 300 ? "abort won" : "approve won";
      tally[key] = (tally[key] ?? 0) + 1;
    }
    console.log(`abort (alice/Slack) + approve (bob/SSO), ${ROUNDS} rounds: ${JSON.stringify(tally)}`);
  }, 120_000);
});

describe("one person withdrawing and aborting at once, through two doors", () => {
  it("reject (alice via IAM, her own run) racing abort (alice via Slack): one wins, the loser's 409 names it", async () => {
    const tally: Record<string, number> = {};
    for (let i = 0; i < ROUNDS; i++) {
      const id = await waitingScale(ALICE_IAM);
      const reject = () =>
        outcome(
          Approvals.answer({
            executionId: id,
            actor: { id: ALICE_IAM },
            answer: "reject",
            comment: "not now",
          }),
        );
      const abort = () =>
        outcome(Runs.abort({ executionId: id, actor: { id: "slack:UALICE1" }, reason: "not now" }));
      const [rj, ab] =
        i % 2 === 0
          ? await Promise.all([reject(), abort()])
          : await Promise.all([abort(), reject()]).then(([b, r]) => [r, b]);
      const run = await ended(id);
      const label = `round ${i}: reject=${rj.status} ${JSON.stringify(rj.body)} abort=${ab.status} ${JSON.stringify(ab.body)} run=${run.body.status}/${run.body.error}`;

      expect([rj.status, ab.status].sort(), label).toEqual([200, 409]);
      expect(mutatingCallsOf(id), label).toEqual([]);
      if (rj.status === 200) {
        expect(ab.body.error.message, label).toContain("rejected by alice");
        expect(run.body, label).toMatchObject({ status: "ABORTED", error: "ApprovalRejected" });
      } else {
        expect(rj.body.error.message, label).toContain("aborted by alice");
        expect(ab.body, label).toMatchObject({ rollback: "nothing to undo" });
        expect(run.body, label).toMatchObject({ status: "ABORTED", error: "RunAborted" });
      }
      const conflict = (await Audit.list({ execution: id })).entries.find(
        (a) => a.kind === "approval.conflict",
      );
      expect(conflict, label).toMatchObject({
        actor: "alice",
        identity: rj.status === 200 ? "slack:UALICE1" : ALICE_IAM,
      });
      const key = rj.status === 200 ? "reject won" : "abort won";
      tally[key] = (tally[key] ?? 0) + 1;
    }
    console.log(`reject (alice/IAM) + abort (alice/Slack), ${ROUNDS} rounds: ${JSON.stringify(tally)}`);
  }, 120_000);
});

describe("hostile caller ARNs", () => {
  const hostile: unknown[] = [
    `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/${"x".repeat(300)}`,
    `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/${"é".repeat(100)}`,
    `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/a b\n\u0000c`,
    `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/`,
    `arn:aws:sts::${ACCOUNT}:assumed-role//bob`,
    `arn:aws:sts::${ACCOUNT}:assumed-role/${SSO_SRE}/..%2F*`,
    `arn:aws-cn:sts::${ACCOUNT}:assumed-role/OnCall/x`,
    `arn:aws-us-gov:sts::${ACCOUNT}:assumed-role/OnCall/x`,
    `arn:aws-iso-b:sts::${ACCOUNT}:assumed-role/OnCall/x`,
    `arn:aws:sts::${ACCOUNT}:federated-user/${"f".repeat(40)}`,
    `arn:aws:sts::${ACCOUNT}:federated-user/`,
    "arn:aws:sts::*:assumed-role/OnCall/x",
    "arn:*:*",
    "*",
    "",
    "person:alice",
    "slack:UALICE1",
    "sso:bob",
    "group:S0SRE",
    42,
    { arn: ALICE_IAM },
    [ALICE_IAM],
  ];

  it("answer every hostile userArn with a status below 500, on reads and on state-changing routes", async () => {
    const id = await waitingScale(session("OnCall", "req"));
    for (const arn of hostile) {
      const label = `userArn ${JSON.stringify(arn)?.slice(0, 80)}`;
      for (const [method, path, body] of [
        ["GET", "/api/whoami", undefined],
        ["GET", "/api/approvals?mine=1", undefined],
        ["POST", `/api/executions/${id}/approve`, {}],
        ["POST", `/api/executions/${id}/abort`, { reason: "x" }],
        ["POST", "/api/guardrails/resume", {}],
        ["POST", "/events", { Entries: [{ Source: "custom.test", DetailType: "x", Detail: "{}" }] }],
      ] as const) {
        const res = await call(arn, method, path, body);
        expect(res.status, `${label} ${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
        if (res.status >= 400) expect(res.body.error?.code, label).toEqual(expect.any(String));
      }
    }
    // Nobody of those approved or aborted the run.
    expect((await Approvals.find(id))?.status).toBe("PENDING");
  });

  it("never takes a userArn that is not an IAM ARN for a person, a Slack user or an Identity Center user", async () => {
    for (const arn of ["person:alice", "slack:UALICE1", "sso:bob", "group:S0SRE", "UALICE1"]) {
      const who = await call(arn, "GET", "/api/whoami");
      expect(who.status, arn).toBeGreaterThanOrEqual(400);
      expect(who.status, arn).toBeLessThan(500);
    }
  });

  it("does not give a role of the aws partition to the same role name in another partition", async () => {
    const who = await call(`arn:aws-cn:sts::${ACCOUNT}:assumed-role/OnCall/x`, "GET", "/api/whoami");
    expect(who.body.roles).toEqual([]);
  });
});
