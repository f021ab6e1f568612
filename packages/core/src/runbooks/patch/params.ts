import { z } from "zod";

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-east-1");

/**
 * A rate as Systems Manager writes one: a whole number (`10`) or a percentage of the targets
 * (`"10%"`). Numbers may come as strings (`"10"`), as they do from a CLI `--param`.
 */
function rate(min: number, what: string) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const text = String(v).trim();
    const pct = text.match(/^(\d{1,3})%$/);
    if (pct) {
      const n = Number(pct[1]);
      if (n < Math.max(min, 0) || n > 100) {
        ctx.addIssue({ code: "custom", message: `${what} as a percentage must be ${min}% to 100%` });
        return z.NEVER;
      }
      return text;
    }
    if (!/^\d{1,5}$/.test(text) || Number(text) < min || Number(text) > 10_000) {
      ctx.addIssue({
        code: "custom",
        message: `${what} must be a whole number from ${min} to 10000 or a percentage such as "10%", got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return text;
  });
}

/** Polls one target may make at most, so its child execution stays under 25,000 history events. */
export const MAX_POLLS_PER_TARGET = 2500;

export const patchSelector = z
  .object({
    tag: z
      .record(z.string().min(1).max(128), z.string().max(256))
      .refine((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 50, {
        message: "1 to 50 tags",
      })
      .optional(),
    instanceIds: z
      .array(z.string().regex(/^i-[0-9a-f]{8,17}$/, "must be an instance id (i-…)"))
      .min(1)
      .max(1000)
      .optional(),
    autoScalingGroup: z.string().min(1).max(255).optional(),
  })
  .strict()
  .refine((s) => [s.tag, s.instanceIds, s.autoScalingGroup].filter(Boolean).length === 1, {
    message: "give exactly one of tag, instanceIds or autoScalingGroup",
  });

export const patchParams = z
  .object({
    selector: patchSelector,
    region: region.optional().describe("Region of the instances; default: Reflex's region"),
    maxConcurrency: rate(1, "maxConcurrency")
      .default("10%")
      .describe("How many targets are patched at once: a number, or a percentage of the targets"),
    maxErrors: rate(0, "maxErrors")
      .default("0")
      .describe("Once more targets than this have failed, no new target starts (in-flight ones finish)"),
    rebootOption: z
      .enum(["RebootIfNeeded", "NoReboot"])
      .default("RebootIfNeeded")
      .describe("Reboot an instance whose patches are InstalledPendingReboot"),
    commandTimeoutSeconds: z.number().int().min(1).max(172_800).default(3600),
    drainTimeoutSeconds: z.number().int().min(1).max(3600).default(600),
    healthTimeoutSeconds: z.number().int().min(1).max(3600).default(600),
    pollSeconds: z
      .number()
      .int()
      .min(1)
      .max(300)
      .default(15)
      .describe("How often a waiting target is checked"),
    rollbackOnFailure: z
      .boolean()
      .default(true)
      .describe("Put a failed target back on its pre-patch root volume (CreateReplaceRootVolumeTask)"),
    retainSnapshotDays: z.number().int().min(1).max(365).default(7),
  })
  .strict()
  // Each poll is about 9 history events (Wait, Task, Choice) in the target's child execution;
  // the waits must not be able to reach Step Functions' 25,000-event limit of one execution.
  .refine(
    (p) =>
      (p.commandTimeoutSeconds + p.drainTimeoutSeconds + 2 * p.healthTimeoutSeconds) / p.pollSeconds <=
      MAX_POLLS_PER_TARGET,
    {
      path: ["pollSeconds"],
      message: `too small for these timeouts: a target could poll more than ${MAX_POLLS_PER_TARGET} times (the history limit of its execution); raise pollSeconds or lower the timeouts`,
    },
  );

export type PatchParams = z.output<typeof patchParams>;

/** A rate resolved against the number of targets, as SSM does: percentages round down. */
export function resolveRate(rate: string, targets: number, min: number): number {
  const pct = rate.match(/^(\d+)%$/);
  const n = pct ? Math.floor((targets * Number(pct[1])) / 100) : Number(rate);
  return Math.max(min, n);
}
