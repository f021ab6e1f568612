/**
 * ChatOps without a server: Slack's v0 signature (its documented example, fresh, tampered,
 * wrong secret, stale, replayed), the acknowledgement (401 with one log line and no work, 413,
 * help), and the command parser (examples, and random text never throws).
 */
import { ChatOps } from "@reflex/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lambdaEnvCredentials } from "../stacks/support/lambda-credentials.ts";
import { zodEnglishOnly } from "../stacks/support/zod-english.ts";

const { Signature, Command, Ack } = ChatOps;

// Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
const EXAMPLE = {
  secret: "8f742231b10e8888abcd99yyyzzz85a5",
  timestamp: "1531420618",
  body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
  signature: "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
};
const exampleHeaders = {
  "x-slack-signature": EXAMPLE.signature,
  "x-slack-request-timestamp": EXAMPLE.timestamp,
};
const AT_EXAMPLE = Number(EXAMPLE.timestamp) * 1000;

function signed(secret: string, body: string, now = Date.now()) {
  const ts = Math.floor(now / 1000);
  return {
    "x-slack-signature": Signature.sign(secret, ts, body),
    "x-slack-request-timestamp": String(ts),
  };
}

describe("Slack v0 signature", () => {
  it("computes Slack's documented signature for its example", () => {
    expect(Signature.sign(EXAMPLE.secret, EXAMPLE.timestamp, EXAMPLE.body)).toBe(EXAMPLE.signature);
  });

  it("verifies Slack's example with the clock set to its timestamp", () => {
    const v = Signature.verify({
      secret: EXAMPLE.secret,
      rawBody: EXAMPLE.body,
      headers: exampleHeaders,
      now: AT_EXAMPLE,
    });
    expect(v).toEqual({ ok: true, timestamp: 1531420618, signature: EXAMPLE.signature });
  });

  it("rejects Slack's example as stale today", () => {
    const v = Signature.verify({
      secret: EXAMPLE.secret,
      rawBody: EXAMPLE.body,
      headers: exampleHeaders,
      now: Date.now(),
    });
    expect(v).toEqual({ ok: false, reason: "stale timestamp (more than 300 s from now)" });
  });

  it("accepts up to 300 s of skew either way and rejects 301 s", () => {
    const check = (skewS: number) =>
      Signature.verify({
        secret: EXAMPLE.secret,
        rawBody: EXAMPLE.body,
        headers: exampleHeaders,
        now: AT_EXAMPLE + skewS * 1000,
      }).ok;
    expect([check(-300), check(300), check(-301), check(301)]).toEqual([true, true, false, false]);
  });

  it("accepts a fresh signed request", () => {
    const headers = signed("s3cret", "text=help&user_id=U1");
    expect(
      Signature.verify({ secret: "s3cret", rawBody: "text=help&user_id=U1", headers, now: Date.now() }).ok,
    ).toBe(true);
  });

  it("rejects a tampered body", () => {
    const headers = signed("s3cret", "text=help&user_id=U1");
    const v = Signature.verify({
      secret: "s3cret",
      rawBody: "text=help&user_id=U2",
      headers,
      now: Date.now(),
    });
    expect(v).toEqual({ ok: false, reason: "signature mismatch" });
  });

  it("rejects a request signed with another secret", () => {
    const headers = signed("not-the-secret", "text=help");
    expect(Signature.verify({ secret: "s3cret", rawBody: "text=help", headers, now: Date.now() }).ok).toBe(
      false,
    );
  });

  it("rejects missing headers and malformed signatures", () => {
    const now = Date.now();
    const ts = String(Math.floor(now / 1000));
    const verdict = (headers: Record<string, string>) =>
      Signature.verify({ secret: "s", rawBody: "", headers, now });
    expect(verdict({}).ok).toBe(false);
    expect(verdict({ "x-slack-request-timestamp": ts, "x-slack-signature": "v1=abc" }).ok).toBe(false);
    expect(
      verdict({ "x-slack-request-timestamp": "12e3", "x-slack-signature": Signature.sign("s", "12e3", "") })
        .ok,
    ).toBe(false);
  });

  it("rejects a replay of a request already seen within the window", async () => {
    const replay = Signature.memoryReplayGuard();
    const headers = signed("s3cret", "text=list");
    const once = () =>
      Signature.verifyOnce({ secret: "s3cret", rawBody: "text=list", headers, now: Date.now(), replay });
    expect((await once()).ok).toBe(true);
    expect(await once()).toEqual({ ok: false, reason: "replayed request" });
  });
});

