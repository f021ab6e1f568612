/**
 * ASL builders for steps that need no Lambda, and the one poll loop every runbook uses:
 *
 * - `aws("ssm:sendCommand", params)`: a Task on Step Functions' AWS SDK integration
 *   (`arn:aws:states:::aws-sdk:ssm:sendCommand`). The runbook's permissions must declare the
 *   action (`ssm:SendCommand`): `defineRunbook` refuses it otherwise, and the stacks grant it to
 *   the state machine's role. Locally the engine makes the same call through the same SDK client
 *   (the simulated cloud answers).
 * - `waitFor(...)`: calls an API until a field of its answer has the value wanted, or fails
 *   `WaitTimedOut` after `timeout`.
 * - `pollLoop(...)`: Wait → a Task → a Choice on "done", back to the Wait until it is — the loop
 *   of every step that waits on the cloud (snapshots completing, capacity reached).
 */
import type { AslState, ChoiceRule } from "./asl.ts";

/** The Resource of an AWS SDK integration Task: `arn:aws:states:::aws-sdk:<service>:<apiAction>`. */
export function sdkResource(action: string): string {
  const m = /^([a-z0-9-]+):([A-Za-z][A-Za-z0-9]*)$/.exec(action);
  if (!m) throw new Error(`'${action}' is not service:action (e.g. ssm:sendCommand)`);
  return `arn:aws:states:::aws-sdk:${m[1]}:${m[2][0].toLowerCase()}${m[2].slice(1)}`;
}

/** `Ssm` for `ssm`: how Step Functions prefixes the errors of an AWS SDK integration. */
function errorPrefix(service: string): string {
  return service
    .split("-")
    .map((p) => p[0].toUpperCase() + p.slice(1))
    .join("");
}

/** Throttling and 5xx codes, as an AWS SDK integration names them (`Ssm.ThrottlingException`). */
export function sdkTransientErrors(service: string): string[] {
  const p = errorPrefix(service);
  return [
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
  ].map((c) => `${p}.${c}`);
}

/**
 * A Task that calls one AWS API with no Lambda. `params` are the API's input (PascalCase, as in
 * the API reference; `"Key.$": "$.path"` takes a value from the state's input). Transient errors
 * are retried with backoff; permanent ones fail the Task (Catch them as `States.TaskFailed`).
 *
 * @example
 * Reboot: aws("ec2:rebootInstances", { "InstanceIds.$": "States.Array($.target.instanceId)" }, { Next: "Check" })
 */
export function aws(action: string, params: Record<string, unknown>, rest: Partial<AslState> = {}): AslState {
  const service = action.split(":")[0];
  return {
    Type: "Task",
    Resource: sdkResource(action),
    Parameters: params,
    TimeoutSeconds: 60,
    Retry: [
      {
        ErrorEquals: sdkTransientErrors(service),
        IntervalSeconds: 2,
        MaxAttempts: 8,
        BackoffRate: 2,
        MaxDelaySeconds: 30,
        JitterStrategy: "FULL",
      },
    ],
    ...rest,
  };
}

export interface PollLoopOptions {
  /** The Wait state's name. */
  wait: string;
  /** The Task's name (it runs after the Wait). */
  check: string;
  /** The Choice's name: it leaves the loop, or goes back to the Wait. */
  done: string;
  /** The Task that checks (a `stepTask` or an `aws`), with its own Retry and Catch; its `ResultPath` holds what `done` reads. */
  task: AslState;
  /** Where the Task's answer says it is done: a boolean (`$.progress.done`); `true` goes to `next`. */
  donePath?: string;
  /** Where to go when `donePath` is true. */
  next?: string;
  /**
   * Instead of `donePath` and `next`: the Choice's rules that leave the loop, in order, each
   * with its own `Next` (done, failed for good, out of rounds). No rule matches: back to the Wait.
   */
  until?: ChoiceRule[];
  /** Seconds between checks. */
  seconds?: number;
  /** Instead of `seconds`: where the run's input holds them (`$.params.pollSeconds`). */
  secondsPath?: string;
  /**
   * The state the Wait goes to, when something runs between the wait and the check (`waitFor`
   * counts its rounds there); the caller adds those states, and they must end at `check`.
   */
  afterWait?: string;
}

/**
 * The one poll loop: Wait → check → done? → out, else back to the Wait. The loop is entered
 * wherever the state before it points: at the Wait (wait first), at the check (check first),
 * or at the Choice (the step that started the work already answered with what `done` reads).
 * The check's own Retry and Catch stay on it. `waitFor` is built on it.
 *
 * @example
 * ...pollLoop({ wait: "WaitForSnapshots", check: "CheckSnapshots", done: "SnapshotsDone", seconds: 30,
 *   task: stepTask(R, "checkSnapshots", { ResultPath: "$.progress", Retry: RETRY_STEP }), donePath: "$.progress.done", next: "Copy" })
 */
