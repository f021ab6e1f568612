/**
 * off-hours' steps: plan (what each target should be now, and why), apply (start, then stop),
 * rollback (start again what this run stopped), override (keep / release). What Reflex stopped
 * is kept as an item (`stopped#<target>`), so a later tick knows the stop is its own to undo, and
 * the savings are counted from it.
 */
import {
  AutoScalingClient,
  CreateOrUpdateTagsCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  type DescribeAutoScalingGroupsCommandOutput,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  DescribeInstancesCommand,
  EC2Client,
  StartInstancesCommand,
  StopInstancesCommand,
  type StopInstancesCommandOutput,
} from "@aws-sdk/client-ec2";
import {
  client,
  type Implementation,
  type RunInput,
  type StepContext,
  StepExecutionError,
  type TargetResult,
} from "@reflex/sdk";
import { CAPACITY_TAG, type OffHoursParams } from "./index.ts";
import { writeMonthlyReport } from "./monthly-report.ts";
import { savingOf } from "./savings.ts";
import {
  desiredAt,
  lastTransition,
  localDate,
  nextTransitions,
  type OffHours,
  parseDuration,
  runningHoursPerWeek,
  type Schedule,
  zonedInstant,
} from "./schedule.ts";

type Ctx = StepContext & { maxTargets?: number };
type Input = RunInput<OffHoursParams>;

/** What a target is now, as plan read it. */
interface Target {
  id: string;
  kind: "instance" | "asg";
  name?: string;
  schedule?: string;
  /** running / stopped / a state in between. */
  state: "running" | "stopped" | "changing";
  instanceType?: string;
  hibernation?: boolean;
  automationTagged: boolean;
  /** The capacity recorded on a group Reflex scaled to zero. */
  capacity?: { min: number; desired: number; max: number };
  tags: Record<string, string>;
}

/** One change apply makes. */
export interface Action {
  id: string;
  kind: "instance" | "asg";
  op: "stop" | "start";
  schedule?: string;
  hibernate?: boolean;
  instanceType?: string;
  capacity?: { min: number; desired: number; max: number };
  reason: string;
  costCenter?: string;
}

/** What Reflex records of a target it stopped. */
export interface StoppedItem {
  target: string;
  kind: "instance" | "asg";
  stoppedAt: string;
  execution: string;
  schedule?: string;
  instanceType?: string;
  capacity?: { min: number; desired: number; max: number };
  costCenter?: string;
  [k: string]: unknown;
}

export interface OverrideItem {
  target: string;
  until: string;
  setBy: string;
  reason: string;
  setAt: string;
  execution: string;
  [k: string]: unknown;
}

function configOf(ctx: StepContext): OffHours {
  const c = ctx.config.offHours as OffHours | undefined;
  if (!c)
    throw new StepExecutionError(
      "NotConfigured",
      "off-hours has no offHours key in the config: nothing to do",
    );
  return c;
}

function itemsOf(ctx: StepContext): NonNullable<StepContext["items"]> {
  if (!ctx.items)
    throw new StepExecutionError("NoItemStore", "this step runner gives off-hours no item store");
  return ctx.items;
}

const tagMap = (tags: Array<{ Key?: string; Value?: string }> | undefined) =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));

function parseCapacity(v: string | undefined): Target["capacity"] {
  const m = /^(\d+),(\d+),(\d+)$/.exec(v ?? "");
  return m ? { min: Number(m[1]), desired: Number(m[2]), max: Number(m[3]) } : undefined;
}

