/**
 * `reflex cloud` and `reflex chaos`: the simulated account, its call log and fault injection,
 * against a running local server (`--url`, default the local port). Exit codes as every
 * command: 0 ok, 1 the operation failed (server unreachable), 2 bad usage or bad input.
 */
import { Command, CommanderError } from "commander";
import { ApiError } from "./client.ts";
import { serverUrl } from "./transport.ts";

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

function defaultUrl(): string {
  return serverUrl();
}

async function request<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(
      0,
      "unreachable",
      `cannot reach Reflex at ${base} (${(e as Error).message}); start it with: npm start`,
    );
  }
  const json = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (!res.ok)
    throw new ApiError(res.status, json.error?.code ?? "error", json.error?.message ?? res.statusText);
  return json as T;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => (c ?? "").padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

interface Account {
  accountId: string;
  instances: Array<{
    instanceId: string;
    name: string | null;
    region: string;
    state: string;
    instanceType: string;
    group: string | null;
    tags: Record<string, string>;
  }>;
  groups: Array<{
    name: string;
    region: string;
    min: number;
    max: number;
    desired: number;
    instances: string[];
  }>;
  volumes: Array<{
    volumeId: string;
    region: string;
    size: number;
    state: string;
    instanceId: string | null;
  }>;
  snapshots: Array<{
    snapshotId: string;
    region: string;
    volumeId: string;
    state: string;
    startTime: string;
    tags: Record<string, string>;
  }>;
}

export function formatAccount(a: Account): string {
  const hidden = (k: string) => k === "Name" || k.startsWith("aws:");
  const tags = (t: Record<string, string>) =>
    Object.entries(t)
      .filter(([k]) => !hidden(k))
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
  return [
    `simulated account ${a.accountId}`,
    "",
    `INSTANCES (${a.instances.length})`,
    table(
      ["ID", "NAME", "REGION", "STATE", "TYPE", "GROUP", "TAGS"],
      a.instances.map((i) => [
        i.instanceId,
        i.name ?? "",
        i.region,
        i.state,
        i.instanceType,
        i.group ?? "",
        tags(i.tags),
      ]),
    ),
    "",
    `AUTO SCALING GROUPS (${a.groups.length})`,
    table(
      ["NAME", "REGION", "MIN", "MAX", "DESIRED", "INSTANCES"],
      a.groups.map((g) => [
        g.name,
        g.region,
        String(g.min),
        String(g.max),
        String(g.desired),
        String(g.instances.length),
      ]),
    ),
    "",
    `VOLUMES (${a.volumes.length})`,
    table(
      ["ID", "REGION", "SIZE", "STATE", "INSTANCE"],
      a.volumes.map((v) => [v.volumeId, v.region, `${v.size} GiB`, v.state, v.instanceId ?? ""]),
    ),
    "",
    `SNAPSHOTS (${a.snapshots.length})`,
    table(
      ["ID", "REGION", "VOLUME", "STATE", "STARTED", "TAGS"],
      a.snapshots.map((s) => [s.snapshotId, s.region, s.volumeId, s.state, s.startTime, tags(s.tags)]),
    ),
  ].join("\n");
}

interface Call {
  seq: number;
  at: string;
  service: string;
  operation: string;
  region: string;
  mutating: boolean;
  outcome: string;
  digest: string;
  executionId: string | null;
}

interface Fault {
  id: string;
  service?: string;
  operation: string;
  kind: string;
  code?: string;
  rate?: number;
  burst?: number;
  latencyMs?: number;
  remaining: number | null;
  fired: number;
}

/** One line per armed fault, as `reflex chaos list` and `reflex start` print them. */
export function formatFault(f: Fault): string {
  const what =
    f.kind === "latency" ? "latency" : (f.code ?? (f.kind === "throttle" ? "throttling" : "InternalError"));
  return [
    f.id,
    `${f.service ? `${f.service}:` : ""}${f.operation}`,
    what,
    f.rate !== undefined ? `rate ${f.rate}` : "every call",
    f.burst && f.burst > 1 ? `burst ${f.burst}` : "",
    f.latencyMs ? `+${f.latencyMs}ms` : "",
    f.remaining === null ? "no limit" : `${f.remaining} left`,
    `fired ${f.fired}`,
  ]
    .filter(Boolean)
    .join("  ");
}

/** Runs a commander program; usage errors exit 2, the action's own code otherwise. */
async function runProgram(program: Command, args: string[]): Promise<number> {
  program
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => err(s.trimEnd()) });
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === "commander.helpDisplayed" || e.code === "commander.version" ? 0 : 2;
    }
    if (e instanceof ApiError) {
      err(`reflex: ${e.message}`);
      return e.status >= 400 && e.status < 500 ? 2 : 1;
    }
    throw e;
  }
  return 0;
}

