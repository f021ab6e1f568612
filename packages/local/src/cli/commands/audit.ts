/**
 * `audit verify` and `audit keys`: the sealed audit trail checked against its signed digests.
 * The table and the export bucket are verified by the server (`GET /api/audit/verify`, with its
 * trusted keys); a downloaded export (`--source dir`) is verified here, offline, with the keys
 * `reflex audit keys --json` saved.
 */

import type { AuditKeys, AuditVerify } from "@reflex/core";
import type { Command } from "commander";
import { clientFor, type Io, type ServerOptions, UsageError } from "../io.ts";
import { type CommandContext, finish } from "./context.ts";

/** `audit verify`, `audit keys` (after runCommands, which defines `audit`). */
export function auditCommands(program: Command, { io, act }: CommandContext): void {
  // Subcommands of `reflex audit` (the listing, commands/runs.ts), as `cloud calls` are of `cloud`.
  const audit = program.commands.find((c) => c.name() === "audit");
  if (!audit) throw new Error("reflex audit (the listing) must be defined before its subcommands");
  finish(
    audit
      .command("verify")
      .description("recompute hashes, signatures and links of the sealed trail; exit 0 intact, 1 tampered")
      .option("--from <when>", "an ISO time or a duration back from now (default 24h before --to)")
      .option("--to <when>", "an ISO time or a duration back from now (default now)")
      .option(
        "--source <where>",
        "table, s3 (the locked export) or dir (a downloaded export, offline)",
        "table",
      )
      .option("--dir <path>", "with --source dir: the folder holding digests/ and entries/")
      .option("--keys <file>", "with --source dir: the public keys, as reflex audit keys --json wrote them")
      .action(act((o) => cmdVerify(io, o))),
    [
      "reflex audit verify",
      "reflex audit verify --from 7d --source s3 --json",
      "reflex audit verify --source dir --dir ./audit-export --keys keys.json --from 2026-01-01T00:00:00Z --to 2026-02-01T00:00:00Z",
    ],
    { json: true, server: true, as: false },
  );
  finish(
    audit
      .command("keys")
      .description("the keys that sign the trail's digests, with when each first and last signed")
      .action(act((o) => cmdKeys(io, o))),
    ["reflex audit keys", "reflex audit keys --json > keys.json"],
    { json: true, server: true, as: false },
  );
}

type VerifyOptions = ServerOptions & {
  from?: string;
  to?: string;
  source: string;
  dir?: string;
  keys?: string;
  json?: boolean;
};

async function cmdVerify(io: Io, o: VerifyOptions): Promise<number> {
  let report: AuditVerify.VerifyReport;
  if (o.source === "dir") {
    if (!o.dir) throw new UsageError("--source dir needs --dir <path>, the downloaded export");
    if (!o.keys)
      throw new UsageError(
        "--source dir needs --keys <file>: the public keys to trust (reflex audit keys --json)",
      );
    const { AuditKeys, AuditTrail, AuditVerify } = await import("@reflex/core");
    let range: { from: Date; to: Date };
    let keys: AuditKeys.PublicKey[];
    let source: AuditVerify.TrailSource;
    try {
      range = AuditTrail.verifyRequest({ from: o.from, to: o.to });
      keys = AuditKeys.keysFromFile(o.keys);
      source = AuditVerify.dirSource(o.dir);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    report = await AuditVerify.verify({ source, keys, from: range.from, to: range.to });
  } else {
    if (o.dir || o.keys)
      throw new UsageError(
        "--dir and --keys go with --source dir; the server verifies the table and s3 with its own keys",
      );
    const query = new URLSearchParams({ source: o.source });
    if (o.from) query.set("from", o.from);
    if (o.to) query.set("to", o.to);
    report = await (await clientFor(o)).call<AuditVerify.VerifyReport>("GET", `/api/audit/verify?${query}`);
  }
  if (o.json) io.out(JSON.stringify(report));
  else {
    io.out(`audit ${report.source} ${report.from} → ${report.to}`);
    if (report.noDigests) io.out(`NOT VERIFIED: ${report.noDigests}`);
    else {
      io.out(`${report.digests} digests, ${report.periods} sealed periods, ${report.entries} entries`);
      for (const p of report.problems) io.out(`  ${p.kind}: ${p.message}`);
      if (report.moreProblems) io.out(`  … and ${report.moreProblems} more problems`);
      if (report.unsealed.periods)
        io.out(
          `not sealed yet: ${report.unsealed.periods} period(s) from ${report.unsealed.from} (an edit there would not show until sealed)`,
        );
      io.out(
        report.ok
          ? "ok: the trail is as it was sealed"
          : `TAMPERED: ${report.problems.length + report.moreProblems} problem(s)`,
      );
    }
  }
  return report.ok ? 0 : 1;
}

async function cmdKeys(io: Io, o: ServerOptions & { json?: boolean }): Promise<number> {
  const { keys } = await (await clientFor(o)).call<{
    keys: Array<AuditKeys.PublicKey & { digests: number; firstUsed?: string; lastUsed?: string }>;
  }>("GET", "/api/audit/keys");
  if (o.json) io.out(JSON.stringify({ keys }));
  else
    for (const k of keys)
      io.out(
        `${k.keyId}  ${k.algorithm}  ${k.source}${k.createdAt ? `  created ${k.createdAt}` : ""}  ${
          k.digests ? `signed ${k.digests} digests, ${k.firstUsed} → ${k.lastUsed}` : "has signed no digest"
        }`,
      );
  return 0;
}
