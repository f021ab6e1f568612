/**
 * Route 53, as far as failover needs it: hosted zones and their record sets, and changes whose
 * status is PENDING until a configurable delay has passed and INSYNC after (AWS: usually within
 * 60 seconds). ChangeResourceRecordSets applies a batch all or nothing, with Route 53's rules:
 * CREATE of an existing set and DELETE of a missing or different one fail the batch
 * (`InvalidChangeBatch`), and every name must be in the zone. Route 53 is global: one state for
 * every client region.
 */
import type { ChangeInfo, ResourceRecordSet } from "@aws-sdk/client-route-53";
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";

export interface RecordSetRecord {
  /** Fully qualified, lower case, with the trailing dot (as Route 53 returns names). */
  name: string;
  type: string;
  ttl: number;
  values: string[];
}

export interface ZoneRecord {
  id: string;
  name: string;
  records: RecordSetRecord[];
}

export interface ChangeRecord {
  id: string;
  submittedAt: number;
  insyncAt: number;
  comment?: string;
}

export interface Route53State {
  /** How long a change stays PENDING. */
  insyncDelayMs: number;
  zones: ZoneRecord[];
  changes: ChangeRecord[];
  nextChange: number;
}

/** Route 53's state in the model, created on first use. */
export function route53State(ctx: Pick<OpContext, "state">): Route53State {
  ctx.state.route53 ??= { insyncDelayMs: 0, zones: [], changes: [], nextChange: 1 };
  return ctx.state.route53;
}

export const fqdn = (name: string) => `${name.toLowerCase().replace(/\.$/, "")}.`;
const bareId = (id: string | undefined, prefix: string) => (id ?? "").replace(new RegExp(`^/${prefix}/`), "");

function zoneOf(ctx: OpContext, id: string | undefined): ZoneRecord {
  const zone = route53State(ctx).zones.find((z) => z.id === bareId(id, "hostedzone"));
  if (!zone)
    throw new CloudApiError(
      "NoSuchHostedZone",
      `No hosted zone found with ID: ${bareId(id, "hostedzone")}`,
      404,
    );
  return zone;
}

/** A hosted zone (seed and test helper). */
export function addZone(
  ctx: Pick<OpContext, "state">,
  id: string,
  name: string,
  records: RecordSetRecord[] = [],
): ZoneRecord {
  const zone: ZoneRecord = {
    id,
    name: fqdn(name),
    records: [
      {
        name: fqdn(name),
        type: "SOA",
        ttl: 900,
        values: [`ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400`],
      },
      { name: fqdn(name), type: "NS", ttl: 172800, values: ["ns-1.awsdns-01.org."] },
      ...records.map((r) => ({ ...r, name: fqdn(r.name) })),
    ],
  };
  route53State(ctx).zones.push(zone);
  return zone;
}

function shapeChange(c: ChangeRecord, now: number): ChangeInfo {
  return {
    Id: `/change/${c.id}`,
    Status: now >= c.insyncAt ? "INSYNC" : "PENDING",
    SubmittedAt: new Date(c.submittedAt),
    ...(c.comment ? { Comment: c.comment } : {}),
  };
}

const shapeSet = (r: RecordSetRecord): ResourceRecordSet => ({
  Name: r.name,
  Type: r.type as ResourceRecordSet["Type"],
  TTL: r.ttl,
  ResourceRecords: r.values.map((Value) => ({ Value })),
});

