/**
 * Who acts (issue 17, item 1): a person is an identity the caller cannot choose. A role session
 * name is not a person; an Identity Center session is its user; `people:` links one person's
 * identities across channels, so self-approval, `minApprovers` and the audit count and name people.
 * The API is driven as Lambda runs it (an API Gateway v2 event with the IAM authorizer's userArn),
 * over the local engine, so runs really wait for approval.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Admission, Approvals, Audit, type ConfigInput, useConfig, validateConfig } from "@reflex/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { iamApi } from "./support/api-event.ts";
import { startTestLocal } from "./support/local.ts";
import { waitFor } from "./support/wait.ts";

const ACCOUNT = "111122223333";
const session = (role: string, name: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${name}`;
const SSO_SRE = "AWSReservedSSO_SRE_0123456789abcdef";

const CONFIG: ConfigInput = {
  environment: "prod", // scale is medium risk: every run waits for a person
  people: [
    { name: "alice", iam: [`arn:aws:iam::${ACCOUNT}:user/alice`], slack: "UALICE1" },
    { name: "bob", iam: ["sso:bob"] },
  ],
  access: {
    roles: {
      oncall: [`arn:aws:iam::${ACCOUNT}:role/OnCall`],
      sre: [
        `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_SRE_*`,
        "UALICE1",
        `arn:aws:iam::${ACCOUNT}:user/alice`,
        "slack:UCAROL1",
      ],
    },
    allow: [
      { role: "oncall", runbooks: ["*"], actions: ["run", "dry-run", "approve"] },
      { role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] },
    ],
  },
  approvals: { deadline: "1h" },
};

const call = iamApi(ACCOUNT);

let local: LocalMode;
beforeAll(async () => {
  local = await startTestLocal(CONFIG);
});
afterAll(async () => local?.stop());

/** Runs a test left waiting: withdrawn by their requester, so the next test finds the group unlocked. */
const started: Array<{ id: string; as: string }> = [];
afterEach(async () => {
  for (const { id, as } of started.splice(0)) {
    const run = await call(as, "GET", `/api/executions/${id}`);
    if (run.body.status === "WAITING_FOR_APPROVAL")
      await call(as, "POST", `/api/executions/${id}/reject`, { reason: "test done" });
    await waitFor(
      () => call(as, "GET", `/api/executions/${id}`),
      (e) => !["RUNNING", "WAITING_FOR_APPROVAL"].includes(e.body.status),
    );
  }
  await local.idle();
});

