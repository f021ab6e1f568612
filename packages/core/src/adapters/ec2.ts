/**
 * EC2 adapter: the describe calls runbooks share, paginated, through the client factory
 * (so in local mode they reach the simulated cloud, in AWS the real one).
 */
import {
  EC2Client,
  type Filter,
  type Instance,
  paginateDescribeInstances,
  paginateDescribeSnapshots,
  type Snapshot,
  type Tag,
} from "@aws-sdk/client-ec2";
import { client } from "../aws.ts";

export function ec2(region: string): EC2Client {
  return client(EC2Client, "ec2", region);
}

/** Instances matching a selector (tags AND, or ids), excluding terminated ones. */
export async function findInstances(
  region: string,
  selector: { tag?: Record<string, string>; instanceIds?: string[] },
  states: string[] = ["pending", "running", "stopping", "stopped"],
): Promise<Instance[]> {
  const Filters: Filter[] = [{ Name: "instance-state-name", Values: states }];
  for (const [k, v] of Object.entries(selector.tag ?? {})) Filters.push({ Name: `tag:${k}`, Values: [v] });
  const out: Instance[] = [];
  // AWS refuses MaxResults together with InstanceIds, so page only a filter-based search.
  for await (const page of paginateDescribeInstances(
    { client: ec2(region), pageSize: selector.instanceIds ? undefined : 100 },
    { Filters, InstanceIds: selector.instanceIds },
  )) {
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
  }
  return out;
}

/** Snapshots owned by this account matching filters (all pages). */
export async function findSnapshots(
  region: string,
  Filters: Filter[],
  SnapshotIds?: string[],
): Promise<Snapshot[]> {
  const out: Snapshot[] = [];
  for await (const page of paginateDescribeSnapshots(
    { client: ec2(region), pageSize: 500 },
    { OwnerIds: ["self"], Filters, SnapshotIds },
  )) {
    out.push(...(page.Snapshots ?? []));
  }
  return out;
}

/** A tag's value, or undefined. */
export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** Tags as a plain object. */
export function tagMap(tags: Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
}

/** True when an SDK error is EC2's "no such thing". */
export function isNotFound(err: unknown): boolean {
  return /\.NotFound$/.test((err as { name?: string })?.name ?? "");
}