/** Every instance and group carrying the off-hours tag (instances in a group are its group's). */
export async function discover(
  cfg: OffHours,
  ctx: Pick<StepContext, "automationTag">,
): Promise<{ targets: Target[]; members: string[] }> {
  const ec2 = client(EC2Client, "ec2");
  const targets: Target[] = [];
  const members: string[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: "tag-key", Values: [cfg.tagKey] },
          { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
        ],
        MaxResults: 1000,
        NextToken: token,
      }),
    );
    for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const tags = tagMap(i.Tags);
      if (tags["aws:autoscaling:groupName"]) {
        members.push(i.InstanceId as string);
        continue;
      }
      const s = i.State?.Name;
      targets.push({
        id: i.InstanceId as string,
        kind: "instance",
        name: tags.Name,
        schedule: tags[cfg.tagKey],
        state: s === "running" ? "running" : s === "stopped" ? "stopped" : "changing",
        instanceType: i.InstanceType,
        hibernation: i.HibernationOptions?.Configured === true,
        automationTagged: tags[ctx.automationTag.key] === ctx.automationTag.value,
        tags,
      });
    }
    token = out.NextToken;
  } while (token);
  const asg = client(AutoScalingClient, "autoscaling");
  token = undefined;
  do {
    const out: DescribeAutoScalingGroupsCommandOutput = await asg.send(
      new DescribeAutoScalingGroupsCommand({ MaxRecords: 100, NextToken: token }),
    );
    for (const g of out.AutoScalingGroups ?? []) {
      const tags = tagMap(g.Tags);
      if (!(cfg.tagKey in tags)) continue;
      const capacity = parseCapacity(tags[CAPACITY_TAG]);
      targets.push({
        id: `asg:${g.AutoScalingGroupName}`,
        kind: "asg",
        name: g.AutoScalingGroupName,
        schedule: tags[cfg.tagKey],
        // Scaled to zero by Reflex (the tag) or by anyone: stopped.
        state: (g.DesiredCapacity ?? 0) > 0 ? "running" : "stopped",
        instanceType: g.Instances?.[0]?.InstanceType,
        automationTagged: tags[ctx.automationTag.key] === ctx.automationTag.value,
        capacity: capacity ?? {
          min: g.MinSize ?? 0,
          desired: g.DesiredCapacity ?? 0,
          max: g.MaxSize ?? 0,
        },
        tags,
      });
    }
    token = out.NextToken;
  } while (token);
  return { targets: targets.sort((a, b) => a.id.localeCompare(b.id)), members: members.sort() };
}

/** Throttling, a 5xx, a dropped connection: what the step's retrier retries (the SDK marks them retryable). */
function isTransient(e: Error & { $retryable?: unknown; $metadata?: { httpStatusCode?: number } }): boolean {
  return (
    e.$retryable !== undefined ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500 ||
    /Throttl|RequestLimitExceeded|TooManyRequests|ECONNRESET|ETIMEDOUT|TimeoutError/.test(e.name)
  );
}

const lockKey = (id: string) => (id.startsWith("asg:") ? id : `instance:${id}`);
const fmt = (t: Date, zone: string) =>
  `${new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(t)} ${zone} (${t.toISOString().slice(11, 16)}Z)`;