async function waitingScale(as: string): Promise<string> {
  const res = await call(as, "POST", "/api/runbooks/scale/executions", {
    params: { autoScalingGroup: "web", change: "+1" },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const id = res.body.executionId as string;
  started.push({ id, as });
  await waitFor(
    () => call(as, "GET", `/api/executions/${id}`),
    (e) => e.body.status === "WAITING_FOR_APPROVAL",
  );
  return id;
}

describe("a role session is not a person", () => {
  it("refuses a second session of the requester's role as a self-approval (403, audited)", async () => {
    const id = await waitingScale(session("OnCall", "alice-1"));

    const again = await call(
      session("OnCall", "not-alice-really"),
      "POST",
      `/api/executions/${id}/approve`,
      {},
    );

    expect(again.status).toBe(403);
    expect(again.body.error.message).toMatch(/may not approve/);
    const run = await call(session("OnCall", "x"), "GET", `/api/executions/${id}`);
    expect(run.body.trigger?.actor ?? run.body.requestedBy).toBe(`arn:aws:iam::${ACCOUNT}:role/OnCall`);
    expect(run.body.audit).toContainEqual(
      expect.objectContaining({
        kind: "approval.refused",
        actor: `arn:aws:iam::${ACCOUNT}:role/OnCall`,
        identity: session("OnCall", "not-alice-really"),
      }),
    );
  });

  it("knows an Identity Center session as its user, and matches the permission set's role pattern", async () => {
    const who = await call(session(SSO_SRE, "bob"), "GET", "/api/whoami");

    expect(who.body).toMatchObject({ actor: "sso:bob", roles: ["sre"] });
  });
});

describe("people link one person's identities", () => {
  it("refuses the requester's Slack identity as a self-approval after they asked through IAM", async () => {
    const id = await waitingScale(`arn:aws:iam::${ACCOUNT}:user/alice`);

    const viaSlack = Approvals.answer({ executionId: id, actor: { id: "slack:UALICE1" }, answer: "approve" });

    await expect(viaSlack).rejects.toMatchObject({
      name: "AccessDeniedError",
      message: /alice asked for this run/,
    });
    const audit = (await Audit.list({ execution: id })).entries;
    expect(audit).toContainEqual(
      expect.objectContaining({ kind: "approval.refused", actor: "alice", identity: "slack:UALICE1" }),
    );
  });

  it("counts one person once toward minApprovers (Slack after IAM is 409) and names the approvers", async () => {
    useConfig(validateConfig({ ...CONFIG, approvals: { deadline: "1h", minApprovers: 2 } }));
    try {
      const id = await waitingScale(session(SSO_SRE, "bob"));

      const first = await call(
        `arn:aws:iam::${ACCOUNT}:user/alice`,
        "POST",
        `/api/executions/${id}/approve`,
        {},
      );
      const again = Approvals.answer({ executionId: id, actor: { id: "slack:UALICE1" }, answer: "approve" });
      await expect(again).rejects.toMatchObject({ name: "ConflictError" });
      const second = await Approvals.answer({
        executionId: id,
        actor: { id: "slack:UCAROL1" },
        answer: "approve",
      });

      expect(first.body).toMatchObject({ status: "PENDING", approvals: 1, needed: 2 });
      expect(second).toMatchObject({ status: "APPROVED", approvals: 2, needed: 2 });
      const audit = (await Audit.list({ execution: id })).entries;
      expect(audit).toContainEqual(
        expect.objectContaining({
          kind: "approval.approved",
          actor: "alice",
          identity: `arn:aws:iam::${ACCOUNT}:user/alice`,
        }),
      );
      expect(
        (await Audit.list({ execution: id, actor: `arn:aws:iam::${ACCOUNT}:user/alice` })).entries,
      ).toHaveLength(1);
    } finally {
      useConfig(validateConfig(CONFIG));
    }
  });
});

describe("identities and members, without a server", () => {
  const config = validateConfig({
    ...CONFIG,
    access: {
      ...CONFIG.access,
      namedSessions: [`arn:aws:iam::${ACCOUNT}:role/breakglass/BreakGlass`],
    },
  });

  it("resolves each ARN form to the identity the caller cannot choose", () => {
    const { identityOf } = Admission.People;
    expect(identityOf(session("OnCall", "anything"), config)).toBe(`arn:aws:iam::${ACCOUNT}:role/OnCall`);
    expect(identityOf(session(SSO_SRE, "bob"), config)).toBe("sso:bob");
    expect(identityOf(session("BreakGlass", "dora"), config)).toBe(session("BreakGlass", "dora"));
    expect(identityOf(`arn:aws:iam::${ACCOUNT}:user/ops/alice`, config)).toBe(
      `arn:aws:iam::${ACCOUNT}:user/ops/alice`,
    );
  });

  it("knows every federated user of an account as one identity: GetFederationToken's caller picks the name", () => {
    const { identityOf, samePerson } = Admission.People;
    const a = identityOf(`arn:aws:sts::${ACCOUNT}:federated-user/alice`, config);
    const b = identityOf(`arn:aws:sts::${ACCOUNT}:federated-user/not-alice`, config);

    expect(a).toBe(`arn:aws:sts::${ACCOUNT}:federated-user`);
    expect(samePerson(config, a, b)).toBe(true);
  });

  it("matches a bare name only to a local or Slack user, never to an Identity Center user of that name", () => {
    expect(Admission.Access.memberMatches("bob", { id: "cli:bob" }, config)).toBe(true);
    expect(Admission.Access.memberMatches("bob", { id: "sso:bob" }, config)).toBe(false);
    expect(Admission.Access.memberMatches("sso:bob", { id: "sso:bob" }, config)).toBe(true);
  });

  it("matches a role pattern to every session of the role, and a session-name pattern to none", () => {
    const actor = { id: `arn:aws:iam::${ACCOUNT}:role/OnCallPrimary`, raw: session("OnCallPrimary", "x") };
    expect(Admission.Access.memberMatches(`arn:aws:iam::*:role/OnCall*`, actor, config)).toBe(true);
    expect(
      Admission.Access.memberMatches(`arn:aws:sts::${ACCOUNT}:assumed-role/OnCallPrimary/x`, actor, config),
    ).toBe(false);
  });

  it("warns in config check on members that can never match a caller", () => {
    const warnings = Admission.People.accessWarnings(
      validateConfig({
        access: {
          roles: {
            a: [
              `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/alice`,
              `arn:aws:sts::${ACCOUNT}:assumed-role/${SSO_SRE}/bob`,
              `arn:aws:iam::${ACCOUNT}:group/admins`,
              `arn:aws:iam::${ACCOUNT}:role/team/Deploy`,
              `arn:aws:iam::${ACCOUNT}:role/OnCall`,
              "sso:bob",
              "arn:aws:iam::*:role/OnCall*",
              `arn:aws:sts::${ACCOUNT}:federated-user/alice`,
              `arn:aws:sts::${ACCOUNT}:assumed-role/OnCall/*`,
            ],
          },
        },
      }),
    );

    expect(warnings.map((w) => w.path)).toEqual([
      "access.roles.a[0]",
      "access.roles.a[1]",
      "access.roles.a[2]",
      "access.roles.a[3]",
      "access.roles.a[6]",
      "access.roles.a[7]",
      "access.roles.a[8]",
    ]);
    expect(warnings[4].message).toMatch(/any account/);
    expect(warnings[5].message).toMatch(/GetFederationToken/);
    expect(warnings[0].message).toMatch(/can never match.*role arn:aws:iam::111122223333:role\/OnCall/);
    expect(warnings[1].message).toMatch(/sso:bob/);
  });

  it("refuses a config that gives one identity to two people", () => {
    expect(() =>
      validateConfig({
        people: [
          { name: "a", slack: "U1X" },
          { name: "b", slack: "U1X" },
        ],
      }),
    ).toThrow(/config has 1 problem/);
  });
});

describe("reflex config check", () => {
  it("warns on members that can never match, naming each with its path, and still exits 0", async () => {
    const bin = join(import.meta.dirname, "../packages/local/bin/reflex.mjs");
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [bin, "config", "check", "--config", "test/fixtures/members.config.ts"],
      { env: { ...process.env, NO_COLOR: "1" } },
    );

    expect(stdout).toContain("ok");
    expect(stderr).toContain("2 warning(s)");
    expect(stderr).toMatch(/warning access\.roles\.oncall\[0\]: .* can never match/);
    expect(stderr).toMatch(/warning access\.roles\.oncall\[1\]: .*groups never call/);
  });
});
