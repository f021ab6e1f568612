/**
 * The schema of `reflex.config.ts`. Structure is checked by zod; meaning (a rule names a
 * runbook that exists, its params fit that runbook, a cron parses, a zone exists) is checked
 * in `load.ts`, so every problem is reported with its path.
 */
import { z } from "zod";
import { accountSchema, locationsSchema, organizationSchema } from "../accounts.ts";
import { isTimeZone, parseSchedule } from "./cron.ts";
import { duration } from "./duration.ts";

/** The longest approval deadline: each state machine's timeout leaves room for it (stacks/timeouts.test.ts). */
export const MAX_APPROVAL_DEADLINE_MS = 12 * 3_600_000;

/**
 * What a person may do with a runbook, by role. `override-limits`: start it with params past the
 * runbook's own limit for everyone (off-hours: an override longer than `maxOverride`), up to the
 * hard limit the runbook keeps for all (off-hours: `maxLongOverride`).
 */
export const ACTIONS = [
  "run",
  "dry-run",
  "approve",
  "abort",
  "override-freeze",
  "override-pause",
  "override-limits",
] as const;
export type Action = (typeof ACTIONS)[number];

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be kebab-case (a-z, 0-9, -), at most 63 characters");
const params = z.record(z.string(), z.unknown()).default({});
/** An EventBridge Scheduler expression (`cron(…)` with 6 fields, `rate(…)`, `at(…)`), checked as schedules' are. */
export const cronSchema = z.string().superRefine((s, ctx) => {
  try {
    parseSchedule(s);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});
/** An IANA time zone such as Europe/Berlin. */
export const timeZoneSchema = z
  .string()
  .refine(isTimeZone, { message: "must be an IANA time zone such as Europe/Berlin" });
const schedule = cronSchema;
const timezone = z
  .string()
  .default("UTC")
  .refine(isTimeZone, { message: "must be an IANA time zone such as Europe/Berlin" });
const instant = z.iso.datetime({
  offset: true,
  message: "must be an ISO 8601 date-time such as 2026-11-26T00:00:00Z",
});

export const ruleSchema = z
  .object({
    name,
    description: z.string().optional(),
    /** An EventBridge event pattern. */
    on: z.record(z.string(), z.unknown()),
    run: z.string(),
    /** Params; string values starting with `$.` are taken from the event (JSONPath). */
    with: params,
    cooldown: duration.prefault("10m"),
    /** The lock/cooldown target, e.g. `$.detail.alarmName`; default: the runbook's own lock key. */
    target: z.string().optional(),
    enabled: z.boolean().default(true),
    /** Shadow mode: the rule's runs are dry-runs (plan only), to try a new rule safely. */
    dryRun: z.boolean().default(false),
    /** `required`: every run this rule starts waits for a person; `policy`: as `approvals` says. */
    approval: z.enum(["required", "policy"]).default("policy"),
    /**
     * Member locations: an event from a member account runs in its own account and Region when
     * the selector names them (else the rule does not match it); an event from the hub fans out
     * over every location the selector names.
     */
    locations: locationsSchema.optional(),
  })
  .strict();

export const scheduleSchema = z
  .object({
    name,
    cron: schedule,
    timezone,
    run: z.string(),
    with: params,
    enabled: z.boolean().default(true),
    /** Run in every member location the selector names: one child run per location (a fan-out). */
    locations: locationsSchema.optional(),
  })
  .strict();

export const windowSchema = z
  .object({
    name,
    cron: schedule,
    timezone,
    duration,
    /** No new work starts this long before the window closes. */
    cutoff: duration.prefault("0s"),
    run: z.string(),
    with: params,
    enabled: z.boolean().default(true),
    /** Run in every member location the selector names: one child run per location (a fan-out). */
    locations: locationsSchema.optional(),
  })
  .strict();

export const freezeSchema = z
  .object({
    name,
    from: instant,
    to: instant,
    /** Runbooks the freeze applies to; default all. */
    runbooks: z.array(z.string()).optional(),
    reason: z.string().optional(),
  })
  .strict()
  .refine((f) => Date.parse(f.from) < Date.parse(f.to), { message: "from must be before to", path: ["to"] });

const instanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, "must be an instance id (i-…)");