function changeResourceRecordSets(
  ctx: OpContext,
  input: {
    HostedZoneId?: string;
    ChangeBatch?: {
      Comment?: string;
      Changes?: Array<{ Action?: string; ResourceRecordSet?: ResourceRecordSet }>;
    };
  },
) {
  const zone = zoneOf(ctx, input.HostedZoneId);
  const changes = input.ChangeBatch?.Changes ?? [];
  if (changes.length === 0)
    throw new CloudApiError("InvalidInput", "ChangeBatch.Changes must have at least one change");
  // All or nothing: apply to a copy, keep it only if every change is valid.
  const records = zone.records.map((r) => ({ ...r, values: [...r.values] }));
  const problems: string[] = [];
  for (const change of changes) {
    const set = change.ResourceRecordSet;
    const name = fqdn(set?.Name ?? "");
    const type = set?.Type ?? "";
    if (name !== zone.name && !name.endsWith(`.${zone.name}`)) {
      problems.push(`RRSet with DNS name ${name} is not permitted in zone ${zone.name}`);
      continue;
    }
    const values = (set?.ResourceRecords ?? []).map((v) => v.Value ?? "");
    const at = records.findIndex((r) => r.name === name && r.type === type);
    const next: RecordSetRecord = { name, type, ttl: set?.TTL ?? 300, values };
    if (change.Action === "CREATE") {
      if (at >= 0)
        problems.push(
          `Tried to create resource record set [name='${name}', type='${type}'] but it already exists`,
        );
      else records.push(next);
    } else if (change.Action === "UPSERT") {
      if (at >= 0) records[at] = next;
      else records.push(next);
    } else if (change.Action === "DELETE") {
      const same = at >= 0 && records[at].ttl === next.ttl && records[at].values.join() === values.join();
      if (!same)
        problems.push(
          `Tried to delete resource record set [name='${name}', type='${type}'] but it was not found`,
        );
      else records.splice(at, 1);
    } else problems.push(`Invalid action ${String(change.Action)}`);
  }
  if (problems.length) throw new CloudApiError("InvalidChangeBatch", `[${problems.join(", ")}]`);
  zone.records = records;
  const r53 = route53State(ctx);
  const change: ChangeRecord = {
    id: `C${String(r53.nextChange++).padStart(12, "0")}REFLEX`,
    submittedAt: ctx.now,
    insyncAt: ctx.now + r53.insyncDelayMs,
    comment: input.ChangeBatch?.Comment,
  };
  r53.changes.push(change);
  return { ChangeInfo: shapeChange(change, ctx.now) };
}

function getChange(ctx: OpContext, input: { Id?: string }) {
  const id = bareId(input.Id, "change");
  const change = route53State(ctx).changes.find((c) => c.id === id);
  if (!change)
    throw new CloudApiError(
      "NoSuchChange",
      `A change with the specified change ID does not exist: ${id}`,
      404,
    );
  return { ChangeInfo: shapeChange(change, ctx.now) };
}

/** Record sets in Route 53's order (by name, then type), from StartRecordName/Type, MaxItems at a time. */
function listResourceRecordSets(
  ctx: OpContext,
  input: {
    HostedZoneId?: string;
    StartRecordName?: string;
    StartRecordType?: string;
    MaxItems?: number | string;
  },
) {
  const zone = zoneOf(ctx, input.HostedZoneId);
  const sorted = [...zone.records].sort((a, b) =>
    a.name === b.name ? a.type.localeCompare(b.type) : a.name.localeCompare(b.name),
  );
  const startName = input.StartRecordName ? fqdn(input.StartRecordName) : undefined;
  const from = startName
    ? sorted.findIndex(
        (r) =>
          r.name > startName ||
          (r.name === startName && (!input.StartRecordType || r.type >= input.StartRecordType)),
      )
    : 0;
  const rest = from < 0 ? [] : sorted.slice(from);
  const max = Math.min(Number(input.MaxItems ?? 300) || 300, 300);
  const page = rest.slice(0, max);
  const next = rest[max];
  return {
    ResourceRecordSets: page.map(shapeSet),
    IsTruncated: next !== undefined,
    MaxItems: String(max),
    ...(next ? { NextRecordName: next.name, NextRecordType: next.type } : {}),
  };
}

export const route53Operations: Record<string, (ctx: OpContext, input: OpInput) => object> = {
  ChangeResourceRecordSets: changeResourceRecordSets,
  GetChange: getChange,
  ListResourceRecordSets: listResourceRecordSets,
};
