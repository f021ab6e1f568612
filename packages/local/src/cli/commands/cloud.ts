/**
 * The simulated cloud of a running local server: `cloud` (account, calls, seed) and `chaos` (faults).
 * Each loads its implementation when it runs, so the CLI starts without the cloud's code.
 */
import type { Command } from "commander";
import { type CommandContext, finish, rangeIsUsage } from "./context.ts";

/** `cloud`, `cloud calls`, `cloud seed`, `chaos add|list|clear`. */
export function cloudCommands(program: Command, { io, act }: CommandContext): void {
  const cloud = finish(
    program
      .command("cloud")
      .description("the simulated AWS account of a running local server")
      .action(act(async (o) => (await import("../cloud.ts")).account(io, o))),
    ["reflex cloud", "reflex cloud calls --mutating --since 10m", "reflex cloud --json"],
    { json: true, server: true, as: false },
  );
  finish(
    cloud
      .command("calls")
      .description("the call log: service, operation, params digest, outcome, time, execution")
      .option("--mutating", "only calls that could change state")
      .option("--since <when>", "an ISO time, a duration back from now (10m), or a call number")
      .option(
        "--execution <id>",
        "only calls made by this execution's steps: an id, a unique prefix of one, or latest",
      )
      .option("--limit <n>", "at most this many, the newest", "100")
      .action(act(async (o) => (await import("../cloud.ts")).calls(io, o))),
    ["reflex cloud calls", "reflex cloud calls --mutating --since 10m --json"],
    { json: true, server: true, as: false },
  );
  finish(
    cloud
      .command("seed")
      .description("add SSM-managed instances to the saved simulated cloud (run it before reflex start)")
      .requiredOption("--instances <n>", "how many, 1 to 10000")
      .option("--patch-group <name>", "their PatchGroup tag", "fleet")
      .option("--data <dir>", "the local data folder", process.env.REFLEX_DATA_DIR ?? ".reflex")
      .action(act(rangeIsUsage(async (o) => (await import("../cloud-seed.ts")).cmdCloudSeed(o, io.out)))),
    ["reflex cloud seed --instances 100 --patch-group fleet"],
    { json: true },
  );

  const chaos = program
    .command("chaos")
    .description("inject faults into the simulated cloud of a running local server");
  finish(
    chaos
      .command("add")
      .description("arm a fault on an operation")
      .requiredOption(
        "--op <service:Operation>",
        "the service by its IAM prefix (ec2, autoscaling, ssm, elasticloadbalancing, route53, cloudwatch), e.g. ec2:CreateSnapshot, elasticloadbalancing:*, *",
      )
      .option("--error <code>", "the AWS error code, e.g. RequestLimitExceeded, InternalError, AccessDenied")
      .option(
        "--outcome <state>",
        "let the call succeed and what it starts end so: ec2:CreateReplaceRootVolumeTask failed or failed-detached",
      )
      .option("--rate <p>", "probability per call, 0 < p <= 1 (default every call)")
      .option("--count <n>", "fire on this many calls, then disarm")
      .option("--burst <n>", "once fired, also fail the next n-1 calls")
      .option("--latency <duration>", "delay each affected call, e.g. 500ms")
      .action(act(async (o) => (await import("../cloud.ts")).addFault(io, o))),
    [
      "reflex chaos add --op ec2:CreateSnapshot --error RequestLimitExceeded --rate 0.3",
      "reflex chaos add --op autoscaling:* --latency 500ms --count 5",
      "reflex chaos add --op elasticloadbalancing:RegisterTargets --error InternalError --burst 3",
      "reflex chaos add --op ec2:CreateReplaceRootVolumeTask --outcome failed-detached --count 1",
    ],
    { json: true, server: true, as: false },
  );
  finish(
    chaos
      .command("list")
      .description("the armed faults")
      .action(act(async (o) => (await import("../cloud.ts")).listFaults(io, o))),
    ["reflex chaos list", "reflex chaos list --json"],
    { json: true, server: true, as: false },
  );
  finish(
    chaos
      .command("clear")
      .description("disarm every fault, or the one named")
      .argument("[id]", "a fault id from reflex chaos list")
      .action(act(async (id, o) => (await import("../cloud.ts")).clearFaults(io, id, o))),
    ["reflex chaos clear", "reflex chaos clear fault-1"],
    { json: true, server: true, as: false },
  );
  finish(chaos, ["reflex chaos add --op ec2:CreateSnapshot --error InternalError", "reflex chaos list"]);
}
