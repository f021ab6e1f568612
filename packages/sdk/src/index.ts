/**
 * @reflex/sdk: write Reflex runbooks in your own repository. Everything a runbook author uses,
 * and nothing else:
 *
 * - `defineRunbook`: one manifest per runbook (params, risk, cap, permissions, state machine,
 *   rollback, dry-run, lazily loaded steps, result). List it in `reflex.config.ts`
 *   (`runbooks: [myRunbook]`); Reflex checks it when it loads the config and refuses it, with
 *   the field and why, when it is not sound.
 * - the ASL builders: `stepTask` and `stepBuilders` (a step of yours), `aws` (one AWS API call,
 *   no Lambda), `waitFor` and `pollLoop` (wait on the cloud), `approvalStates`, `catchAll`,
 *   `failWith`, `dryRunChoice`, and the retriers.
 * - `client`: the AWS client factory your steps use, so local mode and tests answer them.
 * - the one result shape (`RunResult`) and `StepExecutionError`.
 *
 * The test kit is `@reflex/sdk/testing` (`simulate`), apart, so a runbook's manifest never
 * loads it. See docs/runbooks/writing.md.
 */
import { Aws, Runbooks } from "@reflex/core";
import type { z } from "zod";

export type {
  AslCatcher,
  AslDefinition,
  AslRetrier,
  AslState,
  ChoiceRule,
  PollLoopOptions,
  WaitForOptions,
} from "@reflex/core";
export {
  approvalStates,
  aws,
  catchAll,
  /** A schedule expression for a config key of yours (a drill's `cron`), checked as the config's schedules are. */
  cronSchema,
  dryRunChoice,
  failWith,
  pollLoop,
  RETRY_LAMBDA,
  RETRY_ROLLBACK,
  RETRY_STEP,
  StepExecutionError,
  stepBuilders,
  stepTask,
  /** An IANA time zone for a config key of yours, checked as the config's schedules' are. */
  timeZoneSchema,
  waitFor,
} from "@reflex/core";
/** The AWS client factory: `client(EC2Client, "ec2", region)`. Local mode and the test kit answer its clients. */
export const client = Aws.client;

export type Permission = Runbooks.Permission;
export type StepContext = Runbooks.StepContext;
export type RunInput<P = Record<string, unknown>> = Runbooks.RunInput<P>;
export type StepMap = Runbooks.StepMap;
export type Implementation = Runbooks.Implementation;
export type Precheck = Runbooks.Precheck;
export type PrecheckContext = Runbooks.PrecheckContext;
export type PrecheckRefusal = Runbooks.PrecheckRefusal;
export type RunbookSpec<S extends z.ZodType = z.ZodType> = Runbooks.RunbookSpec<S>;
export type RunResult = Runbooks.RunResult;
export type TargetResult = Runbooks.TargetResult;
export type TargetStatus = Runbooks.TargetStatus;
export const countByStatus = Runbooks.countByStatus;
/** The three statements `CreateReplaceRootVolumeTask` needs (instance, snapshot, task), fenced by the automation tag. */
export const replaceRootPermissions = Runbooks.replaceRootPermissions;

/**
 * Declares a runbook. It is checked where it is used — when `reflex.config.ts` loads it, by
 * `reflex runbooks check`, by `simulate` — so that one run lists every problem of every runbook.
 *
 * @example
 * export const restartService = defineRunbook({ name: "restart-service", summary: "…", risk: "medium",
 *   params, example, cap: { maxTargets: 10 }, permissions, rollback: ["startOld"], dryRun: "…",
 *   stateMachine, implementation: () => import("./steps.ts").then((m) => m.implementation) });
 */
export function defineRunbook<S extends z.ZodType>(spec: RunbookSpec<S>): RunbookSpec<S> {
  return spec;
}

/** Every problem with a runbook, each with its field (`permissions[1]`), as `reflex runbooks check` reports them. */
export function checkRunbook(spec: RunbookSpec): Array<{ path: string; message: string }> {
  return Runbooks.checkSpec(spec).problems;
}