/** What one tick does with every target, and why; locks the ones it acts on. */
async function plan(input: Input, ctx: Ctx): Promise<Plan> {
  const cfg = configOf(ctx);
  const items = itemsOf(ctx);
  const p = input.params;
  const at = new Date(p.at ?? input.execution.startedAt);
  if (p.action === "preview") return preview(input, ctx, cfg, at);
  const { targets, members } = await discover(cfg, ctx);
  const stopped = new Map(
    (await items.list("stopped#")).map((i) => [i.key.slice(8), i.value as StoppedItem]),
  );
  // Expiry is checked on read, at the instant the tick judges (the store hides what expired by the clock).
  const overrides = new Map(
    (await items.list("override#"))
      .map((i) => i.value as OverrideItem)
      .filter((o) => Date.parse(o.until) > at.getTime())
      .map((o) => [o.target, o]),
  );
  const respected = new Map((await items.list("respected#")).map((i) => [i.key.slice(10), i.value]));
  const schedules = new Map(cfg.schedules.map((s) => [s.name, s]));
  const results: TargetResult[] = [];
  const actions: Action[] = [];
  const counts = { inState: 0 };
  const skip = (t: Target, reason: string) =>
    results.push({ id: t.id, kind: t.kind, name: t.name, status: "skipped", reason });

  for (const t of targets) {
    if (p.targets && !p.targets.includes(t.id)) continue;
    if (p.schedule && t.schedule !== p.schedule) continue;
    if (t.schedule === cfg.optOut) {
      skip(t, `opted out (${cfg.tagKey}=${cfg.optOut})`);
      continue;
    }
    const s = t.schedule === undefined ? undefined : schedules.get(t.schedule);
    if (!s) {
      skip(
        t,
        `unknown schedule '${t.schedule}' (${cfg.tagKey}): not acted on; fix the tag or add the schedule`,
      );
      continue;
    }
    if (!t.automationTagged) {
      skip(
        t,
        `lacks the automation tag ${ctx.automationTag.key}=${ctx.automationTag.value}: listed, not touched`,
      );
      continue;
    }
    if (t.state === "changing") {
      skip(t, "in a state change: the next tick sees where it ends");
      continue;
    }
    const decision = decide(t, s, at, p, {
      stopped: stopped.get(t.id),
      override: overrides.get(t.id),
      respected: respected.get(t.id) as { since?: string } | undefined,
    });
    if (decision.respect) {
      // A target started by hand during off hours: left running until the next stop.
      if (!ctx.dryRun) {
        await items.put(`respected#${t.id}`, { target: t.id, since: decision.respect });
        if (stopped.has(t.id)) await endStopped(ctx, stopped.get(t.id) as StoppedItem, at, cfg);
      }
    } else if (decision.forget && !ctx.dryRun) await items.remove(`respected#${t.id}`);
    if (!decision.op) {
      counts.inState++;
      if (decision.note) skip(t, decision.note);
      continue;
    }
    const hibernate = decision.op === "stop" && t.kind === "instance" && s.hibernate;
    actions.push({
      id: t.id,
      kind: t.kind,
      op: decision.op,
      schedule: s.name,
      ...(hibernate ? { hibernate: t.hibernation === true } : {}),
      instanceType: t.instanceType,
      ...(t.capacity ? { capacity: t.capacity } : {}),
      ...(t.tags.CostCenter ? { costCenter: t.tags.CostCenter } : {}),
      reason:
        hibernate && !t.hibernation
          ? `${decision.reason}; hibernate is configured but the instance is not enabled for it: a plain stop`
          : decision.reason,
    });
  }
  // In a freeze only starts go ahead; each suppressed stop is listed with the freeze.
  if (p.startsOnly)
    for (const a of actions.filter((x) => x.op === "stop")) {
      actions.splice(actions.indexOf(a), 1);
      results.push({
        id: a.id,
        kind: a.kind,
        status: "skipped",
        reason: `stop suppressed by ${p.startsOnly} (duringFreeze: start-only): ${a.reason}`,
      });
    }
  // Starts first: a failing stop must never hold back a start.
  actions.sort((a, b) => (a.op === b.op ? a.id.localeCompare(b.id) : a.op === "start" ? -1 : 1));
  const cap = ctx.maxTargets ?? 50;
  const over = actions.splice(cap);
  for (const a of over)
    results.push({
      id: a.id,
      kind: a.kind,
      status: "skipped",
      reason: `would ${a.op}, but the run's blast-radius cap is ${cap} targets: the next tick goes on`,
    });
  let acting = actions;
  if (!ctx.dryRun && actions.length > 0) {
    const { held, locked } = await ctx.lockTargets(actions.map((a) => lockKey(a.id)));
    acting = actions.filter((a) => held.includes(lockKey(a.id)));
    for (const l of locked)
      results.push({
        id: l.target.replace(/^instance:/, ""),
        kind: l.target.startsWith("asg:") ? "asg" : "instance",
        status: "skipped",
        reason: `locked by run ${l.holder ?? "(another run)"}`,
      });
  }
  for (const a of acting)
    results.push({
      id: a.id,
      kind: a.kind,
      status: "not-started",
      reason: `${ctx.dryRun ? "would" : "will"} ${a.op === "stop" && a.hibernate ? "hibernate" : a.op}: ${a.reason}`,
      ...(a.capacity && a.kind === "asg"
        ? { details: { capacity: `${a.capacity.min}/${a.capacity.desired}/${a.capacity.max}` } }
        : {}),
    });
  const stops = acting.filter((a) => a.op === "stop").length;
  await ctx.record({
    summary: `${ctx.dryRun ? "would stop" : "stopping"} ${stops} and ${ctx.dryRun ? "start" : "starting"} ${acting.length - stops} target(s) at ${at.toISOString()}; ${counts.inState} already as their schedule wants${members.length ? `; ${members.length} group member(s) left to their group` : ""}`,
    targets: results,
    at: at.toISOString(),
  });
  return { actions: acting, left: results.filter((r) => r.status === "skipped") };
}

/** One upcoming change of a schedule's desired state, and what its tick would do then. */
export interface PreviewTransition {
  utc: string;
  /** The same instant on the schedule's clock: `2026-03-30 19:00 Europe/Berlin`. */
  local: string;
  to: "running" | "stopped";
  stops: string[];
  starts: string[];
  /** Kept running by an override in force then. */
  kept: string[];
}