/** `reflex cloud [--json]` · `reflex cloud calls [--mutating] [--since …] [--execution id] [--limit n] [--json]` */
export async function cmdCloud(args: string[]): Promise<number> {
  const program = new Command("reflex cloud")
    .description("the simulated AWS account of a running local server")
    .option("--json", "machine-readable output only")
    .option("--url <url>", "the local server", defaultUrl())
    .action(async (o: { json?: boolean; url: string }) => {
      const a = await request<Account>(o.url, "GET", "/api/cloud");
      out(o.json ? JSON.stringify(a) : formatAccount(a));
    });
  program
    .command("calls")
    .description("the call log: service, operation, params digest, outcome, time, execution")
    .option("--mutating", "only calls that could change state")
    .option("--since <when>", "an ISO time, a duration back from now (10m), or a call number")
    .option("--execution <id>", "only calls made by this execution's steps")
    .option("--limit <n>", "at most this many, the newest", "100")
    .option("--json", "machine-readable output only")
    .option("--url <url>", "the local server", defaultUrl())
    .action(
      async (o: {
        mutating?: boolean;
        since?: string;
        execution?: string;
        limit: string;
        json?: boolean;
        url: string;
      }) => {
        const q = new URLSearchParams({ limit: o.limit });
        if (o.mutating) q.set("mutating", "true");
        if (o.since) q.set("since", o.since);
        if (o.execution) q.set("execution", o.execution);
        const { calls } = await request<{ calls: Call[] }>(o.url, "GET", `/api/cloud/calls?${q}`);
        if (o.json) {
          out(JSON.stringify(calls));
          return;
        }
        if (calls.length === 0) {
          out("no calls");
          return;
        }
        out(
          table(
            ["#", "TIME", "CALL", "REGION", "OUTCOME", "PARAMS", "EXECUTION"],
            calls.map((c) => [
              String(c.seq),
              c.at,
              `${c.service}:${c.operation}${c.mutating ? " *" : ""}`,
              c.region,
              c.outcome,
              c.digest,
              c.executionId ?? "",
            ]),
          ),
        );
      },
    );
  return runProgram(program, args);
}

/** `reflex chaos add --op ec2:CreateSnapshot --error RequestLimitExceeded --rate 0.3 [--count N] [--burst N] [--latency 500ms]` · `list` · `clear [id]` */
export async function cmdChaos(args: string[]): Promise<number> {
  const program = new Command("reflex chaos").description(
    "inject faults into the simulated cloud of a running local server",
  );
  program
    .command("add")
    .description("arm a fault on an operation")
    .requiredOption("--op <service:Operation>", "e.g. ec2:CreateSnapshot, autoscaling:*, *")
    .option("--error <code>", "the AWS error code, e.g. RequestLimitExceeded, InternalError, AccessDenied")
    .option("--rate <p>", "probability per call, 0 < p <= 1 (default every call)")
    .option("--count <n>", "fire on this many calls, then disarm")
    .option("--burst <n>", "once fired, also fail the next n-1 calls")
    .option("--latency <duration>", "delay each affected call, e.g. 500ms")
    .option("--json", "machine-readable output only")
    .option("--url <url>", "the local server", defaultUrl())
    .action(
      async (o: {
        op: string;
        error?: string;
        rate?: string;
        count?: string;
        burst?: string;
        latency?: string;
        json?: boolean;
        url: string;
      }) => {
        const number = (name: string, v: string | undefined) => {
          if (v === undefined) return undefined;
          const n = Number(v);
          if (!Number.isFinite(n))
            throw new ApiError(400, "invalid_request", `--${name} '${v}' is not a number`);
          return n;
        };
        const body = {
          operation: o.op,
          error: o.error,
          rate: number("rate", o.rate),
          count: number("count", o.count),
          burst: number("burst", o.burst),
          latency: o.latency,
        };
        const { fault } = await request<{ fault: Fault }>(o.url, "POST", "/api/cloud/faults", body);
        out(o.json ? JSON.stringify(fault) : `armed ${formatFault(fault)}`);
      },
    );
  program
    .command("list")
    .description("the armed faults")
    .option("--json", "machine-readable output only")
    .option("--url <url>", "the local server", defaultUrl())
    .action(async (o: { json?: boolean; url: string }) => {
      const { faults } = await request<{ faults: Fault[] }>(o.url, "GET", "/api/cloud/faults");
      if (o.json) out(JSON.stringify(faults));
      else out(faults.length ? faults.map(formatFault).join("\n") : "no faults armed");
    });
  program
    .command("clear")
    .description("disarm every fault, or the one named")
    .argument("[id]", "a fault id from `reflex chaos list`")
    .option("--url <url>", "the local server", defaultUrl())
    .action(async (id: string | undefined, o: { url: string }) => {
      if (id) {
        await request(o.url, "DELETE", `/api/cloud/faults/${encodeURIComponent(id)}`);
        out(`disarmed ${id}`);
      } else {
        const { cleared } = await request<{ cleared: number }>(o.url, "DELETE", "/api/cloud/faults");
        out(`disarmed ${cleared} fault(s)`);
      }
    });
  if (args.length === 0) {
    err(program.helpInformation().trimEnd());
    return 2;
  }
  return runProgram(program, args);
}
