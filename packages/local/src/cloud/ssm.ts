/**
 * The simulated Systems Manager API, enough for patching: managed nodes with ping status
 * (DescribeInstanceInformation), Run Command (SendCommand, GetCommandInvocation,
 * CancelCommand) with per-instance outcomes and durations, and patch compliance
 * (DescribeInstancePatchStates). Shapes and error codes follow `@aws-sdk/client-ssm`.
 *
 * AWS-RunPatchBaseline with `Operation=Install`: with `RebootOption=NoReboot` an outcome of
 * `reboot` leaves the patches InstalledPendingReboot until the instance reboots (as Patch
 * Manager reports them); with `RebootIfNeeded` (AWS's default) the agent reboots the instance
 * itself when the command ends.
 */
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import { newUuid, volumeMarker } from "./model.ts";
import {
  type CommandRecord,
  healthy,
  type InvocationRecord,
  instanceRecord,
  patching,
  rebooting,
} from "./patching.ts";

type Op = (ctx: OpContext, input: OpInput) => object;

function pingStatus(ctx: OpContext, instanceId: string): "Online" | "ConnectionLost" | "Inactive" {
  const i = instanceRecord(ctx, instanceId);
  if (!i || i.state === "terminated") return "Inactive";
  return i.state === "running" && !rebooting(ctx, i) ? "Online" : "ConnectionLost";
}

function filterIds(input: {
  Filters?: Array<{ Key?: string; Values?: string[] }>;
  InstanceInformationFilterList?: Array<{ key?: string; valueSet?: string[] }>;
}): string[] | undefined {
  const f = input.Filters?.find((x) => x.Key === "InstanceIds")?.Values;
  const g = input.InstanceInformationFilterList?.find((x) => x.key === "InstanceIds")?.valueSet;
  return f ?? g;
}

const describeInstanceInformation: Op = (ctx, input) => {
  const p = patching(ctx);
  const ids = filterIds(input);
  const max = input.MaxResults ?? 10;
  if (max < 5 || max > 50)
    throw new CloudApiError("ValidationException", "MaxResults must be between 5 and 50");
  // By id when filtered (a fleet of thousands is asked about one node at a time).
  const all = (
    ids ? [...new Set(ids)].flatMap((id) => (p.nodes[id] ? [p.nodes[id]] : [])) : Object.values(p.nodes)
  ).sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  const start = input.NextToken ? Number(Buffer.from(input.NextToken, "base64url").toString()) : 0;
  const page = all.slice(start, start + max);
  const next = start + max < all.length ? Buffer.from(String(start + max)).toString("base64url") : undefined;
  return {
    InstanceInformationList: page.map((n) => {
      const status = pingStatus(ctx, n.instanceId);
      return {
        InstanceId: n.instanceId,
        PingStatus: status,
        LastPingDateTime: new Date(status === "Online" ? ctx.now : n.registeredAt),
        AgentVersion: n.agentVersion,
        IsLatestVersion: true,
        PlatformType: "Linux",
        PlatformName: "Amazon Linux",
        PlatformVersion: "2023",
        ResourceType: "EC2Instance",
        RegistrationDate: new Date(n.registeredAt),
      };
    }),
    ...(next ? { NextToken: next } : {}),
  };
};

const PATCH_DOCUMENTS = new Set(["AWS-RunPatchBaseline", "AWS-RunShellScript"]);

const sendCommand: Op = (ctx, input) => {
  const p = patching(ctx);
  if (!input.DocumentName) throw new CloudApiError("ValidationException", "DocumentName is required");
  if (!PATCH_DOCUMENTS.has(input.DocumentName))
    throw new CloudApiError("InvalidDocument", `document ${input.DocumentName} is not simulated`);
  const ids: string[] = input.InstanceIds ?? [];
  if (ids.length === 0) throw new CloudApiError("ValidationException", "InstanceIds or Targets is required");
  for (const id of ids) {
    // AWS refuses a target that is not a managed node at all.
    if (!p.nodes[id])
      throw new CloudApiError("InvalidInstanceId", `Instances [[${id}]] not in a valid state for account`);
  }
  const parameters = (input.Parameters ?? {}) as Record<string, string[]>;
  const timeout = Number(parameters.executionTimeout?.[0] ?? 7200);
  const command: CommandRecord = {
    id: newUuid(ctx.state),
    documentName: input.DocumentName,
    parameters,
    requestedAt: ctx.now,
    executionTimeoutMs: timeout * 1000,
    invocations: ids.map(
      (instanceId): InvocationRecord => ({
        instanceId,
        outcome: { ...(p.outcomes[instanceId] ?? p.defaultOutcome) },
        undeliverable: pingStatus(ctx, instanceId) !== "Online",
      }),
    ),
  };
  p.commands.push(command);
  return { Command: shapeCommand(ctx, command) };
};