/** `YYYY-MM-DD HH:MM` on the zone's clock. */
function onClock(t: Date, zone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(t)
      .map((x) => [x.type, x.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${zone}`;
}

/**
 * `action: preview` — a schedule's next transitions (its zone and UTC), what the tick after
 * each would stop or start, and its running hours a week, from what the targets are now and
 * the overrides in force (assuming nobody changes a target by hand in between). Read-only
 * whatever the run's mode: it hands apply nothing.
 */
async function preview(input: Input, ctx: Ctx, cfg: OffHours, at: Date): Promise<Plan> {
  const p = input.params;
  const s = cfg.schedules.find((x) => x.name === p.schedule);
  if (!s)
    throw new StepExecutionError(
      "UnknownSchedule",
      `no schedule '${p.schedule}' in offHours.schedules (${cfg.schedules.map((x) => x.name).join(", ") || "none"})`,
    );
  const items = itemsOf(ctx);
  const { targets } = await discover(cfg, ctx);
  const mine = targets.filter((t) => t.schedule === s.name && t.automationTagged);
  const stoppedByReflex = new Set((await items.list("stopped#")).map((i) => i.key.slice(8)));
  const overrides = (await items.list("override#")).map((i) => i.value as OverrideItem);
  const running = new Set(mine.filter((t) => t.state === "running").map((t) => t.id));
  const ours = new Set(mine.filter((t) => stoppedByReflex.has(t.id)).map((t) => t.id));
  const transitions: PreviewTransition[] = [];
  for (const tr of nextTransitions(s, at, p.transitions ?? 4)) {
    const when = tr.at.getTime();
    const kept = mine
      .filter((t) => overrides.some((o) => o.target === t.id && Date.parse(o.until) > when))
      .map((t) => t.id);
    const stops: string[] = [];
    const starts: string[] = [];
    if (tr.to === "stopped")
      for (const id of [...running].filter((x) => !kept.includes(x)).sort()) {
        stops.push(id);
        running.delete(id);
        ours.add(id);
      }
    else
      for (const t of mine.filter((x) => !running.has(x.id) && (ours.has(x.id) || s.enforce))) {
        starts.push(t.id);
        running.add(t.id);
        ours.delete(t.id);
      }
    transitions.push({
      utc: tr.at.toISOString(),
      local: onClock(tr.at, s.timezone),
      to: tr.to,
      stops,
      starts,
      kept,
    });
  }
  const hoursPerWeek = Math.round(runningHoursPerWeek(s, at) * 100) / 100;
  const next = transitions[0];
  await ctx.record({
    preview: { schedule: s.name, timezone: s.timezone, from: at.toISOString(), hoursPerWeek, transitions },
    summary: `preview of ${s.name} (${s.timezone}): ${mine.length} target(s), running ${hoursPerWeek} h a week${next ? `; next: ${next.to === "stopped" ? "stop" : "start"} at ${next.local} (${next.utc}), ${next.to === "stopped" ? `stops ${next.stops.length}` : `starts ${next.starts.length}`}` : "; no transition in the next 31 days"}`,
    targets: mine.map(
      (t): TargetResult => ({
        id: t.id,
        kind: t.kind,
        ...(t.name ? { name: t.name } : {}),
        status: "skipped",
        reason: `preview (nothing changed): ${
          transitions
            .flatMap((x) =>
              x.stops.includes(t.id)
                ? [`stopped at ${x.local}`]
                : x.starts.includes(t.id)
                  ? [`started at ${x.local}`]
                  : x.kept.includes(t.id)
                    ? [`kept running at ${x.local} (override)`]
                    : [],
            )
            .join(", ") || "left as it is"
        }`,
      }),
    ),
    at: at.toISOString(),
  });
  return { actions: [], left: [] };
}

/** What plan hands to apply: the changes, and the targets it left alone (kept in the final result). */
interface Plan {
  actions: Action[];
  left: TargetResult[];
}

interface Decision {
  op?: "stop" | "start";
  reason: string;
  note?: string;
  /** Started by hand during off hours: respected since this off period began. */
  respect?: string;
  /** The off period it was respected in is over. */
  forget?: boolean;
}

/** The rules of one tick for one target (see docs/runbooks/off-hours.md, "What a tick does"). */
export function decide(
  t: Pick<Target, "state" | "id">,
  s: Schedule,
  at: Date,
  p: Pick<OffHoursParams, "action">,
  known: { stopped?: StoppedItem; override?: OverrideItem; respected?: { since?: string } },
): Decision {
  if (p.action === "stop")
    return t.state === "running" ? { op: "stop", reason: "stopped by hand (action stop)" } : { reason: "" };
  if (p.action === "start")
    return t.state === "stopped" ? { op: "start", reason: "started by hand (action start)" } : { reason: "" };
  const override = known.override;
  if (override) {
    if (t.state === "stopped" && known.stopped)
      return { op: "start", reason: `override until ${override.until} by ${override.setBy}` };
    return {
      reason: "",
      note: `kept running until ${override.until} by ${override.setBy}: ${override.reason}`,
    };
  }
  const want = desiredAt(s, at);
  const since = lastTransition(s, at);
  const sinceText = since ? fmt(since.at, s.timezone) : "the schedule's start";
  if (want === "running") {
    const forget = known.respected !== undefined;
    if (t.state === "stopped") {
      if (known.stopped) return { op: "start", reason: `on hours since ${sinceText}`, forget };
      if (s.enforce) return { op: "start", reason: `on hours since ${sinceText} (enforce)`, forget };
      return { reason: "", note: "stopped outside Reflex: left stopped (enforce would start it)", forget };
    }
    return { reason: "", forget };
  }
  // Off hours.
  if (t.state === "stopped") return { reason: "" };
  const periodStart = since?.at.toISOString() ?? "";
  if (!s.enforce) {
    if (known.respected?.since === periodStart)
      return {
        reason: "",
        note: `started by hand during off hours: left running until the next stop (enforce is off)`,
      };
    // Reflex stopped it in this off period and it runs again: someone started it.
    if (known.stopped && known.stopped.stoppedAt >= periodStart)
      return {
        reason: "",
        respect: periodStart,
        note: `started by hand after Reflex stopped it at ${known.stopped.stoppedAt}: left running until the next stop (enforce is off)`,
      };
  }
  return { op: "stop", reason: `off hours since ${sinceText}${s.enforce ? " (enforce)" : ""}` };
}

/** Closes what Reflex recorded of a stopped target: the stop's saving is kept, the item goes. */
async function endStopped(ctx: StepContext, item: StoppedItem, at: Date, cfg: OffHours): Promise<void> {
  const items = itemsOf(ctx);
  const saving = savingOf(item, at, cfg.prices);
  await items.put(`saving#${at.toISOString()}#${item.target}`, { ...saving });
  await items.remove(`stopped#${item.target}`);
}

/** Applies the plan: starts, then stops; the first failure fails the run, whose rollback starts again what it stopped. */
async function apply(input: Input & { plan: Plan }, ctx: Ctx): Promise<{ done: number }> {
  const cfg = configOf(ctx);
  const items = itemsOf(ctx);
  const at = new Date(input.params.at ?? input.execution.startedAt);
  const stoppedItems = new Map(
    (await items.list("stopped#")).map((i) => [i.key.slice(8), i.value as StoppedItem]),
  );
  const results: TargetResult[] = [];
  const actions = input.plan.actions;
  for (const [n, a] of actions.entries()) {
    try {
      const note = await act(a);
      if (a.op === "stop") {
        const item: StoppedItem = {
          target: a.id,
          kind: a.kind,
          stoppedAt: at.toISOString(),
          execution: ctx.executionId,
          schedule: a.schedule,
          instanceType: a.instanceType,
          ...(a.capacity ? { capacity: a.capacity } : {}),
          ...(a.costCenter ? { costCenter: a.costCenter } : {}),
        };
        await items.put(`stopped#${a.id}`, item);
      } else {
        const was = stoppedItems.get(a.id);
        if (was) await endStopped(ctx, was, at, cfg);
        // A person's start during off hours is theirs, as one from the console is: respected until the next stop.
        const s = cfg.schedules.find((x) => x.name === a.schedule);
        if (input.params.action === "start" && s && desiredAt(s, at) === "stopped")
          await items.put(`respected#${a.id}`, {
            target: a.id,
            since: lastTransition(s, at)?.at.toISOString() ?? "",
          });
      }
      results.push({ id: a.id, kind: a.kind, status: "succeeded", reason: `${note}: ${a.reason}` });
    } catch (err) {
      const e = err as Error;
      // A blip is the step's retrier's to handle (apply is safe to repeat), not a failed target.
      if (isTransient(e)) throw e;
      results.push({ id: a.id, kind: a.kind, status: "failed", reason: `${e.name}: ${e.message}` });
      for (const rest of actions.slice(n + 1))
        results.push({
          id: rest.id,
          kind: rest.kind,
          status: "not-started",
          reason: "the run failed before it",
        });
      await ctx.record({
        summary: `failed on ${a.id} (${a.op}): ${e.message}`,
        targets: [...results, ...input.plan.left],
      });
      throw new StepExecutionError("OffHoursFailed", `${a.op} ${a.id} failed: ${e.name}: ${e.message}`);
    }
  }
  const stops = actions.filter((a) => a.op === "stop").length;
  // A tick after a month closes writes its report (once; never fails the tick: the next one retries).
  const monthly = input.params.action === "reconcile" ? await writeMonthlyReport(ctx, cfg, at) : undefined;
  await ctx.record({
    summary: `stopped ${stops} and started ${actions.length - stops} target(s) at ${at.toISOString()}`,
    targets: [...results, ...input.plan.left],
    ...(monthly && (monthly.written || monthly.error) ? { monthlyReport: monthly } : {}),
  });
  return { done: actions.length };
}

/** One change, verified by what the API answers; returns what was done. */
async function act(a: Action): Promise<string> {
  if (a.kind === "instance") {
    const ec2 = client(EC2Client, "ec2");
    if (a.op === "start") {
      const out = await ec2.send(new StartInstancesCommand({ InstanceIds: [a.id] }));
      const state = out.StartingInstances?.[0]?.CurrentState?.Name;
      if (state !== "pending" && state !== "running")
        throw new Error(`it is ${state ?? "unknown"} after the start`);
      return "started";
    }
    let out: StopInstancesCommandOutput;
    try {
      out = await ec2.send(
        new StopInstancesCommand({ InstanceIds: [a.id], Hibernate: a.hibernate === true }),
      );
    } catch (err) {
      // Enabled for hibernation but not able to now (not yet ready, too much memory): a plain stop, reported.
      if (!a.hibernate || (err as Error).name !== "UnsupportedHibernationConfiguration") throw err;
      a.hibernate = false;
      a.reason = `${a.reason}; hibernation refused (${(err as Error).message}): a plain stop`;
      out = await ec2.send(new StopInstancesCommand({ InstanceIds: [a.id], Hibernate: false }));
    }
    const state = out.StoppingInstances?.[0]?.CurrentState?.Name;
    if (state !== "stopping" && state !== "stopped")
      throw new Error(`it is ${state ?? "unknown"} after the stop`);
    return a.hibernate ? "hibernated" : "stopped";
  }
  const asg = client(AutoScalingClient, "autoscaling");
  const name = a.id.slice(4);
  const cap = a.capacity as NonNullable<Action["capacity"]>;
  if (a.op === "stop") {
    // The capacity first: a crash after it still knows what to restore.
    await asg.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          {
            ResourceId: name,
            ResourceType: "auto-scaling-group",
            Key: CAPACITY_TAG,
            Value: `${cap.min},${cap.desired},${cap.max}`,
            PropagateAtLaunch: false,
          },
        ],
      }),
    );
    await asg.send(
      new UpdateAutoScalingGroupCommand({
        AutoScalingGroupName: name,
        MinSize: 0,
        DesiredCapacity: 0,
        MaxSize: 0,
      }),
    );
    return `scaled to 0/0/0 (was ${cap.min}/${cap.desired}/${cap.max}, recorded in ${CAPACITY_TAG})`;
  }
  await asg.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      MinSize: cap.min,
      DesiredCapacity: cap.desired,
      MaxSize: cap.max,
    }),
  );
  await asg.send(
    new DeleteTagsCommand({
      Tags: [{ ResourceId: name, ResourceType: "auto-scaling-group", Key: CAPACITY_TAG }],
    }),
  );
  return `restored to ${cap.min}/${cap.desired}/${cap.max}`;
}