export function pollLoop(o: PollLoopOptions): Record<string, AslState> {
  if ((o.seconds === undefined) === (o.secondsPath === undefined)) {
    throw new Error(`pollLoop '${o.wait}': give seconds or secondsPath, one of them`);
  }
  if ((o.until === undefined) === (o.donePath === undefined || o.next === undefined)) {
    throw new Error(`pollLoop '${o.done}': give donePath and next, or until`);
  }
  const until = o.until ?? [{ Variable: o.donePath, BooleanEquals: true, Next: o.next as string }];
  return {
    [o.wait]: {
      Type: "Wait",
      ...(o.secondsPath === undefined ? { Seconds: o.seconds } : { SecondsPath: o.secondsPath }),
      Next: o.afterWait ?? o.check,
    },
    [o.check]: { ...o.task, Next: o.done },
    [o.done]: { Type: "Choice", Choices: until, Default: o.wait },
  };
}

export interface WaitForOptions {
  /** The states' name; they are `<name>`, `<name>Check`, `<name>Wait`, `<name>Count`, `<name>TimedOut`. */
  name: string;
  /** The API's input. */
  params: Record<string, unknown>;
  /** How long to wait at most, in seconds. */
  timeout: number;
  /** Seconds between calls (default 10). */
  interval?: number;
  /** Where to go once the value is there. */
  next: string;
  /** Where a failed call goes (`Catch`), e.g. the rollback. */
  catch?: AslState["Catch"];
  /** Values of the field that mean it never will be (`Failed`): the wait fails `WaitFailed` at once. */
  failOn?: Array<string | number | boolean>;
}

/**
 * Calls `api` until the field at `path` of its answer (`$.Status`) equals `expected`, at most
 * `timeout` seconds, then goes to `next`; fails with `WaitTimedOut` when it never does. Keeps
 * its state under `$.waits.<name>` in the run's input.
 *
 * @example
 * ...waitFor("ssm:getCommandInvocation", "$.Status", "Success", { name: "AwaitRestart", timeout: 300,
 *   params: { "CommandId.$": "$.command.Command.CommandId", "InstanceId.$": "$.target" }, next: "Health" })
 */
export function waitFor(
  api: string,
  path: string,
  expected: string | number | boolean,
  o: WaitForOptions,
): Record<string, AslState> {
  if (!path.startsWith("$")) throw new Error(`waitFor path '${path}' must start with $`);
  const interval = o.interval ?? 10;
  // With a Catch, a wait that fails goes where a failed call goes (the rollback), with the
  // error where the Catch puts it; without one, it fails the run (or the Map iteration).
  const caught = o.catch?.find((c) => c.ErrorEquals.includes("States.ALL"));
  const fail = (error: string, cause: string): AslState =>
    caught
      ? {
          Type: "Pass",
          Result: { Error: error, Cause: cause },
          ResultPath: caught.ResultPath ?? "$",
          Next: caught.Next,
        }
      : { Type: "Fail", Error: error, Cause: cause };
  const rounds = Math.max(1, Math.ceil(o.timeout / interval));
  const at = `$.waits.${o.name}`;
  const test = (v: string | number | boolean) =>
    typeof v === "string"
      ? { StringEquals: v }
      : typeof v === "number"
        ? { NumericEquals: v }
        : { BooleanEquals: v };
  const states = pollLoop({
    check: o.name,
    done: `${o.name}Check`,
    wait: `${o.name}Wait`,
    afterWait: `${o.name}Count`,
    seconds: interval,
    task: aws(api, o.params, {
      ResultSelector: { "value.$": path },
      ResultPath: `${at}.answer`,
      ...(o.catch ? { Catch: o.catch } : {}),
    }),
    until: [
      { Variable: `${at}.answer.value`, ...test(expected), Next: o.next },
      ...(o.failOn ?? []).map((v) => ({
        Variable: `${at}.answer.value`,
        ...test(v),
        Next: `${o.name}Failed`,
      })),
      {
        And: [
          { Variable: `${at}.rounds`, IsPresent: true },
          { Variable: `${at}.rounds`, NumericGreaterThanEquals: rounds },
        ],
        Next: `${o.name}TimedOut`,
      },
    ],
  });
  return {
    ...states,
    // Between the wait and the next call: count the round (the first sets it to 1).
    [`${o.name}Count`]: {
      Type: "Choice",
      Choices: [{ Variable: `${at}.rounds`, IsPresent: true, Next: `${o.name}Next` }],
      Default: `${o.name}First`,
    },
    [`${o.name}First`]: { Type: "Pass", Result: 1, ResultPath: `${at}.rounds`, Next: o.name },
    [`${o.name}Next`]: {
      Type: "Pass",
      Parameters: { "rounds.$": `States.MathAdd(${at}.rounds, 1)` },
      ResultPath: at,
      Next: o.name,
    },
    ...(o.failOn?.length
      ? {
          [`${o.name}Failed`]: fail(
            "WaitFailed",
            `${api} answered ${path} with a value that means it never will be ${JSON.stringify(expected)} (one of ${JSON.stringify(o.failOn)})`,
          ),
        }
      : {}),
    [`${o.name}TimedOut`]: fail(
      "WaitTimedOut",
      `${api} did not answer ${path} = ${JSON.stringify(expected)} within ${o.timeout} s`,
    ),
  };
}
