/**
 * `reflex cloud` and `reflex chaos`: the simulated account, its call log and fault injection,
 * against a running local server. Exit codes as every command: 0 ok, 1 the operation failed
 * (server unreachable), 2 bad usage or bad input.
 */
import { table } from "./format.ts";
import { clientFor, type Io, type ServerOptions, UsageError } from "./io.ts";
import { resolveExisting } from "./runs.ts";

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
  targetGroups?: Array<{
    name: string;
    region: string;
    port: number;
    members: Array<{ instanceId: string; port: number; state: string }>;
  }>;
  addresses?: Array<{
    allocationId: string;
    publicIp: string;
    region: string;
    instanceId: string | null;
    associationId: string | null;
    tags: Record<string, string>;
  }>;
  records?: Array<{ zone: string; name: string; type: string; ttl: number; values: string[] }>;
  ecsServices?: Array<{
    cluster: string;
    name: string;
    region: string;
    desired: number;
    running: number;
    rolloutState: string;
    tags: Record<string, string>;
  }>;
  scalableTargets?: Array<{
    namespace: string;
    resourceId: string;
    dimension: string;
    region: string;
    min: number;
    max: number;
    capacity: number | null;
  }>;
  lambdaAliases?: Array<{
    function: string;
    alias: string;
    version: string;
    region: string;
    provisioned: number;
    status: string | null;
    tags: Record<string, string>;
  }>;
  dbInstances?: Array<{
    id: string;
    region: string;
    engine: string;
    status: string;
    zone: string;
    multiAz: boolean;
    standbyZone: string | null;
    cluster: string | null;
    tags: Record<string, string>;
  }>;
  dbClusters?: Array<{
    id: string;
    region: string;
    engine: string;
    status: string;
    writer: string | null;
    readers: string[];
  }>;
  dbSnapshots?: Array<{
    id: string;
    kind: string;
    region: string;
    source: string;
    status: string;
    created: string;
    tags: Record<string, string>;
  }>;
  tables?: Array<{
    name: string;
    region: string;
    pointInTimeRecovery: boolean;
    backups: Array<{ name: string; status: string }>;
    tags: Record<string, string>;
  }>;
}