/** Starts again what this run stopped (groups back to their recorded capacity). */
async function rollback(
  input: Input & { plan?: Plan; error?: { Error?: string; Cause?: string } },
  ctx: Ctx,
): Promise<{ rolledBack: number }> {
  const items = itemsOf(ctx);
  const mine = (await items.list("stopped#"))
    .map((i) => i.value as StoppedItem)
    .filter((i) => i.execution === ctx.executionId);
  const results: TargetResult[] = [];
  for (const i of mine) {
    await act({ id: i.target, kind: i.kind, op: "start", capacity: i.capacity, reason: "rollback" });
    await items.remove(`stopped#${i.target}`);
    results.push({
      id: i.target,
      kind: i.kind,
      status: "rolled-back",
      reason: "stopped by this run, started again because the run failed part-way",
    });
  }
  // The rest of the plan, told from the error: the target it names failed; starts before it
  // succeeded; what came after it was not started.
  const cause = input.error?.Cause ?? "";
  const failedId = /(?:start|stop) (\S+) failed: /.exec(cause)?.[1];
  const done = new Set(results.map((r) => r.id));
  const actions = input.plan?.actions ?? [];
  const failedAt = actions.findIndex((a) => a.id === failedId);
  const before = actions
    .filter((a) => !done.has(a.id))
    .map(
      (a, _, __, n = actions.indexOf(a)): TargetResult => ({
        id: a.id,
        kind: a.kind,
        ...(a.id === failedId
          ? { status: "failed", reason: cause.replace(/^.*? failed: /, "") }
          : failedAt >= 0 && n < failedAt && a.op === "start"
            ? { status: "succeeded", reason: `started: ${a.reason}` }
            : { status: "not-started", reason: "the run failed before it" }),
      }),
    );
  await ctx.record({
    summary: `the run failed part-way: ${results.length} target(s) it had stopped were started again`,
    targets: [...results, ...before, ...(input.plan?.left ?? [])],
  });
  return { rolledBack: results.length };
}

