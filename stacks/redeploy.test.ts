/**
 * A removed prod stage can be deployed again on its kept table: with REFLEX_EXISTING_TABLE the
 * Storage stack uses the named table instead of creating one (which CloudFormation would refuse,
 * the name being taken), and refuses a name that is not this stage's.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadReflexConfig } from "./context.ts";
import { Storage } from "./storage.ts";
import { FIXTURE_CONFIG, ROOT } from "./support/synth.ts";

const ENV = { stage: "prod", region: "us-east-1", account: "123456789012" };
let dirs: string[] = [];

beforeAll(async () => {
  process.env.NODE_ENV = "test";
  await initProject({ stage: ENV.stage, root: ROOT });
  await loadReflexConfig(FIXTURE_CONFIG);
}, 60_000);

afterEach(() => {
  delete process.env.REFLEX_EXISTING_TABLE;
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function storageTemplate(): Record<string, { Type: string; Properties?: any }> {
  mkdirSync(join(ROOT, ".tmp"), { recursive: true });
  const outdir = mkdtempSync(join(ROOT, ".tmp", "redeploy-"));
  dirs.push(outdir);
  const app = new App({ mode: "deploy", name: "reflex", ...ENV }, { outdir });
  app.stack(Storage);
  return (Template.fromStack(getStack(Storage)).toJSON() as { Resources: Record<string, any> }).Resources;
}

describe("Storage in a prod stage", () => {
  it("creates the table with its fixed name, retained and protected", () => {
    const tables = Object.values(storageTemplate()).filter((r) => r.Type === "AWS::DynamoDB::Table");
    expect(tables).toHaveLength(1);
    expect(tables[0].Properties).toMatchObject({
      TableName: "reflex-prod-state",
      DeletionProtectionEnabled: true,
    });
  });

  it("uses the kept table when REFLEX_EXISTING_TABLE names it, creating none", () => {
    process.env.REFLEX_EXISTING_TABLE = "reflex-prod-state";
    const resources = Object.values(storageTemplate());
    expect(resources.filter((r) => r.Type === "AWS::DynamoDB::Table")).toEqual([]);
  });

  it("refuses a REFLEX_EXISTING_TABLE that is another stage's table", () => {
    process.env.REFLEX_EXISTING_TABLE = "reflex-dev-state";
    expect(() => storageTemplate()).toThrow(/keeps its state in 'reflex-prod-state'/);
  });
});
