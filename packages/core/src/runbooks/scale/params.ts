import { z } from "zod";
import { parseDuration } from "../../config/duration.ts";

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-east-1");

/** The most one wait (for capacity, for a stop, for a start) may last before the run gives up. */
const MAX_WAIT_MS = 3_600_000;

/**
 * A duration kept as text (`"10m"`), so validated params stay valid params: the state machine
 * input, the execution record and a re-parse all see the same value. Steps read it with
 * `parseDuration`.
 */
const durationText = (what: string, max = MAX_WAIT_MS) =>
  z.string().refine(
    (s) => {
      const ms = parseDuration(s);
      return ms !== undefined && ms > 0 && ms <= max;
    },
    {
      message: `${what} must be a duration such as 30s, 10m or 1h, more than 0 and at most ${max / 3_600_000}h`,
    },
  );

const CHANGE = /^([+=-])(\d{1,5})(%?)$/;
const CHANGE_HELP = `must be +N, -N or =N (instances), or +N% / -N% (of the current desired capacity), e.g. "+2", "-1", "=6", "+50%"`;

/** A parsed `change`: add/remove N instances, set N, or add/remove N percent of the current capacity. */
export interface Change {
  op: "+" | "-" | "=";
  amount: number;
  percent: boolean;
}

/** Reads a `change` string; undefined when it is not one. */
export function parseChange(text: string): Change | undefined {
  const m = CHANGE.exec(text.trim());
  if (!m) return undefined;
  const [, op, digits, pct] = m;
  if (op === "=" && pct) return undefined;
  return { op: op as Change["op"], amount: Number(digits), percent: pct === "%" };
}

const change = z
  .string()
  .superRefine((text, ctx) => {
    const c = parseChange(text);
    if (!c) {
      ctx.addIssue({ code: "custom", message: CHANGE_HELP });
      return;
    }
    if (c.op !== "=" && c.amount === 0)
      ctx.addIssue({ code: "custom", message: `${text} changes nothing; ${CHANGE_HELP}` });
    if (c.percent && c.op === "-" && c.amount > 100) {
      ctx.addIssue({ code: "custom", message: "cannot remove more than 100% of the group" });
    }
    if (c.percent && c.amount > 1000)
      ctx.addIssue({ code: "custom", message: "a percentage change must be at most 1000%" });
  })
  .describe('How to change the desired capacity: "+N", "-N", "=N", "+N%" or "-N%"');

export const horizontalParams = z
  .object({
    mode: z
      .literal("horizontal")
      .default("horizontal")
      .describe("horizontal (the default): change an Auto Scaling group's desired capacity"),
    autoScalingGroup: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^:]+$/, "must be an Auto Scaling group name, not an ARN")
      .describe("The Auto Scaling group to scale; it must carry the automation tag"),
    change,
    region: region.optional().describe("Region of the group; default: Reflex's region"),
    maxStep: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(10)
      .describe("The most instances one run adds or removes; a larger change is clamped to this"),
    alarmName: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe("Scale-in proceeds only when Reflex has seen this CloudWatch alarm OK for requireOkFor"),
    requireOkFor: durationText("requireOkFor", 7 * 86_400_000)
      .default("10m")
      .describe("How long alarmName must have been OK before a scale-in"),
    timeout: durationText("timeout")
      .default("10m")
      .describe("Give up waiting for the new capacity to be InService after this, and roll back"),
  })
  .strict();

export const verticalParams = z
  .object({
    mode: z.literal("vertical").describe("vertical: change one instance's type (stop, modify, start)"),
    instanceId: z
      .string()
      .regex(/^i-[0-9a-f]{8,17}$/, "must be an instance id (i-…)")
      .describe("The instance to resize"),
    instanceType: z
      .string()
      .regex(/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/, "must be an EC2 instance type such as r5.2xlarge")
      .describe("The instance type to change to"),
    snapshotFirst: z
      .boolean()
      .default(true)
      .describe("Snapshot the instance's EBS volumes before stopping it"),
    region: region.optional().describe("Region of the instance; default: Reflex's region"),
    timeout: durationText("timeout")
      .default("10m")
      .describe("Give up waiting for the instance to stop, or to start, after this, and roll back"),
  })
  .strict();

export const scaleParams = z.discriminatedUnion("mode", [horizontalParams, verticalParams], {
  error: (issue) =>
    issue.code === "invalid_union" ? "mode must be 'horizontal' (the default) or 'vertical'" : undefined,
});

export type HorizontalParams = z.output<typeof horizontalParams>;
export type VerticalParams = z.output<typeof verticalParams>;
export type ScaleParams = z.output<typeof scaleParams>;

/** The most instances one run may add or remove, before `guardrails.maxTargetsPerRun` lowers it. */
export const SCALE_CAP = 20;
