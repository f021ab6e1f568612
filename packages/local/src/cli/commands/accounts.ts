/**
 * `reflex accounts list|check`: the member accounts in config, and whether the hub can act in
 * each (assume its role, one read call per Region), as the server sees it.
 */
import { Accounts, DEFAULT_CONFIG_FILE, loadConfig, Organization } from "@reflex/core";
import type { Command } from "commander";
import { clientFor, type Io, type ServerOptions } from "../io.ts";
import { type CommandContext, finish } from "./context.ts";

export function accountsCommands(program: Command, { io, act }: CommandContext): void {
  const accounts = program.command("accounts").description("member accounts and Regions a run may act in");
  finish(
    accounts
      .command("list")
      .description(
        "the config's accounts (and its organization's OUs', through AWS Organizations): id, name, Regions, role, where each came from",
      )
      .option("--config <file>", "the config file", DEFAULT_CONFIG_FILE)
      .action(act((o) => cmdList(io, o))),
    ["reflex accounts list", "reflex accounts list --json"],
    { json: true },
  );
  finish(
    accounts
      .command("check")
      .description("assume each account's role and make one read call per Region; say what fails (exit 1)")
      .action(act((o) => cmdCheck(io, o))),
    ["reflex accounts check", "reflex accounts check --json"],
    { json: true, server: true },
  );
  finish(accounts, ["reflex accounts list", "reflex accounts check"]);
}

async function cmdList(io: Io, values: { config: string; json?: boolean }): Promise<number> {
  const config = await loadConfig(values.config);
  // Config `organization`: the OUs' accounts, asked of AWS Organizations with this CLI's credentials.
  if (config.organization)
    try {
      await Organization.refresh(config, { strict: true });
    } catch (e) {
      const why = `organization: cannot list the OUs' accounts: ${(e as Error).name}: ${(e as Error).message}`;
      if (values.json) io.out(JSON.stringify({ error: { code: "organization_unreachable", message: why } }));
      else io.err(why);
      return 1;
    }
  const { accounts } = config;
  const issues = Organization.issues();
  if (values.json) {
    io.out(
      JSON.stringify({
        accounts: accounts.map((a) => ({
          ...a,
          roleArn: Accounts.roleArnOf(a),
          source: Organization.sourceOf(a.id),
        })),
        ...(issues.length ? { issues } : {}),
      }),
    );
    return 0;
  }
  if (accounts.length === 0) io.out("no accounts in the config: runs act in the hub's own account");
  for (const a of accounts) {
    const tags = Object.entries(a.tags).map(([k, v]) => `${k}=${v}`);
    io.out(
      `${a.id}  ${a.name}  ${a.regions.join(",")}  ${Accounts.roleArnOf(a)}${a.externalId ? " (external id)" : ""}${tags.length ? `  ${tags.join(" ")}` : ""}  from ${Organization.sourceOf(a.id)}`,
    );
  }
  for (const i of issues) io.err(`  ${i.path}: ${i.message}`);
  return 0;
}

async function cmdCheck(io: Io, values: ServerOptions & { json?: boolean }): Promise<number> {
  const { checks = [] } = await (await clientFor(values)).call<{ checks?: Accounts.LocationCheck[] }>(
    "GET",
    "/api/accounts?check=true",
  );
  const failed = checks.filter((c) => !c.ok);
  if (values.json) io.out(JSON.stringify({ ok: failed.length === 0, checks }));
  else {
    if (checks.length === 0) io.out("no accounts in the config");
    for (const c of checks)
      io.out(
        `${c.ok ? "ok  " : "FAIL"}  ${c.account} (${c.accountName}) ${c.region}${c.error ? `: ${c.error}` : ""}`,
      );
    if (checks.length) io.out(`${checks.length - failed.length} of ${checks.length} location(s) ok`);
  }
  return failed.length ? 1 : 0;
}
