/**
 * The lost-run inspector of patch: what a run that died mid-target left undone, read from the
 * changes it recorded before each one (`state/patch-changes.ts`) and the targets that ended.
 */
import * as Changes from "../../state/patch-changes.ts";
import * as Results from "../../state/patch-results.ts";

/** One instance a lost run left with something undone, for the reconciler's report. */
export interface Undone {
  instanceId: string;
  undone: string[];
}

/**
 * What a lost patch run left undone, per instance, from what it recorded before each change
 * (read-only: DynamoDB only). An instance whose target ended (a result was recorded) and that is
 * back in its target groups is not listed.
 */
export async function inspectLostPatch(e: { id: string }): Promise<{ instances: Undone[]; note: string }> {
  const [changes, results] = await Promise.all([Changes.ofRun(e.id), Results.list(e.id)]);
  const ended = new Map(results.map((r) => [r.instanceId, r]));
  const instances: Undone[] = [];
  for (const c of changes) {
    const undone: string[] = [];
    if (!c.restoredAt && c.targetGroups.length)
      undone.push(
        `out of target group(s) ${c.targetGroups.map((g) => g.split("/")[1] ?? g).join(", ")} (${c.targetGroups.join(", ")}): the next patch of ${c.instanceId} re-registers it, or register it by hand`,
      );
    if (!ended.has(c.instanceId)) {
      if (c.rootVolume)
        undone.push(
          `root-volume replacement from ${c.rootVolume.snapshotId} started at ${c.rootVolume.at}${c.rootVolume.taskId ? ` (task ${c.rootVolume.taskId})` : ""}: check it succeeded`,
        );
      else if (c.reboot)
        undone.push(`rebooted at ${c.reboot.at} after patching: status checks never verified`);
      else if (c.command)
        undone.push(`patch command sent at ${c.command.at}: patches may be partly installed, never verified`);
    }
    if (undone.length) instances.push({ instanceId: c.instanceId, undone });
  }
  return {
    instances,
    note: instances.length
      ? "instances this run changed and did not put back or verify before it was lost"
      : "every instance this run changed was put back",
  };
}
