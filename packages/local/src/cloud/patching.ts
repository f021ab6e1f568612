/**
 * What the simulated account needs for patching, kept apart from the EC2 model: SSM-managed
 * nodes and their commands (with configurable outcomes), ELBv2 target groups, and root-volume
 * replacement tasks. Plain JSON in the region's state (`RegionState.patching`), so it is saved
 * and restored with the rest of the cloud.
 *
 * Time is the cloud's clock: a command is `InProgress` for its duration, a rebooted instance
 * fails its status checks and its SSM agent is `ConnectionLost` for `rebootMs`, a registered
 * target is `initial` for `healthCheckMs`, a deregistered one `draining` for its delay.
 */
import type { OpContext } from "./fleet.ts";
import type { InstanceRecord } from "./model.ts";

/** How a patch command ends on one instance. */
export interface PatchOutcome {
  /**
   * `success`: installs, nothing pending; `reboot`: installs, and the patches are
   * InstalledPendingReboot until the instance reboots; `failure`: the command fails (exit 1);
   * `timeout`: the command never finishes (TimedOut once its executionTimeout passes).
   */
  result: "success" | "reboot" | "failure" | "timeout";
  /** How long the command runs. Default the settings' commandDurationMs. */
  durationMs?: number;
  /** After the patch, the instance fails its health checks (a bad patch that verify must catch). */
  breaksHealth?: boolean;
}

export interface PatchingSettings {
  commandDurationMs: number;
  rebootMs: number;
  healthCheckMs: number;
  /** Deregistration delay of new target groups (AWS default 300 s). */
  deregistrationDelayMs: number;
  replaceRootVolumeMs: number;
  /** Patches each successful Install reports installed. */
  patchesPerInstall: number;
}

export const DEFAULT_PATCHING_SETTINGS: PatchingSettings = {
  commandDurationMs: 2000,
  rebootMs: 1000,
  healthCheckMs: 500,
  deregistrationDelayMs: 1000,
  replaceRootVolumeMs: 1000,
  patchesPerInstall: 3,
};

export interface SsmNodeRecord {
  instanceId: string;
  registeredAt: number;
  agentVersion: string;
}

export interface InvocationRecord {
  instanceId: string;
  outcome: PatchOutcome;
  /** The instance was not reachable when the command was sent. */
  undeliverable?: boolean;
}

export interface CommandRecord {
  id: string;
  documentName: string;
  parameters: Record<string, string[]>;
  requestedAt: number;
  executionTimeoutMs: number;
  cancelledAt?: number;
  invocations: InvocationRecord[];
}

export interface PatchStateRecord {
  instanceId: string;
  installed: number;
  pendingReboot: number;
  /** Patches wait for a reboot after this time (cleared by a later reboot). */
  pendingSince?: number;
  failed: number;
  operationStartTime: number;
  operationEndTime: number;
  /** The last Install broke the instance's health (until its root volume is replaced). */
  broken?: boolean;
}

export interface TargetRecord {
  id: string;
  port: number;
  registeredAt: number;
  deregisteredAt?: number;
}

export interface TargetGroupRecord {
  arn: string;
  name: string;
  port: number;
  deregistrationDelayMs: number;
  targets: TargetRecord[];
}

export interface RootVolumeTaskRecord {
  id: string;
  instanceId: string;
  snapshotId: string;
  startTime: number;
  newVolumeId: string;
  replacedVolumeId: string;
  deleteReplacedRootVolume: boolean;
  tags: Array<{ Key: string; Value: string }>;
  /** CreateReplaceRootVolumeTask's ClientToken: the same token answers this task again. */
  clientToken?: string;
  /** How it ends when an `outcome` fault fired on it; succeeded when absent. */
  outcome?: "failed" | "failed-detached";
}

export interface PatchingState {
  settings: PatchingSettings;
  nodes: Record<string, SsmNodeRecord>;
  /** Per instance; instances without one get `defaultOutcome`. */
  outcomes: Record<string, PatchOutcome>;
  defaultOutcome: PatchOutcome;
  commands: CommandRecord[];
  patchStates: Record<string, PatchStateRecord>;
  targetGroups: TargetGroupRecord[];
  rootVolumeTasks: RootVolumeTaskRecord[];
}

/** The region's patching state, created on first use. */
export function patching(ctx: OpContext): PatchingState {
  ctx.rs.patching ??= {
    settings: { ...DEFAULT_PATCHING_SETTINGS },
    nodes: {},
    outcomes: {},
    defaultOutcome: { result: "success" },
    commands: [],
    patchStates: {},
    targetGroups: [],
    rootVolumeTasks: [],
  };
  return ctx.rs.patching;
}

/** True while a reboot is still in progress (status checks initializing, agent offline). */
export function rebooting(ctx: OpContext, i: InstanceRecord): boolean {
  return i.rebootedAt !== undefined && ctx.now < i.rebootedAt + patching(ctx).settings.rebootMs;
}

/** True when the instance answers: running, not mid-reboot, not broken by a bad patch. */
export function healthy(ctx: OpContext, i: InstanceRecord): boolean {
  return i.state === "running" && !rebooting(ctx, i) && !patching(ctx).patchStates[i.id]?.broken;
}

export function instanceRecord(ctx: OpContext, id: string): InstanceRecord | undefined {
  return ctx.rs.instances.find((i) => i.id === id);
}

/**
 * The seed's patching setup: every instance is an SSM-managed node (the stopped one reports
 * ConnectionLost), and the web tier sits behind target group `web`.
 */
export function seedPatching(ctx: OpContext): void {
  const p = patching(ctx);
  for (const i of ctx.rs.instances)
    p.nodes[i.id] = { instanceId: i.id, registeredAt: ctx.now, agentVersion: "3.3.1142.0" };
  const web = ctx.rs.instances.filter((i) => i.group === "web");
  p.targetGroups.push({
    arn: `arn:aws:elasticloadbalancing:${ctx.region}:${ctx.state.accountId}:targetgroup/web/0000000000000001`,
    name: "web",
    port: 80,
    deregistrationDelayMs: p.settings.deregistrationDelayMs,
    targets: web.map((i) => ({ id: i.id, port: 80, registeredAt: ctx.now - p.settings.healthCheckMs })),
  });
}