/** How Reflex tells that one side of a pair is healthy: an HTTP URL answering 2xx, or a CloudWatch alarm in OK. */
const healthProbe = z.union(
  [
    z.object({ url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }) }).strict(),
    z.object({ alarm: z.string().min(1).max(255) }).strict(),
  ],
  { error: "must be { url: 'http(s)://…' } or { alarm: '<CloudWatch alarm name>' }" },
);

const pairSide = z
  .object({
    instance: instanceId,
    /** The value the pair's DNS record has when this side is primary (an IP address or a host name). */
    recordValue: z.string().min(1).max(4000).optional(),
    health: healthProbe.optional(),
  })
  .strict();

/**
 * A primary/standby pair of instances the `failover` runbook switches between, by moving an
 * Elastic IP and/or a Route 53 record. The roles written here are the starting roles; after a
 * failover, the pair's current primary is the one recorded in DynamoDB (`reflex pairs`).
 */
export const pairSchema = z
  .object({
    name,
    description: z.string().optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "must be an AWS region such as us-east-1")
      .optional(),
    primary: pairSide,
    standby: pairSide,
    elasticIp: z
      .object({
        allocationId: z.string().regex(/^eipalloc-[0-9a-f]{8,17}$/, "must be an allocation id (eipalloc-…)"),
      })
      .strict()
      .optional(),
    record: z
      .object({
        hostedZoneId: z.string().regex(/^(\/hostedzone\/)?Z[A-Z0-9]{1,31}$/, "must be a hosted zone id (Z…)"),
        /** The zone's domain name, e.g. `example.com`: the record must be in it. */
        zone: z.string().min(1).max(255),
        name: z.string().min(1).max(255),
        type: z.enum(["A", "AAAA", "CNAME"]).default("A"),
        ttl: z.number().int().min(0).max(172_800).default(60),
      })
      .strict()
      .optional(),
    /** The standby is ready only while this metric is within bounds (e.g. replication lag). */
    readiness: z
      .object({
        namespace: z.string().min(1),
        metricName: z.string().min(1),
        /** Dimensions; `$instance` stands for the standby's instance id. */
        dimensions: z.record(z.string(), z.string()).default({}),
        statistic: z.enum(["Average", "Maximum", "Minimum", "Sum", "SampleCount"]).default("Maximum"),
        /** The latest datapoint must be below (or at most / above / at least) this. */
        comparison: z.enum(["<", "<=", ">", ">="]),
        threshold: z.number(),
        /** How far back to look for a datapoint; no datapoint in it means not ready. */
        within: duration.prefault("5m"),
      })
      .strict()
      .optional(),
    /** How long the switch may take to verify (association/record in place, standby healthy). */
    verifyTimeout: duration.prefault("2m"),
  })
  .strict();

/**
 * What one member account changes (config `accounts[].overrides`): only ever stricter than the
 * hub's config — a lower cap, a pause, extra freezes, access narrowed to fewer people or actions.
 * `reflex config check` refuses a value that would loosen the hub's (policy/overrides.ts).
 */