function invocationStatus(ctx: OpContext, c: CommandRecord, inv: InvocationRecord) {
  const p = patching(ctx);
  const duration = inv.outcome.durationMs ?? p.settings.commandDurationMs;
  if (c.cancelledAt !== undefined)
    return { Status: "Cancelled", StatusDetails: "Cancelled", ResponseCode: -1, endedAt: c.cancelledAt };
  if (inv.undeliverable)
    return { Status: "Failed", StatusDetails: "Undeliverable", ResponseCode: -1, endedAt: c.requestedAt };
  if (inv.outcome.result === "timeout") {
    const end = c.requestedAt + c.executionTimeoutMs;
    return ctx.now < end
      ? { Status: "InProgress", StatusDetails: "InProgress", ResponseCode: -1 }
      : { Status: "TimedOut", StatusDetails: "ExecutionTimedOut", ResponseCode: -1, endedAt: end };
  }
  const end = c.requestedAt + duration;
  if (ctx.now < end) return { Status: "InProgress", StatusDetails: "InProgress", ResponseCode: -1 };
  if (inv.outcome.result === "failure")
    return { Status: "Failed", StatusDetails: "Failed", ResponseCode: 1, endedAt: end };
  return { Status: "Success", StatusDetails: "Success", ResponseCode: 0, endedAt: end };
}

/** Applies what a finished Install did to the instance (once), before anyone reads it. */
function settleInvocation(ctx: OpContext, c: CommandRecord, inv: InvocationRecord & { applied?: boolean }) {
  if (inv.applied || c.documentName !== "AWS-RunPatchBaseline") return;
  const s = invocationStatus(ctx, c, inv);
  if (s.endedAt === undefined) return;
  inv.applied = true;
  if (c.parameters.Operation?.[0] !== "Install" || s.Status === "Cancelled" || inv.undeliverable) return;
  const p = patching(ctx);
  const n = p.settings.patchesPerInstall;
  const prior = p.patchStates[inv.instanceId];
  const ok = s.Status === "Success";
  const pending = ok && inv.outcome.result === "reboot";
  const rebootOption = c.parameters.RebootOption?.[0] ?? "RebootIfNeeded";
  p.patchStates[inv.instanceId] = {
    instanceId: inv.instanceId,
    installed: (prior?.installed ?? 0) + (ok && !pending ? n : 0),
    pendingReboot: pending ? n : 0,
    pendingSince: pending ? s.endedAt : undefined,
    failed: ok ? 0 : n,
    operationStartTime: c.requestedAt,
    operationEndTime: s.endedAt,
    broken: (prior?.broken ?? false) || (ok && inv.outcome.breaksHealth === true),
  };
  const i = instanceRecord(ctx, inv.instanceId);
  if (pending && rebootOption === "RebootIfNeeded" && i) i.rebootedAt = s.endedAt;
}

function settleAll(ctx: OpContext) {
  for (const c of patching(ctx).commands) for (const inv of c.invocations) settleInvocation(ctx, c, inv);
}

function shapeCommand(ctx: OpContext, c: CommandRecord) {
  const statuses = c.invocations.map((inv) => invocationStatus(ctx, c, inv).Status);
  const done = statuses.every((s) => s !== "InProgress" && s !== "Pending");
  return {
    CommandId: c.id,
    DocumentName: c.documentName,
    Parameters: c.parameters,
    InstanceIds: c.invocations.map((i) => i.instanceId),
    RequestedDateTime: new Date(c.requestedAt),
    Status: done ? (statuses.every((s) => s === "Success") ? "Success" : statuses[0]) : "InProgress",
    TargetCount: c.invocations.length,
  };
}

