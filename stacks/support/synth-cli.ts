/**
 * `npm run synth -- --out <dir> [--config reflex.config.ts] [--stage s] [--region r] [--account n]`:
 * every stack's CloudFormation template as `<dir>/<StackName>.template.json` (and the member
 * accounts' template, `<dir>/ReflexMember.template.json`), synthesized
 * offline (no credentials, no network) exactly as `sst deploy` would build it, for review
 * before a deploy. cdk-nag's AwsSolutions findings are printed; unsuppressed ones exit 1.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { reflexConfig } from "../context.ts";
import { MEMBER_TEMPLATE_STACK, memberTemplate } from "../member.ts";
import { synthApp, TEST_ENV } from "./synth.ts";

const program = new Command("synth")
  .requiredOption("--out <dir>", "where to write <StackName>.template.json")
  .option("--config <file>", "the Reflex config to deploy", "reflex.config.ts")
  .option("--stage <stage>", "stage", TEST_ENV.stage)
  .option("--region <region>", "region", process.env.AWS_REGION ?? TEST_ENV.region)
  .option("--account <id>", "account id (offline: no lookup)", TEST_ENV.account)
  .parse();
const opts = program.opts<{ out: string; config: string; stage: string; region: string; account: string }>();

process.env.AWS_ACCESS_KEY_ID ??= "offline";
process.env.AWS_SECRET_ACCESS_KEY ??= "offline";
process.env.AWS_EC2_METADATA_DISABLED = "true";

const out = resolve(opts.out);
const synth = await synthApp({
  configFile: resolve(opts.config),
  nag: true,
  env: { stage: opts.stage, region: opts.region, account: opts.account },
});
try {
  const assembly = synth.app.synth();
  mkdirSync(out, { recursive: true });
  for (const stack of assembly.stacks) {
    copyFileSync(join(assembly.directory, stack.templateFile), join(out, `${stack.stackName}.template.json`));
  }
  // The member accounts' template (docs/accounts.md), as a StackSet deploys it: the hub's
  // step-worker role ARNs and bus are its parameters. Deploy it yourself, or let the hub's
  // StackSet (config organization) do it.
  const { config } = reflexConfig();
  writeFileSync(
    join(out, `${MEMBER_TEMPLATE_STACK}.template.json`),
    `${JSON.stringify(memberTemplate({ automationTag: config.automationTag, config }), null, 1)}\n`,
  );
  const findings = assembly.stacks.flatMap((s) =>
    s.messages
      .filter(
        (m) => (m.level === "error" || m.level === "warning") && /AwsSolutions-/.test(String(m.entry.data)),
      )
      .map((m) => `${m.id}: ${String(m.entry.data).split("\n")[0]}`),
  );
  for (const f of findings) console.error(f);
  console.log(`${readdirSync(out).filter((f) => f.endsWith(".template.json")).length} templates in ${out}`);
  process.exitCode = findings.length > 0 ? 1 : 0;
} finally {
  synth.cleanup();
}