export const accountOverridesSchema = z
  .object({
    guardrails: z
      .object({
        /** Pauses automatic runs in this account (people may override, as with the hub's pause). */
        paused: z.boolean().optional(),
        /** At most the hub's `guardrails.maxTargetsPerRun`. */
        maxTargetsPerRun: z.number().int().min(1).max(10_000).optional(),
        /** At most the hub's `rateLimit.runs`, counted in the hub's window (every location's runs count). */
        rateLimit: z
          .object({ runs: z.number().int().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** Freezes in this account besides the hub's. */
    freezes: z.array(freezeSchema).optional(),
    /**
     * Who may do what in this account, on top of the hub's `access.allow`: a person needs both.
     * Roles are the hub's `access.roles`.
     */
    access: z
      .object({
        allow: z.array(
          z
            .object({
              role: z.string(),
              runbooks: z.array(z.string()).min(1),
              actions: z.array(z.enum(ACTIONS)).min(1).default(["run", "dry-run"]),
              environments: z.array(z.string().min(1)).optional(),
            })
            .strict(),
        ),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A member account as the config takes it: `accountSchema` with its overrides' full shape. */
export const memberAccountSchema = accountSchema.extend({ overrides: accountOverridesSchema.optional() });

export const configSchema = z
  .object({
    environment: z.string().min(1).default("dev"),
    /** The tag that marks what Reflex may change; IAM conditions use it too. */
    automationTag: z
      .object({ key: z.string().min(1), value: z.string().min(1) })
      .strict()
      .default({ key: "reflex:managed", value: "true" }),
    rules: z.array(ruleSchema).default([]),
    schedules: z.array(scheduleSchema).default([]),
    windows: z.array(windowSchema).default([]),
    freezes: z.array(freezeSchema).default([]),
    /**
     * The team's own runbooks (`defineRunbook` from `@reflex/sdk`, imported from its own files or
     * an npm package); checked and registered at load. Validated, it is their names.
     */
    runbooks: z
      .array(z.unknown())
      .default([])
      .transform((list) =>
        list.map((r) => (typeof r === "string" ? r : String((r as { name?: unknown })?.name ?? ""))),
      ),
    /** Primary/standby pairs the `failover` runbook switches (see docs/runbooks/failover.md). */
    pairs: z.array(pairSchema).default([]),
    /**
     * Member accounts a run may act in, each with its Regions and the role the hub assumes there
     * (default `ReflexExecutionRole`); see docs/accounts.md. Empty: Reflex acts in its own account.
     */
    accounts: z.array(memberAccountSchema).default([]),
    /**
     * Member accounts by OU, resolved through AWS Organizations (only ACTIVE accounts, less
     * `exclude`) and merged with `accounts`; see docs/accounts.md.
     */
    organization: organizationSchema.optional(),
    guardrails: z
      .object({
        /** The global pause switch: no automatic run starts while true. */
        paused: z.boolean().default(false),
        maxTargetsPerRun: z.number().int().min(1).max(10_000).default(50),
        breaker: z
          .object({ failures: z.number().int().min(1).default(3), within: duration.prefault("30m") })
          .strict()
          .prefault({}),
        rateLimit: z
          .object({ runs: z.number().int().min(1).default(20), per: duration.prefault("1h") })
          .strict()
          .prefault({}),
        /** How long a target lock is held before it can be reclaimed from a dead holder. */
        lockLease: duration.prefault("2h"),
      })
      .strict()
      .prefault({}),
    /** The deployed HTTP API. */
    api: z
      .object({
        /**
         * Event sources `POST /events` accepts from IAM callers. Default: every source except
         * AWS's own (`aws.*`), which only EventBridge may deliver: a caller able to invoke the
         * API must not be able to forge a CloudWatch alarm. Local mode accepts every source.
         */
        eventSources: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .prefault({}),
    /**
     * The web console's sign-in: any OIDC issuer (a Cognito user pool, Okta, Entra ID, Google…).
     * Deployed, the console's API routes sit behind API Gateway's JWT authorizer (issuer, audience,
     * expiry); locally `reflex start --sso` runs an OIDC provider on loopback and checks the same.
     * The person is the token's `sub` through `people` (`oidc:` entries). See docs/console.md.
     */
    console: z
      .object({
        oidc: z
          .object({
            /** The issuer URL exactly as tokens carry it in `iss` (https, or http on loopback). */
            issuer: z
              .string()
              .url()
              .refine(
                (u) => /^https:\/\//.test(u) || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(u),
                "must be an https URL (http only on a loopback address)",
              ),
            /** The console's client id at the IdP (a public client: no secret, PKCE). */
            clientId: z.string().min(1).max(255),
            /**
             * What `aud` (or `client_id`) the API requires; default the client id (the ID token's
             * audience). With an audience the console sends the access token, which must be a JWT.
             */
            audience: z.string().min(1).max(255).optional(),
            /**
             * Other origins the console's page must reach for sign-in, when the IdP's token
             * endpoint is not on the issuer's origin (a Cognito user pool: its domain,
             * `https://<prefix>.auth.<region>.amazoncognito.com`). They go into the CSP's connect-src.
             */
            connectSources: z.array(z.string().url().startsWith("https://")).default([]),
            /** Scopes asked for at sign-in; `openid` is always among them. */
            scopes: z
              .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, "not a scope"))
              .default(["openid", "profile", "email"]),
          })
          .strict()
          .optional(),
        /**
         * `reflex start --sso` only: the users its loopback IdP knows (`sub`, shown `name`).
         * Default: every `oidc:` subject of `people`.
         */
        localUsers: z
          .array(
            z
              .object({
                sub: z.string().min(1).max(255),
                name: z.string().min(1).max(255).optional(),
                email: z.string().email().optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .prefault({}),
    /**
     * People: one person's identities across channels, so that self-approval, `minApprovers`
     * and the audit count and name people, not strings. `iam`: IAM user ARNs, role ARNs (every
     * session of such a role is this one person), `sso:<Identity Center user name>`, or the
     * session ARNs of a role listed in `access.namedSessions`; `slack`: the Slack user id;
     * `oidc`: the OIDC subjects (`sub`) of the console's sign-in. See docs/guardrails.md.
     */
    people: z
      .array(
        z
          .object({
            name,
            iam: z.array(z.string().min(1).max(2048)).default([]),
            slack: z
              .string()
              .regex(/^[UW][A-Z0-9]{2,}$/, "must be a Slack user id (U…)")
              .optional(),
            oidc: z.array(z.string().min(1).max(255)).default([]),
          })
          .strict(),
      )
      .default([]),
    access: z
      .object({
        /**
         * Role → who holds it: IAM principal ARNs or patterns (`arn:aws:iam::111122223333:role/OnCall*`
         * matches every session of those roles; `arn:aws:iam::…:user/…`), Identity Center users
         * (`sso:alice`), local user names (`cli:alice` or `alice`), Slack user ids (`U123` or
         * `slack:U123`), Slack user groups (`group:S0123`), people (`person:alice`).
         */
        roles: z.record(z.string(), z.array(z.string().min(1))).default({}),
        /**
         * Roles (`arn:aws:iam::<account>:role/<name>`) whose trust policy forces the session
         * name (`sts:RoleSessionName` = `${aws:username}`, `sts:SourceIdentity` likewise): only
         * for these is a session (`…:assumed-role/<name>/<session>`) a person of its own.
         * Every other role's sessions are one person, the role.
         */
        namedSessions: z
          .array(
            z
              .string()
              .regex(
                /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/,
                "must be a role ARN (arn:aws:iam::<account>:role/<name>)",
              ),
          )
          .default([]),
        allow: z
          .array(
            z
              .object({
                role: z.string(),
                /** Runbook names, or `*`. */
                runbooks: z.array(z.string()).min(1),
                /** What the role may do with them; default run and dry-run. */
                actions: z.array(z.enum(ACTIONS)).min(1).default(["run", "dry-run"]),
                /** Environments (config `environment`) where this applies; default all. */
                environments: z.array(z.string().min(1)).optional(),
              })
              .strict(),
          )
          .default([]),
        /** May the person who asked for a run also approve it? Default no. */
        selfApproval: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    approvals: z
      .object({
        /**
         * Which runs wait for a person, first match wins, before the defaults: `high` risk
         * always, `medium` in an environment named prod/production; a freeze override always.
         */
        policies: z
          .array(
            z
              .object({
                runbooks: z.array(z.string()).optional(),
                risks: z.array(z.enum(["low", "medium", "high"])).optional(),
                environments: z.array(z.string().min(1)).optional(),
                require: z.boolean(),
              })
              .strict(),
          )
          .default([]),
        /** Roles that may approve; default every role allowed the `approve` action on the runbook. */
        approvers: z.array(z.string()).optional(),
        minApprovers: z.number().int().min(1).max(5).default(1),
        /**
         * How long a request waits before its deadline; at most 12h. The wait is part of the
         * run's state machine timeout (`reflex config check` proves it fits).
         */
        deadline: duration
          .prefault("30m")
          .refine((ms) => ms <= MAX_APPROVAL_DEADLINE_MS, { message: "must be at most 12h" }),
        /** What the deadline does: reject (nothing was changed yet, so nothing rolls back). */
        onTimeout: z.enum(["reject"]).default("reject"),
      })
      .strict()
      .prefault({}),
    /**
     * Who is paged when an alarm fires (a run failed, timed out, was aborted or lost; a
     * dead-letter queue holds something; the reconciler stopped): subscriptions to the alarm
     * topic. `https` also takes any SNS-compatible chat endpoint (one that confirms the SNS
     * subscription). Deployed only: each endpoint must confirm its subscription.
     */
    alerts: z
      .object({
        email: z.array(z.email({ message: "must be an email address" })).default([]),
        https: z.array(z.url({ protocol: /^https$/, message: "must be an https:// URL" })).default([]),
      })
      .strict()
      .prefault({}),
    /**
     * ChatOps notifications: the Slack channel (id or name) lifecycle events go to, threaded per
     * run. The most specific wins: the runbook's, then the environment's, then `channel`.
     * Without any, nothing is posted.
     */
    chatops: z
      .object({
        channel: z.string().min(1).optional(),
        runbooks: z.record(z.string(), z.string().min(1)).default({}),
        environments: z.record(z.string(), z.string().min(1)).default({}),
      })
      .strict()
      .prefault({}),
    /** The tamper-evident audit trail: sealed digests and their locked export (docs/security.md). */
    audit: z
      .object({
        /**
         * Minutes per sealed period (a divisor of a day): each period's entries are sealed in a
         * signed digest after it ends. An edit made before its period is sealed is not detected.
         */
        sealMinutes: z
          .number()
          .int()
          .min(1)
          .max(1440)
          .refine((m) => 1440 % m === 0, { message: "must divide a day (e.g. 5, 15, 60, 1440)" })
          .default(60),
        /** Days each exported period is kept under Object Lock (no one can delete it sooner). */
        retainDays: z.number().int().min(1).max(36_500).default(400),
        /** Object Lock mode of the export: COMPLIANCE (no one, root included, may delete early) or GOVERNANCE. */
        lockMode: z.enum(["COMPLIANCE", "GOVERNANCE"]).default("COMPLIANCE"),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The config as written (durations as text, defaults optional). */
/**
 * The config as written. Keys beyond Reflex's own are allowed by the type because runbooks add
 * keys of their own (their manifests' `config`); at load, a key no runbook declares is refused.
 */
export type ConfigInput = z.input<typeof configSchema> & { [runbookKey: string]: unknown };
/** The config after validation (durations in ms, defaults filled). */
export type Config = z.output<typeof configSchema> & {
  /** Config keys the runbooks add (their manifests' `config`), validated by their schemas. */
  runbookConfig?: Record<string, unknown>;
  /**
   * Set only on the config admission judges a member account's run by (policy/overrides.ts):
   * that account's `overrides.access.allow`, which a person must satisfy too.
   */
  locationAccess?: { account: string; allow: NonNullable<AccountOverrides["access"]>["allow"] };
};
/** One pair after validation. */
export type Pair = z.output<typeof pairSchema>;
/** One member account's overrides after validation. */
export type AccountOverrides = z.output<typeof accountOverridesSchema>;