const getCommandInvocation: Op = (ctx, input) => {
  settleAll(ctx);
  const c = patching(ctx).commands.find((x) => x.id === input.CommandId);
  const inv = c?.invocations.find((i) => i.instanceId === input.InstanceId);
  if (!c || !inv)
    throw new CloudApiError("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist)");
  const s = invocationStatus(ctx, c, inv);
  const ps = patching(ctx).patchStates[inv.instanceId];
  return {
    CommandId: c.id,
    InstanceId: inv.instanceId,
    DocumentName: c.documentName,
    Status: s.Status,
    StatusDetails: s.StatusDetails,
    ResponseCode: s.ResponseCode,
    ExecutionStartDateTime: new Date(c.requestedAt).toISOString(),
    ...(s.endedAt !== undefined ? { ExecutionEndDateTime: new Date(s.endedAt).toISOString() } : {}),
    StandardOutputContent:
      s.Status !== "Success"
        ? ""
        : c.documentName === "AWS-RunShellScript"
          ? shellOutput(ctx, c, inv.instanceId)
          : ps
            ? `Install: ${ps.installed} installed, ${ps.pendingReboot} InstalledPendingReboot`
            : "",
    StandardErrorContent: s.Status === "Failed" ? "failed to install patches (simulated)" : "",
  };
};

/**
 * What a shell command prints, for the one command the simulated instances understand:
 * `sha256sum <device>…` answers, per device, the data marker of the volume attached there
 * (`<digest>  <device>`), as sha256sum does for a file; a device with no volume is an error
 * line on standard output's behalf (`sha256sum: <device>: No such file or directory`).
 */
function shellOutput(ctx: OpContext, c: CommandRecord, instanceId: string): string {
  const lines: string[] = [];
  for (const command of c.parameters.commands ?? []) {
    const m = /^sha256sum((?:\s+\/dev\/[a-z0-9]+)+)\s*$/.exec(command.trim());
    if (!m) continue;
    for (const device of m[1].trim().split(/\s+/)) {
      const v = ctx.rs.volumes.find(
        (x) => x.attachment?.instanceId === instanceId && x.attachment.device === device,
      );
      lines.push(v ? `${volumeMarker(v)}  ${device}` : `sha256sum: ${device}: No such file or directory`);
    }
  }
  return lines.join("\n");
}

const cancelCommand: Op = (ctx, input) => {
  settleAll(ctx);
  const c = patching(ctx).commands.find((x) => x.id === input.CommandId);
  if (!c) throw new CloudApiError("InvalidCommandId", `command ${input.CommandId} does not exist`);
  if (c.invocations.some((inv) => invocationStatus(ctx, c, inv).endedAt === undefined))
    c.cancelledAt = ctx.now;
  return {};
};

const describeInstancePatchStates: Op = (ctx, input) => {
  settleAll(ctx);
  const p = patching(ctx);
  const ids: string[] = input.InstanceIds ?? [];
  return {
    InstancePatchStates: ids
      .map((id) => p.patchStates[id])
      .filter((s) => s !== undefined)
      .map((s) => {
        const i = instanceRecord(ctx, s.instanceId);
        // A reboot after the install clears what was pending.
        const cleared =
          s.pendingSince !== undefined && i?.rebootedAt !== undefined && i.rebootedAt >= s.pendingSince;
        return {
          InstanceId: s.instanceId,
          PatchGroup: "",
          BaselineId: "pb-0c10e65780EXAMPLE",
          Operation: "Install",
          OperationStartTime: new Date(s.operationStartTime),
          OperationEndTime: new Date(s.operationEndTime),
          InstalledCount: s.installed + (cleared ? s.pendingReboot : 0),
          InstalledPendingRebootCount: cleared ? 0 : s.pendingReboot,
          FailedCount: s.failed,
          MissingCount: s.failed,
          NotApplicableCount: 0,
          RebootOption: "NoReboot",
        };
      }),
  };
};

export const ssmOperations: Record<string, Op> = {
  DescribeInstanceInformation: describeInstanceInformation,
  SendCommand: sendCommand,
  GetCommandInvocation: getCommandInvocation,
  CancelCommand: cancelCommand,
  DescribeInstancePatchStates: describeInstancePatchStates,
};

export { healthy };