/** `keep` writes an override (expiring by itself), `release` deletes it; both name who and why. */
async function override(input: Input, ctx: Ctx): Promise<{ overrides: number }> {
  const cfg = configOf(ctx);
  const items = itemsOf(ctx);
  const p = input.params;
  const now = ctx.now();
  const targets = p.targets ?? [];
  const { targets: found } = await discover(cfg, ctx);
  const byId = new Map(found.map((t) => [t.id, t]));
  const schedules = new Map(cfg.schedules.map((s) => [s.name, s]));
  // The same check as admission's: a longer override than maxOverride takes override-limits.
  const mayLong = (await ctx.may?.("override-limits")) ?? false;
  const problems = overrideProblems(p, cfg, found, now, mayLong);
  if (problems.length)
    throw new StepExecutionError(
      problems.every((x) => x.forbidden) ? "OverrideNotAllowed" : "InvalidOverride",
      problems.map((x) => `${x.path}: ${x.message}`).join("; "),
    );
  // The person (a Slack id through `people`), so an override names who set it across channels.
  const actor = (await (ctx.person ?? ctx.actor)?.()) ?? "unknown";
  const max = parseDuration(cfg.maxOverride) as number;
  const results: TargetResult[] = [];
  if (p.action === "release") {
    for (const id of targets) {
      if (!ctx.dryRun) await items.remove(`override#${id}`);
      results.push({
        id,
        kind: id.startsWith("asg:") ? "asg" : "instance",
        status: ctx.dryRun ? "not-started" : "succeeded",
        reason: `override ${ctx.dryRun ? "would be " : ""}cancelled by ${actor}`,
      });
    }
    await ctx.record({
      summary: `override cancelled on ${targets.length} target(s) by ${actor}`,
      targets: results,
    });
    return { overrides: 0 };
  }
  for (const id of targets) {
    const t = byId.get(id) as Target;
    const s = schedules.get(t.schedule as string) as Schedule;
    const until = untilOf(p, s, now);
    const item: OverrideItem = {
      target: id,
      until: until.toISOString(),
      setBy: actor,
      reason: p.reason ?? "",
      setAt: now.toISOString(),
      execution: ctx.executionId,
    };
    if (!ctx.dryRun) await items.put(`override#${id}`, item, { expiresAt: until });
    results.push({
      id,
      kind: t.kind,
      status: ctx.dryRun ? "not-started" : "succeeded",
      reason: `${ctx.dryRun ? "would keep" : "kept"} running until ${fmt(until, s.timezone)} by ${actor}${until.getTime() - now.getTime() > max ? ` (longer than maxOverride ${cfg.maxOverride}: ${actor} has override-limits)` : ""}: ${item.reason}`,
    });
  }
  if (p.start && !ctx.dryRun) {
    for (const id of targets) {
      const t = byId.get(id) as Target;
      if (t.state !== "stopped") continue;
      await act({ id, kind: t.kind, op: "start", capacity: t.capacity, reason: "keep --start" });
      const was = (await items.list(`stopped#${id}`))[0]?.value as StoppedItem | undefined;
      if (was) await endStopped(ctx, was, now, cfg);
    }
  }
  await ctx.record({
    summary: `${ctx.dryRun ? "would keep" : "keeping"} ${targets.length} target(s) running: ${p.reason}`,
    targets: results,
  });
  return { overrides: results.length };
}

