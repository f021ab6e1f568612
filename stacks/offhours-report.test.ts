/**
 * Deployed, off-hours' monthly report goes to the stage's reports bucket (stacks/storage.ts, the
 * one other reports share) under `reports/offhours/`, and its step role may write there and
 * nowhere else in the bucket: the grant is the runbook's declared permission, rendered by
 * stacks/iam.ts as every runbook's is, and evaluated here (no synthesis needed).
 */
import type { Runbooks } from "@reflex/core";
import { describe, expect, it } from "vitest";
import { offHours } from "../examples/runbooks/off-hours/index.ts";
import { reportKey } from "../examples/runbooks/off-hours/monthly-report.ts";
import { runbookStatements } from "./iam.ts";
import { evaluate } from "./support/policy-sim.ts";
import { scratchApps } from "./support/scratch.ts";

const scratch = scratchApps();
const BUCKET = "arn:aws:s3:::reflex-prod-reports";
const statements = () => {
  const stack = scratch.stack();
  return runbookStatements(offHours as unknown as Runbooks.Runbook, {
    automationTag: { key: "reflex:managed", value: "true" },
    substitutions: {
      Partition: "aws",
      Account: "123456789012",
      Region: "us-east-1",
      ReportsBucketArn: BUCKET,
    },
  }).map((s) => stack.resolve(s.toStatementJson()));
};
const put = async (key: string) =>
  evaluate({ action: "s3:PutObject", resource: `${BUCKET}/${key}` }, [
    { Version: "2012-10-17", Statement: statements() as unknown[] },
  ]);

describe("off-hours' monthly report, deployed", () => {
  it("may write reports/offhours/<yyyy-mm>.json to the reports bucket", async () => {
    expect(reportKey("2026-11")).toBe("reports/offhours/2026-11.json");
    expect(await put(reportKey("2026-11"))).toBe("Allowed");
  });

  it("may write nothing else in the bucket: not other reports, manifests, the audit export or the bucket's root", async () => {
    for (const key of [
      "reports/patch/2026-11-30/run.json",
      "reports/offhours-eu/2026-11.json",
      "manifests/backup-snapshot/2026-11-30/run.json",
      "audit/2026/11/30/digest.json",
      "2026-11.json",
    ])
      expect(await put(key), key).toBe("ImplicitlyDenied");
    expect(
      await evaluate({ action: "s3:DeleteObject", resource: `${BUCKET}/${reportKey("2026-11")}` }, [
        { Version: "2012-10-17", Statement: statements() as unknown[] },
      ]),
    ).toBe("ImplicitlyDenied");
  });
});