describe("the acknowledgement", () => {
  const base = { secret: "s3cret", replay: Signature.memoryReplayGuard() };

  it("answers a forged request 401 with one log line and hands nothing on", async () => {
    const lines: string[] = [];
    const dispatched: unknown[] = [];
    const body = "user_id=U1&text=run+scale";
    const res = await Ack.acknowledge({
      ...base,
      route: "commands",
      rawBody: body,
      headers: signed("forged", body),
      dispatch: async (w) => void dispatched.push(w),
      log: (l) => lines.push(l),
    });
    expect(res.statusCode).toBe(401);
    expect(lines).toHaveLength(1);
    expect(dispatched).toEqual([]);
  });

  it("answers a body over Slack's size 413 without verifying it", async () => {
    const body = `user_id=U1&text=${"a".repeat(Ack.MAX_BODY_BYTES)}`;
    const res = await Ack.acknowledge({
      ...base,
      route: "commands",
      rawBody: body,
      headers: signed("s3cret", body),
      dispatch: async () => {},
    });
    expect(res.statusCode).toBe(413);
  });

  it("answers an unknown command with the help, ephemeral, and still hands it on to be audited", async () => {
    const dispatched: ChatOps.Ack.Work[] = [];
    const body = "user_id=U1&channel_id=C1&text=frobnicate&response_url=https%3A%2F%2Fhooks.slack.com%2Fx";
    const res = await Ack.acknowledge({
      ...base,
      route: "commands",
      rawBody: body,
      headers: signed("s3cret", body),
      dispatch: async (w) => void dispatched.push(w),
    });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ response_type: "ephemeral" });
    expect(JSON.parse(res.body).text).toMatch(/^I don't know `frobnicate`/);
    expect(dispatched).toMatchObject([
      { kind: "command", answered: true, channel: "C1", user: { id: "U1" } },
    ]);
  });
});

describe("the /reflex command parser", () => {
  it("reads a run with typed-later params and --dry-run", () => {
    expect(Command.parse("run scale autoScalingGroup=web change=+2 --dry-run")).toEqual({
      kind: "run",
      runbook: "scale",
      pairs: ["autoScalingGroup=web", "change=+2"],
      dryRun: true,
    });
  });

  it("keeps a quoted value together, Slack's typographic quotes included", () => {
    expect(Command.parse("reject scale-1 \u201cnot during the sale\u201d")).toEqual({
      kind: "reject",
      executionId: "scale-1",
      reason: "not during the sale",
    });
    expect(Command.parse('abort scale-1 "wrong group"')).toEqual({
      kind: "abort",
      executionId: "scale-1",
      reason: "wrong group",
    });
    expect(Command.parse('run x note="a b"')).toMatchObject({ pairs: ["note=a b"] });
  });

  it("requires a reason to reject, abort and pause, and names the usage", () => {
    for (const text of ["reject scale-1", "abort scale-1", "pause"]) {
      const c = Command.parse(text);
      expect(c.kind).toBe("invalid");
      expect((c as { message: string }).message).toMatch(/reason is required.*Usage: `\/reflex /);
    }
  });

  it("turns an unknown word into help naming it, and empty text into help", () => {
    expect(Command.parse("deploy prod")).toEqual({ kind: "help", unknown: "deploy" });
    expect(Command.parse("")).toEqual({ kind: "help" });
  });

  it("never throws, and always gives a known kind, for any text", () => {
    const kinds = new Set([
      "run",
      "status",
      "list",
      "runbooks",
      "approvals",
      "approve",
      "reject",
      "abort",
      "pause",
      "resume",
      "whoami",
      "help",
      "invalid",
    ]);
    const words = fc.constantFrom(
      "run",
      "status",
      "approve",
      "reject",
      "abort",
      "pause",
      "--dry-run",
      "k=v",
      '"',
      "\u201c",
      "&lt;",
      "scale",
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 300 }),
          fc.array(words).map((w) => w.join(" ")),
        ),
        (text) => {
          const c = Command.parse(text);
          expect(kinds.has(c.kind)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("the acknowledgement path's weight", () => {
  it("bundles no runbook, no admission, no state module but the table name, and no SDK client", async () => {
    const { default: esbuild } = await import("esbuild");
    const result = await esbuild.build({
      entryPoints: ["packages/functions/src/slack.ts"],
      bundle: true,
      platform: "node",
      format: "esm",
      // As the stacks bundle every function (sst.config.ts).
      plugins: [zodEnglishOnly, lambdaEnvCredentials],
      metafile: true,
      write: false,
      outdir: "out",
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    const ours = inputs.filter((i) => i.startsWith("packages/")).sort();
    expect(ours).toEqual([
      "packages/core/src/aws-errors.ts",
      "packages/core/src/aws-signed.ts",
      "packages/core/src/aws.ts",
      "packages/core/src/chatops/ack.ts",
      "packages/core/src/chatops/command.ts",
      "packages/core/src/chatops/replay.ts",
      "packages/core/src/chatops/signature.ts",
      "packages/core/src/env.ts",
      "packages/core/src/errors.ts",
      "packages/core/src/sha256.ts",
      "packages/core/src/state/table.ts",
      "packages/functions/src/slack.ts",
      "packages/functions/src/slack/secrets.ts",
    ]);
    const clients = inputs
      .map((i) => i.match(/node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\//)?.[1])
      .filter((c): c is string => Boolean(c));
    // The replay guard, the hand-off to the worker and the signing secret are signed requests
    // (core's aws-signed.ts): no SDK client, so neither the SDK's core nor its STS or SSO clients.
    expect([...new Set(clients)]).toEqual([]);
    expect(inputs.filter((i) => /node_modules\/@aws-sdk\//.test(i))).toEqual([]);
    // Neither SST's client for bound values nor the SDK's chain of credential providers.
    expect(
      inputs.filter((i) => /node_modules\/(sst|@aws-sdk\/(credential-provider-|nested-clients))/.test(i)),
    ).toEqual([]);
    expect(inputs.some((i) => /node_modules\/zod\//.test(i))).toBe(false);
  });
});
