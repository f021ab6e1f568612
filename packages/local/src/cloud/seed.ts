/**
 * The seeded fleet local mode starts with: a believable small production account in
 * us-east-1 (an Auto Scaling web tier, databases, batch workers, and a backup history with
 * expired Reflex snapshots and one manual snapshot; RDS, Aurora and DynamoDB, see
 * databases.ts), and an empty DR region, us-west-2.
 *
 * Every id comes from the model's seeded PRNG, so a fresh seed is identical every time.
 */

import { must } from "@reflex/core";
import { reconcileGroup } from "./autoscaling.ts";
import { seedContainers } from "./containers-helpers.ts";
import { seedDatabases } from "./databases.ts";
import type { CloudSettings } from "./fleet.ts";
import { launchInstance, type OpContext, opContext } from "./fleet.ts";
import {
  availabilityZones,
  type CloudState,
  DAY_MS,
  type GroupRecord,
  type InstanceRecord,
  newId,
  newUuid,
  type SnapshotRecord,
  tagsFromRecord,
  tagValue,
} from "./model.ts";
import { seedPatching } from "./patching.ts";

export const SEED_REGION = "us-east-1";
export const DR_REGION = "us-west-2";
/** Snapshots made by Reflex are kept this long in the seed's history (their retain-until is start + 14 days). */
const SEED_RETAIN_DAYS = 14;

function nameVolumes(ctx: OpContext, instance: InstanceRecord): void {
  const name = tagValue(instance.tags, "Name") ?? instance.id;
  instance.devices.forEach((d, i) => {
    const volume = ctx.rs.volumes.find((v) => v.id === d.volumeId);
    if (volume) volume.tags.push({ Key: "Name", Value: `${name}-${i === 0 ? "root" : "data"}` });
  });
}

function reflexSnapshot(
  ctx: OpContext,
  instance: InstanceRecord,
  deviceIndex: number,
  daysAgo: number,
  runbook: string,
): SnapshotRecord {
  const volumeId = instance.devices[deviceIndex].volumeId;
  const volume = must(
    ctx.rs.volumes.find((v) => v.id === volumeId),
    "ctx.rs.volumes.find((v) => v.id === volumeId)",
  );
  const startTime = ctx.now - daysAgo * DAY_MS;
  return {
    id: newId(ctx.state, "snap"),
    volumeId,
    volumeSize: volume.size,
    state: "completed",
    startTime,
    description: `reflex ${runbook}: ${volumeId} of ${tagValue(instance.tags, "Name")}`,
    ownerId: ctx.state.accountId,
    tags: tagsFromRecord({
      Name: `${tagValue(instance.tags, "Name")}-${new Date(startTime).toISOString().slice(0, 10)}`,
      "reflex:managed": "true",
      "reflex:runbook": runbook,
      "reflex:source-volume": volumeId,
      "reflex:retain-until": new Date(startTime + SEED_RETAIN_DAYS * DAY_MS).toISOString(),
    }),
  };
}

/** Seeds `state` with the fleet; `now` is the clock reading all ages are relative to. */
export function seedFleet(state: CloudState, now: number, settings: CloudSettings): void {
  opContext(state, DR_REGION, now, settings); // the DR region exists, empty
  const [a, b, c] = availabilityZones(SEED_REGION);
  const zones = [a, b, c];

  // Web tier: an Auto Scaling group launched three weeks ago; members are web-1..web-6.
  const launchedAt = opContext(state, SEED_REGION, now - 21 * DAY_MS, settings);
  const web: GroupRecord = {
    name: "web",
    arnId: newUuid(state),
    launchTemplateId: newId(state, "lt"),
    minSize: 2,
    maxSize: 12,
    desiredCapacity: 6,
    availabilityZones: zones,
    instanceType: "t3.medium",
    imageId: "ami-0c02fb55956c7d316",
    rootVolumeSize: 20,
    tags: [
      { Key: "Role", Value: "web", PropagateAtLaunch: true },
      { Key: "Backup", Value: "daily", PropagateAtLaunch: true },
      { Key: "PatchGroup", Value: "web", PropagateAtLaunch: true },
      { Key: "reflex:managed", Value: "true", PropagateAtLaunch: true },
    ],
    instanceIds: [],
    createdTime: launchedAt.now,
    launched: 0,
  };
  launchedAt.rs.groups.push(web);
  reconcileGroup(launchedAt, web, "running");
  // Auto Scaling names no instance; this account's owner named them web-1..web-6 (as a launch hook might).
  web.instanceIds.forEach((id, n) => {
    const member = must(
      launchedAt.rs.instances.find((i) => i.id === id),
      "launchedAt.rs.instances.find((i) => i.id === id)",
    );
    member.tags.unshift({ Key: "Name", Value: `web-${n + 1}` });
    nameVolumes(launchedAt, member);
  });

  // Databases: bigger instances with a root and a data volume each.
  const dbs = [1, 2, 3].map((n) => {
    const db = launchInstance(launchedAt, {
      instanceType: "r5.xlarge",
      az: zones[n - 1],
      tags: tagsFromRecord({
        Name: `db-${n}`,
        Role: "db",
        Backup: "daily",
        PatchGroup: "db",
        "reflex:managed": "true",
      }),
      volumeSizes: [50, 500],
      state: "running",
      launchTime: now - 120 * DAY_MS,
    });
    nameVolumes(launchedAt, db);
    return db;
  });

  // Batch workers, backed up weekly; batch-3 is stopped. Not tagged for Reflex management.
  const batch = [1, 2, 3].map((n) => {
    const worker = launchInstance(launchedAt, {
      instanceType: "c5.large",
      az: zones[n - 1],
      tags: tagsFromRecord({ Name: `batch-${n}`, Role: "batch", Backup: "weekly", PatchGroup: "batch" }),
      volumeSizes: [30],
      state: n === 3 ? "stopped" : "running",
      launchTime: now - 60 * DAY_MS,
    });
    nameVolumes(launchedAt, worker);
    return worker;
  });

  // Backup history: four expired Reflex snapshots, one still retained, one manual.
  const ctx = opContext(state, SEED_REGION, now, settings);
  const webOne = must(
    ctx.rs.instances.find((i) => i.id === web.instanceIds[0]),
    "ctx.rs.instances.find((i) => i.id === web.instanceIds[0])",
  );
  ctx.rs.snapshots.push(
    reflexSnapshot(ctx, dbs[0], 1, 45, "backup-snapshot"),
    reflexSnapshot(ctx, dbs[1], 1, 40, "backup-snapshot"),
    reflexSnapshot(ctx, webOne, 0, 35, "backup-snapshot"),
    reflexSnapshot(ctx, batch[0], 0, 50, "backup-snapshot"),
    reflexSnapshot(ctx, dbs[0], 1, 1, "backup-snapshot"),
  );
  const manualVolume = dbs[2].devices[1].volumeId;
  ctx.rs.snapshots.push({
    id: newId(state, "snap"),
    volumeId: manualVolume,
    volumeSize: 500,
    state: "completed",
    startTime: now - 90 * DAY_MS,
    description: "manual: db-3 before the postgres 16 upgrade",
    ownerId: state.accountId,
    tags: tagsFromRecord({ Name: "db-3-pre-upgrade" }),
  });
  seedPatching(ctx);
  seedContainers(ctx);
  seedDatabases(ctx);
}
