/**
 * A dry-run's "Run it" button in a channel is seen by everyone there: two people pressing it (or
 * one pressing twice) must start the real run once, and the second press is told which run it
 * was (DESIGN principle 6: at-least-once in, exactly-once effect).
 */
import { Executions } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { api, startTestLocal } from "./support/local.ts";
import { postSlack } from "./support/slack.ts";

const SECRET = "run-it-signing-secret";
const RESPONSE_URL = "https://hooks.slack.com/actions/T1/1/run-it";
const DB1 = "i-ef1006a91d63e7570";

let local: LocalMode;
beforeAll(async () => {
  process.env.SLACK_SIGNING_SECRET = SECRET;
  local = await startTestLocal({
    environment: "local",
    chatops: { channel: "C0NCALL" },
    access: {
      roles: { sre: ["U123", "U456", "local"] },
      allow: [{ role: "sre", runbooks: ["*"], actions: ["run", "dry-run", "approve", "abort"] }],
    },
  });
});
afterAll(async () => {
  await local?.stop();
  delete process.env.SLACK_SIGNING_SECRET;
});

async function click(user: string, dryId: string, n: number) {
  const body = new URLSearchParams({
    payload: JSON.stringify({
      type: "block_actions",
      user: { id: user },
      channel: { id: "C0NCALL" },
      response_url: `${RESPONSE_URL}/${user}/${n}`,
      actions: [{ action_id: "reflex.run-it", value: dryId }],
    }),
  }).toString();
  const res = await postSlack(local.url, "interactions", body, SECRET);
  expect(res.status).toBe(200);
  return `${RESPONSE_URL}/${user}/${n}`;
}

async function answerAt(url: string): Promise<string> {
  for (let i = 0; i < 800; i++) {
    const r = local.outbox.list({ limit: 1000 }).find((e) => e.kind === "response" && e.responseUrl === url);
    if (r) return r.text;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no answer to ${url}`);
}

const realRunsOf = async (dryId: string) =>
  (await Executions.list({ limit: 500 })).executions.filter((e) => e.trigger.rerunOf === dryId && !e.dryRun);

describe("the Run it button", () => {
  it("starts the real run once when pressed twice, and tells the second press which run it was", async () => {
    const dry = await api(local, "POST", "/api/runbooks/backup-snapshot/executions", {
      params: { selector: { instanceIds: [DB1] } },
      dryRun: true,
    });
    expect(dry.status).toBe(202);
    await local.idle();
    const snapshots = local.cloud.snapshots().length;

    const first = await answerAt(await click("U123", dry.body.executionId, 1));
    expect(first).toMatch(/Started \*backup-snapshot\*/);
    await local.idle();
    const second = await answerAt(await click("U456", dry.body.executionId, 2));

    const real = await realRunsOf(dry.body.executionId);
    expect(real).toHaveLength(1);
    expect(local.cloud.snapshots().length).toBe(snapshots + 1);
    expect(second).not.toMatch(/Started/);
    expect(second).toContain(real[0].id);
  });
});