export function formatAccount(a: Account): string {
  const groups = a.targetGroups ?? [];
  const addresses = a.addresses ?? [];
  const records = a.records ?? [];
  const services = a.ecsServices ?? [];
  const targets = a.scalableTargets ?? [];
  const aliases = a.lambdaAliases ?? [];
  const names = new Map(a.instances.map((i) => [i.instanceId, i.name]));
  /** An instance id with its Name tag, as people know it: `i-0abc (web-1)`. */
  const named = (id: string) => (names.get(id) ? `${id} (${names.get(id)})` : id);
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
    "",
    `TARGET GROUPS (${groups.length})`,
    table(
      ["NAME", "REGION", "PORT", "MEMBERS"],
      groups.map((g) => [
        g.name,
        g.region,
        String(g.port),
        g.members.map((m) => `${named(m.instanceId)} ${m.state}`).join(", ") || "none",
      ]),
    ),
    "",
    `ELASTIC IPS (${addresses.length})`,
    table(
      ["ALLOCATION", "PUBLIC IP", "REGION", "ASSOCIATED WITH", "TAGS"],
      addresses.map((e) => [
        e.allocationId,
        e.publicIp,
        e.region,
        e.instanceId ? named(e.instanceId) : "not associated",
        tags(e.tags),
      ]),
    ),
    "",
    `ROUTE 53 RECORDS (${records.length})`,
    table(
      ["ZONE", "NAME", "TYPE", "TTL", "VALUES"],
      records.map((r) => [r.zone, r.name, r.type, String(r.ttl), r.values.join(", ")]),
    ),
    "",
    `ECS SERVICES (${services.length})`,
    table(
      ["CLUSTER", "SERVICE", "REGION", "DESIRED", "RUNNING", "ROLLOUT", "TAGS"],
      services.map((s) => [
        s.cluster,
        s.name,
        s.region,
        String(s.desired),
        String(s.running),
        s.rolloutState,
        tags(s.tags),
      ]),
    ),
    "",
    `SCALABLE TARGETS (${targets.length})`,
    table(
      ["NAMESPACE", "RESOURCE", "DIMENSION", "REGION", "MIN", "MAX", "NOW"],
      targets.map((t) => [
        t.namespace,
        t.resourceId,
        t.dimension,
        t.region,
        String(t.min),
        String(t.max),
        t.capacity === null ? "" : String(t.capacity),
      ]),
    ),
    "",
    `LAMBDA ALIASES (${aliases.length})`,
    table(
      ["FUNCTION", "ALIAS", "VERSION", "REGION", "PROVISIONED", "STATUS", "TAGS"],
      aliases.map((l) => [
        l.function,
        l.alias,
        l.version,
        l.region,
        String(l.provisioned),
        l.status ?? "",
        tags(l.tags),
      ]),
    ),
    "",
    `RDS INSTANCES (${(a.dbInstances ?? []).length})`,
    table(
      ["ID", "REGION", "ENGINE", "STATUS", "ZONE", "MULTI-AZ", "CLUSTER", "TAGS"],
      (a.dbInstances ?? []).map((i) => [
        i.id,
        i.region,
        i.engine,
        i.status,
        i.zone,
        i.multiAz ? `yes (standby ${i.standbyZone})` : "no",
        i.cluster ?? "",
        tags(i.tags),
      ]),
    ),
    "",
    `AURORA CLUSTERS (${(a.dbClusters ?? []).length})`,
    table(
      ["ID", "REGION", "ENGINE", "STATUS", "WRITER", "READERS"],
      (a.dbClusters ?? []).map((c) => [
        c.id,
        c.region,
        c.engine,
        c.status,
        c.writer ?? "",
        c.readers.join(", "),
      ]),
    ),
    "",
    `DB SNAPSHOTS (${(a.dbSnapshots ?? []).length})`,
    table(
      ["ID", "KIND", "REGION", "SOURCE", "STATUS", "CREATED", "TAGS"],
      (a.dbSnapshots ?? []).map((s) => [s.id, s.kind, s.region, s.source, s.status, s.created, tags(s.tags)]),
    ),
    "",
    `DYNAMODB TABLES (${(a.tables ?? []).length})`,
    table(
      ["NAME", "REGION", "PITR", "BACKUPS", "TAGS"],
      (a.tables ?? []).map((t) => [
        t.name,
        t.region,
        t.pointInTimeRecovery ? "on" : "OFF",
        t.backups.length ? t.backups.map((b) => `${b.name} ${b.status}`).join(", ") : "none",
        tags(t.tags),
      ]),
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
  outcome?: string;
  rate?: number;
  burst?: number;
  latencyMs?: number;
  remaining: number | null;
  fired: number;
}

/** One line per armed fault, as `reflex chaos list` and `reflex start` print them. */
export function formatFault(f: Fault): string {
  const what =
    f.kind === "latency"
      ? "latency"
      : f.kind === "outcome"
        ? `ends ${f.outcome}`
        : (f.code ?? (f.kind === "throttle" ? "throttling" : "InternalError"));
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

export async function account(io: Io, o: ServerOptions & { json?: boolean }): Promise<number> {
  const a = await (await clientFor(o)).call<Account>("GET", "/api/cloud");
  io.out(o.json ? JSON.stringify(a) : formatAccount(a));
  return 0;
}

export interface CallsOptions extends ServerOptions {
  mutating?: boolean;
  since?: string;
  execution?: string;
  limit: string;
  json?: boolean;
}

export async function calls(io: Io, o: CallsOptions): Promise<number> {
  const api = await clientFor(o);
  const q = new URLSearchParams({ limit: o.limit });
  if (o.mutating) q.set("mutating", "true");
  if (o.since) q.set("since", o.since);
  // An id, a prefix or latest, as every other --execution; an unknown one is exit 2, not "no calls".
  if (o.execution !== undefined) q.set("execution", await resolveExisting(api, o.execution));
  const { calls } = await api.call<{ calls: Call[] }>("GET", `/api/cloud/calls?${q}`);
  if (o.json) io.out(JSON.stringify(calls));
  else if (calls.length === 0) io.out("no calls");
  else
    io.out(
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
  return 0;
}

export interface FaultOptions extends ServerOptions {
  op: string;
  error?: string;
  outcome?: string;
  rate?: string;
  count?: string;
  burst?: string;
  latency?: string;
  json?: boolean;
}

export async function addFault(io: Io, o: FaultOptions): Promise<number> {
  const number = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`--${name} '${v}' is not a number`);
    return n;
  };
  const body = {
    operation: o.op,
    error: o.error,
    outcome: o.outcome,
    rate: number("rate", o.rate),
    count: number("count", o.count),
    burst: number("burst", o.burst),
    latency: o.latency,
  };
  const { fault } = await (await clientFor(o)).call<{ fault: Fault }>("POST", "/api/cloud/faults", body);
  io.out(o.json ? JSON.stringify(fault) : `armed ${formatFault(fault)}`);
  return 0;
}

export async function listFaults(io: Io, o: ServerOptions & { json?: boolean }): Promise<number> {
  const { faults } = await (await clientFor(o)).call<{ faults: Fault[] }>("GET", "/api/cloud/faults");
  if (o.json) io.out(JSON.stringify(faults));
  else io.out(faults.length ? faults.map(formatFault).join("\n") : "no faults armed");
  return 0;
}

export async function clearFaults(
  io: Io,
  id: string | undefined,
  o: ServerOptions & { json?: boolean },
): Promise<number> {
  const api = await clientFor(o);
  if (id) {
    await api.call("DELETE", `/api/cloud/faults/${encodeURIComponent(id)}`);
    io.out(o.json ? JSON.stringify({ cleared: 1, id }) : `disarmed ${id}`);
  } else {
    const { cleared } = await api.call<{ cleared: number }>("DELETE", "/api/cloud/faults");
    io.out(o.json ? JSON.stringify({ cleared }) : `disarmed ${cleared} fault(s)`);
  }
  return 0;
}
