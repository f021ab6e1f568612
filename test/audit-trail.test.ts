/**
 * The sealed audit trail end to end in local mode: the sealer seals and exports to the bucket
 * behind the WORM emulation, `reflex audit verify` checks the table, the locked export and a
 * downloaded copy of it (offline, with the keys `reflex audit keys --json` saved), and the
 * locked export refuses to be deleted or overwritten.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { Audit, Aws, tableName } from "@reflex/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { db } from "../packages/core/src/state/db.ts";
import { LOCAL_AUDIT_BUCKET } from "../packages/local/src/audit-sealer.ts";
import type { LocalMode } from "../packages/local/src/local-mode.ts";
import { reflex } from "./support/cli.ts";
import { api, startTestLocal } from "./support/local.ts";
import { testTempDir } from "./support/tmp.ts";

let local: LocalMode;
// Downloaded exports and key files.
const tmp = testTempDir("reflex-audit-trail-");
const HOUR = 3_600_000;
// The three hours before the current one, sealed as the sealer would 3 min into this hour (past its
// 2 min grace): the test sets the sealer's clock, so it gets 3 digests at any time of day (with the
// wall clock at xx:00:59 the last hour was still in its grace, and only 2 were sealed).
const H0 = new Date(Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR);
const SEALED_AT = new Date(H0.getTime() + 3 * HOUR + 3 * 60_000);
const range = ["--from", H0.toISOString(), "--to", new Date(H0.getTime() + 3 * HOUR).toISOString()];
const entries: Audit.AuditEntry[] = [];
const s3 = () => Aws.client(S3Client, "s3");

beforeAll(async () => {
  local = await startTestLocal();
  for (const [n, minute] of [
    [0, 5],
    [0, 6],
    [2, 30],
  ])
    entries.push(
      await Audit.record(
        { kind: "test.sealed", actor: "cli:alice", reason: `entry ${entries.length}` },
        new Date(H0.getTime() + n * HOUR + minute * 60_000),
      ),
    );
  await local.audit.sealer.run(SEALED_AT, H0);
});
afterAll(async () => local.stop());

async function download(): Promise<string> {
  const dir = mkdtempSync(join(tmp, "export-"));
  const listed = await s3().send(
    new ListObjectsV2Command({ Bucket: LOCAL_AUDIT_BUCKET, Prefix: "audit/local/" }),
  );
  for (const o of listed.Contents ?? []) {
    const body = await (
      await s3().send(new GetObjectCommand({ Bucket: LOCAL_AUDIT_BUCKET, Key: o.Key }))
    ).Body?.transformToByteArray();
    const path = join(dir, (o.Key ?? "").slice("audit/local/".length));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, body ?? new Uint8Array());
  }
  return dir;
}

describe("reflex audit verify", () => {
  it("says the table, the locked export and a downloaded copy are intact (exit 0)", async () => {
    const keys = join(mkdtempSync(join(tmp, "keys-")), "keys.json");
    const listed = await reflex(["audit", "keys", "--json", "--url", local.url]);
    writeFileSync(keys, listed.stdout);
    const dir = await download();

    const table = await reflex(["audit", "verify", ...range, "--json", "--url", local.url]);
    const bucket = await reflex([
      "audit",
      "verify",
      ...range,
      "--source",
      "s3",
      "--json",
      "--url",
      local.url,
    ]);
    const offline = await reflex([
      "audit",
      "verify",
      ...range,
      "--source",
      "dir",
      "--dir",
      dir,
      "--keys",
      keys,
    ]);

    expect(JSON.parse(listed.stdout).keys).toEqual([
      expect.objectContaining({ keyId: expect.stringMatching(/^local:/), digests: 3, source: "local" }),
    ]);
    expect(table.code).toBe(0);
    expect(JSON.parse(table.stdout)).toMatchObject({ ok: true, digests: 3, entries: 3, periods: 3 });
    expect(JSON.parse(bucket.stdout)).toMatchObject({ ok: true, source: "s3", digests: 3, entries: 3 });
    expect(offline.stderr).toBe("");
    expect(offline).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/ok: the trail is as it was sealed/),
    });
    expect(readdirSync(join(dir, "digests"))).toHaveLength(3);
  });

  it("names an entry edited in a downloaded export, and a digest deleted from it (exit 1)", async () => {
    const keys = join(mkdtempSync(join(tmp, "keys-")), "keys.json");
    writeFileSync(keys, (await reflex(["audit", "keys", "--json", "--url", local.url])).stdout);
    const dir = await download();
    const file = join(dir, "entries", "000000000001.jsonl.gz");
    const lines = gunzipSync(readFileSync(file)).toString().split("\n");
    lines[1] = JSON.stringify({ ...JSON.parse(lines[1]), reason: "nothing to see" });
    writeFileSync(file, gzipSync(lines.join("\n")));
    rmSync(join(dir, "digests", "000000000002.json"));

    const out = await reflex([
      "audit",
      "verify",
      ...range,
      "--source",
      "dir",
      "--dir",
      dir,
      "--keys",
      keys,
      "--json",
    ]);

    expect(out.code).toBe(1);
    const problems = JSON.parse(out.stdout).problems as Array<{
      kind: string;
      id?: string;
      sequence?: number;
    }>;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "modified-entry", id: entries[1].id }),
        expect.objectContaining({ kind: "missing-digest", sequence: 2 }),
      ]),
    );
  });

  it("names an entry whose reason was edited in the table (exit 1), while the locked export still verifies", async () => {
    const e = entries[2];
    await db().send(
      new UpdateCommand({
        TableName: tableName(),
        Key: { pk: `AUDIT#${e.at.slice(0, 10)}`, sk: `${e.at}#${e.id}` },
        UpdateExpression: "SET reason = :r",
        ExpressionAttributeValues: { ":r": "edited" },
      }),
    );

    const table = await reflex(["audit", "verify", ...range, "--url", local.url]);
    const bucket = await reflex(["audit", "verify", ...range, "--source", "s3", "--url", local.url]);

    expect(table.code).toBe(1);
    expect(table.stdout).toContain(`modified-entry: entry ${e.id}`);
    expect(bucket.code).toBe(0);
  });

  it("says so, exit 1, for a range no digest covers; a bad range is a 400 naming the field", async () => {
    const none = await reflex([
      "audit",
      "verify",
      "--from",
      "2020-01-01T00:00:00Z",
      "--to",
      "2020-01-02T00:00:00Z",
      "--url",
      local.url,
    ]);
    const bad = await api(local, "GET", "/api/audit/verify?from=yesterday");

    expect(none).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/NOT VERIFIED: no audit digest covers/),
    });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: "invalid_query", path: "from" } } });
  });
});

describe("the locked export (WORM emulation in front of s3rver)", () => {
  it("refuses to delete or overwrite an exported digest inside its compliance retention", async () => {
    const Key = "audit/local/digests/000000000001.json";
    const retention = await s3().send(new GetObjectRetentionCommand({ Bucket: LOCAL_AUDIT_BUCKET, Key }));

    const deleted = await s3()
      .send(new DeleteObjectCommand({ Bucket: LOCAL_AUDIT_BUCKET, Key }))
      .catch((e: Error) => e);
    const overwritten = await s3()
      .send(new PutObjectCommand({ Bucket: LOCAL_AUDIT_BUCKET, Key, Body: "{}" }))
      .catch((e: Error) => e);

    expect(retention.Retention?.Mode).toBe("COMPLIANCE");
    expect(new Date(retention.Retention?.RetainUntilDate ?? 0).getTime()).toBeGreaterThan(
      Date.now() + 399 * 86_400_000,
    );
    expect(deleted).toMatchObject({ name: "AccessDenied" });
    expect(overwritten).toMatchObject({ name: "AccessDenied" });
    const still = await s3().send(new GetObjectCommand({ Bucket: LOCAL_AUDIT_BUCKET, Key }));
    expect(JSON.parse((await still.Body?.transformToString()) ?? "{}")).toMatchObject({ sequence: 1 });
  });

  it("lets an unlocked object of another bucket be deleted as before", async () => {
    const Key = `scratch/${randomUUID()}`;
    await s3().send(new PutObjectCommand({ Bucket: LOCAL_AUDIT_BUCKET, Key, Body: "x" }));

    await s3().send(new DeleteObjectCommand({ Bucket: LOCAL_AUDIT_BUCKET, Key }));

    const left = await s3().send(new ListObjectsV2Command({ Bucket: LOCAL_AUDIT_BUCKET, Prefix: Key }));
    expect(left.Contents ?? []).toEqual([]);
  });
});