/** Something wrong with a keep or release: the param at fault; `forbidden` when it is this person's access (a 403), not the input. */
export interface OverrideProblem {
  path: string;
  message: string;
  forbidden?: true;
}

/**
 * What is wrong with a keep or release, each with the param at fault: a target without the
 * off-hours tag or with an unknown schedule; a keep's end in the past, further than
 * `maxOverride` for a person without the `override-limits` action (forbidden: a 403), or further
 * than `maxLongOverride` for anyone (judged in each target's schedule zone). Asked by
 * admission's precheck (before anything is written) and again by the override step (the world
 * may have changed).
 */
export function overrideProblems(
  p: OffHoursParams,
  cfg: OffHours,
  found: Target[],
  now: Date,
  mayLong: boolean,
): OverrideProblem[] {
  const byId = new Map(found.map((t) => [t.id, t]));
  const schedules = new Map(cfg.schedules.map((s) => [s.name, s]));
  const problems: OverrideProblem[] = [];
  for (const id of p.targets ?? []) {
    const t = byId.get(id);
    const s = t && schedules.get(t.schedule ?? "");
    if (!t) problems.push({ path: "targets", message: `${id} carries no ${cfg.tagKey} tag` });
    else if (!s) problems.push({ path: "targets", message: `${id} has no known schedule ('${t.schedule}')` });
    else if (p.action === "keep") {
      const problem = endProblem(p, cfg, untilOf(p, s, now), now, mayLong);
      if (problem) problems.push(problem);
    }
  }
  return problems;
}

