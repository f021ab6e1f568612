import { z } from "zod";

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-east-1");

/** The selector as JSON names the run's lock, and a lock's key must fit a DynamoDB key (2 KB). */
const MAX_SELECTOR_BYTES = 1024;

export const selectorSchema = z
  .object({
    // AWS's own tag limits: keys of 1-128 characters, values of at most 256, 50 tags per resource.
    tag: z
      .record(z.string().min(1).max(128), z.string().max(256))
      .refine((t) => Object.keys(t).length <= 50, { message: "at most 50 tags (AWS's limit per resource)" })
      .optional(),
    instanceIds: z
      .array(z.string().regex(/^i-[0-9a-f]{8,17}$/, "must be an instance id (i-…)"))
      .min(1)
      .max(50)
      .optional(),
  })
  .strict()
  .refine((s) => (s.tag && Object.keys(s.tag).length > 0) || s.instanceIds, {
    message: "give tag (e.g. { Backup: 'daily' }) or instanceIds",
  })
  .refine((s) => Buffer.byteLength(JSON.stringify(s)) <= MAX_SELECTOR_BYTES, {
    message: `the selector must be at most ${MAX_SELECTOR_BYTES} bytes as JSON`,
  });

export const backupParams = z
  .object({
    selector: selectorSchema,
    region: region.optional().describe("Region of the instances; default: Reflex's region"),
    retainDays: z.number().int().min(1).max(3650).default(7).describe("Snapshots older than this are pruned"),
    keepLast: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(2)
      .describe("Always keep this many newest completed snapshots per volume, whatever their age"),
    copyToRegion: region.optional().describe("Also copy each snapshot to this (DR) region"),
    timeoutMinutes: z
      .number()
      .int()
      .min(1)
      // 20 h: the state machine times out at 24 h, and a TIMED_OUT run skips its rollback, so
      // copy, prune, report and rollback keep 4 h after the longest wait (stacks/timeouts.test.ts).
      .max(1200)
      .default(120)
      .describe("Give up waiting for snapshots after this"),
  })
  .strict();

export type BackupParams = z.output<typeof backupParams>;
