/**
 * Test and rehearsal helpers for the patching simulation: make instances SSM-managed, set how
 * each one's patch command ends, put instances behind a target group, and seed a large fleet
 * (`reflex cloud seed --instances N`, `bench/patch-fleet`).
 *
 * @example
 * manageWithSsm(cloud, [id]); setPatchOutcome(cloud, id, { result: "failure" });
 * addTargetGroup(cloud, { name: "web", instanceIds: [id] });
 */

import { must } from "@reflex/core";
import { targetGroupArn } from "./elbv2.ts";
import type { SimulatedCloud } from "./index.ts";
import { type PatchingSettings, type PatchOutcome, patching } from "./patching.ts";

/** Registers instances as SSM-managed nodes (their agent then reports Online while running). */
export function manageWithSsm(cloud: SimulatedCloud, instanceIds: string[], region?: string): void {
  cloud.withRegion(region, (ctx) => {
    const p = patching(ctx);
    for (const id of instanceIds)
      p.nodes[id] ??= { instanceId: id, registeredAt: ctx.now, agentVersion: "3.3.1142.0" };
  });
}

/** How the patch command ends on this instance (default: the cloud's default outcome, success). */
export function setPatchOutcome(
  cloud: SimulatedCloud,
  instanceId: string,
  outcome: PatchOutcome,
  region?: string,
): void {
  cloud.withRegion(region, (ctx) => {
    patching(ctx).outcomes[instanceId] = outcome;
  });
}

export function setPatchingSettings(
  cloud: SimulatedCloud,
  settings: Partial<PatchingSettings>,
  region?: string,
): void {
  cloud.withRegion(region, (ctx) => {
    Object.assign(patching(ctx).settings, settings);
  });
}

/** Adds a target group with these instances registered (and healthy at once). Returns its ARN. */
export function addTargetGroup(
  cloud: SimulatedCloud,
  spec: {
    name: string;
    port?: number;
    instanceIds: string[];
    deregistrationDelayMs?: number;
    region?: string;
  },
): string {
  return cloud.withRegion(spec.region, (ctx) => {
    const p = patching(ctx);
    const arn = targetGroupArn(ctx, spec.name, p.targetGroups.length + 1);
    const healthyFrom = ctx.now - p.settings.healthCheckMs;
    p.targetGroups.push({
      arn,
      name: spec.name,
      port: spec.port ?? 80,
      deregistrationDelayMs: spec.deregistrationDelayMs ?? p.settings.deregistrationDelayMs,
      targets: spec.instanceIds.map((id) => ({ id, port: spec.port ?? 80, registeredAt: healthyFrom })),
    });
    return arn;
  });
}

/** A target group's members as the model holds them (registered and draining). */
export function targetGroupMembers(cloud: SimulatedCloud, name: string, region?: string) {
  return cloud.withRegion(region, (ctx) =>
    structuredClone(patching(ctx).targetGroups.find((g) => g.name === name)?.targets ?? []),
  );
}

export function rootVolumeTasks(cloud: SimulatedCloud, region?: string) {
  return cloud.withRegion(region, (ctx) => structuredClone(patching(ctx).rootVolumeTasks));
}

/** What {@link seedPatchFleet} seeds. */
export interface FleetOptions {
  count: number;
  patchGroup?: string;
  region?: string;
  targetGroups?: boolean;
  targetGroupSize?: number;
}

/**
 * Adds `count` running, SSM-managed instances tagged `PatchGroup=<patchGroup>`, behind one
 * target group per `targetGroupSize` (default 100) instances (`<patchGroup>-tg-<n>`). Returns their ids.
 */
export function seedPatchFleet(cloud: SimulatedCloud, opts: FleetOptions): string[] {
  return cloud.batch(() => seedFleetNow(cloud, opts));
}

function seedFleetNow(cloud: SimulatedCloud, opts: FleetOptions): string[] {
  const size = opts.targetGroupSize ?? 100;
  const group = opts.patchGroup ?? "fleet";
  const ids: string[] = [];
  for (let n = 1; n <= opts.count; n++) {
    const i = cloud.addInstance({
      region: opts.region,
      name: `${group}-${n}`,
      tags: { PatchGroup: group, "reflex:managed": "true" },
      volumeSizes: [8],
    });
    ids.push(must(i.InstanceId, "i.InstanceId"));
  }
  manageWithSsm(cloud, ids, opts.region);
  if (opts.targetGroups !== false) {
    for (let k = 0; k * size < ids.length; k++) {
      addTargetGroup(cloud, {
        name: `${group}-tg-${k + 1}`,
        instanceIds: ids.slice(k * size, k * size + size),
        region: opts.region,
      });
    }
  }
  return ids;
}