/**
 * What is wrong with a keep's end, if anything: in the past; beyond `maxLongOverride` (nobody);
 * beyond `maxOverride` without the `override-limits` action (forbidden).
 */
export function endProblem(
  p: OffHoursParams,
  cfg: OffHours,
  until: Date,
  now: Date,
  mayLong: boolean,
): OverrideProblem | undefined {
  const path = p.for ? "for" : "until";
  const ahead = until.getTime() - now.getTime();
  // The field the caller gave: `for: 0m` is no override, named at `for`, not at an `until` never sent.
  if (ahead <= 0)
    return p.for
      ? { path, message: `${p.for} ends at once: an override must last longer than 0` }
      : { path, message: `${until.toISOString()} is in the past` };
  if (ahead > (parseDuration(cfg.maxLongOverride) as number))
    return {
      path,
      message: `${until.toISOString()} is more than maxLongOverride (${cfg.maxLongOverride}) away: nobody may set a longer override`,
    };
  if (ahead > (parseDuration(cfg.maxOverride) as number) && !mayLong)
    return {
      path,
      forbidden: true,
      message: `${until.toISOString()} is more than maxOverride (${cfg.maxOverride}) away: a longer override (up to maxLongOverride, ${cfg.maxLongOverride}) takes a role with the override-limits action on off-hours`,
    };
  return undefined;
}

/** The instant a keep ends: `for` from now, an ISO instant, or the next `HH:MM` in the schedule's zone (today, else tomorrow). */
function untilOf(p: OffHoursParams, s: Schedule, now: Date): Date {
  if (p.for) return new Date(now.getTime() + (parseDuration(p.for) as number));
  const u = p.until as string;
  if (!/^\d{2}:\d{2}$/.test(u)) return new Date(u);
  const minutes = Number(u.slice(0, 2)) * 60 + Number(u.slice(3));
  const today = localDate(now.getTime(), s.timezone);
  const t = zonedInstant(today, minutes, s.timezone);
  if (t > now.getTime()) return new Date(t);
  // 22:00 asked at 23:00 means tomorrow's, within the limit or refused by it.
  const tomorrow = new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return new Date(zonedInstant(tomorrow, minutes, s.timezone));
}

export const implementation: Implementation = { steps: { plan, apply, rollback, override } };
