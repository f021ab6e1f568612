import { z } from "zod";
import { configForParams } from "../../config/scope.ts";

/**
 * failover's params: which pair, and — for runs a rule starts — what the triggering event was
 * about. The pair must be one the config defines; the error names the pairs it knows.
 */
export const failoverParams = z
  .object({
    pair: z
      .string()
      .min(1)
      .max(63)
      .superRefine((name, ctx) => {
        const config = configForParams();
        if (!config) return; // no config yet: the steps check the pair against the one in force
        const known = config.pairs.map((p) => p.name);
        if (!known.includes(name))
          ctx.addIssue({
            code: "custom",
            message: `unknown pair '${name}'; ${known.length ? `known pairs: ${known.join(", ")}` : "the config defines no pairs"}`,
          });
      })
      .describe(
        "The pair to fail over (config `pairs[].name`); it moves from its current primary to its standby",
      ),
    ifPrimary: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe(
        "For rules: the instance id or health alarm name from the event. The run fails over only if it is the pair's current primary; otherwise it ends, skipped, changing nothing",
      ),
  })
  .strict();

export type FailoverParams = z.output<typeof failoverParams>;
