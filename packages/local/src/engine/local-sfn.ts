/**
 * The local Step Functions engine: each runbook's ASL, run by aws-local-stepfunctions, with
 * every Task state mapped to the same step handler the Lambdas run. It answers the Step
 * Functions API (StartExecution, DescribeExecution, StopExecution, ListExecutions,
 * GetExecutionHistory) over HTTP, so core talks to it with the real `@aws-sdk/client-sfn`.
 *
 * Like AWS (Standard workflows), StartExecution is idempotent by name: the same name and
 * input returns the running execution; the same name with other input is
 * ExecutionAlreadyExists.
 *
 * Memory: once an execution has ended *and* its status event has been delivered (so the run
 * record in DynamoDB is closed), after a short grace (`keepWholeMs`, so a caller polling
 * DescribeExecution still sees the output) its input, output, history and engine state leave memory. A
 * compact summary (name, status, dates, error, cause) stays in a bounded cache of the last
 * `keepFinished` executions, so DescribeExecution and ListExecutions still answer for them
 * and a repeated StartExecution is still ExecutionAlreadyExists. An execution whose status
 * event could not be delivered is kept whole, so the reconciler (which closes a run as lost
 * when Step Functions says ExecutionDoesNotExist) finds it ended, never lost.
 */

import { randomUUID } from "node:crypto";
import { APPROVAL_RESOURCE, type AslDefinition, type Runbooks, substitute } from "@reflex/core";
import { StateMachine } from "aws-local-stepfunctions";
import { DistributedMaps } from "./distributed-map.ts";
import { type HistoryStats, historyStats } from "./history.ts";
import { callSdk, isSdkResource } from "./sdk-task.ts";
import { TaskTokens } from "./task-tokens.ts";
import { sharedValidator } from "./validate-definition.ts";

/** One entry of the local engine's execution history (its own event shape). */
export type EventLog = { type: string; timestamp: number } & Record<string, unknown>;

export type Status = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface LocalExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: Status;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: number;
  stopDate?: number;
  history: EventLog[];
  abort: () => void;
  done: Promise<void>;
}

/** The event AWS sends to EventBridge when an execution changes status. */
export interface StatusChangeEvent {
  version: "0";
  id: string;
  "detail-type": "Step Functions Execution Status Change";
  source: "aws.states";
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    status: Status;
    startDate: number;
    stopDate: number | null;
    input: string;
    output: string | null;
    error: string | null;
    cause: string | null;
  };
}

export type TaskHandler = (payload: unknown) => Promise<unknown>;

export interface EngineOptions {
  region: string;
  account: string;
  /** The step worker (the Lambda handler's code). */
  stepHandler: TaskHandler;
  /**
   * An AWS SDK integration Task (`arn:aws:states:::aws-sdk:…`) of an execution: `callSdk` by
   * default; local mode attributes the call to the execution in the simulated cloud's log.
   */
  sdkHandler?: (resource: string, input: unknown, executionName: string) => Promise<unknown>;
  /** Other Lambda functions a state machine's Tasks may call, by ARN (the fan-out's). */
  handlers?: Record<string, TaskHandler>;
  /** How long each Wait state really waits locally (ms); AWS waits the ASL's seconds. */
  waitMs?: number;
  /** How long a Retry waits locally (ms). */
  retryMs?: number;
  /** Called when an execution ends, with the event AWS would publish. */
  onStatusChange?: (event: StatusChangeEvent) => Promise<void> | void;
  /** How many finished executions DescribeExecution still answers for, as compact summaries. Default 2,000. */
  keepFinished?: number;
  /** How long an ended, closed execution stays whole (output, history) before it becomes a summary. Default 10 s. */
  keepWholeMs?: number;
}

export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

interface Machine {
  arn: string;
  name: string;
  definition: AslDefinition;
  /** The definition as the local engine runs it (see localRunnable). */
  runnable: AslDefinition;
  machine: StateMachine;
  /** Whether asl-validator has passed `runnable` (see LocalStepFunctions.validate). */
  validated: boolean;
  /** The child state machines of its Distributed Maps (see distributed-map.ts), by ARN. */
  children: string[];
  waits: Record<string, number>;
  retries: Record<string, number>;
  tasks: Record<string, TaskHandler>;
  /** AWS SDK integration Tasks by state name, with their Resource. */
  sdkTasks: Record<string, string>;
}

/** A JSON value's fields, read without trusting its shape: none when it is not an object. */
function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === "object" ? (v as Record<string, unknown>) : {};
}

function collect(
  def: AslDefinition,
  visit: (name: string, state: AslDefinition["States"][string]) => void,
): void {
  for (const [name, state] of Object.entries(def.States)) {
    visit(name, state);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) collect(inner, visit);
    for (const b of state.Branches ?? []) collect(b, visit);
  }
}

/**
 * The definition with one local difference: aws-local-stepfunctions reads a Task's
 * `TimeoutSecondsPath` from the Task's *effective* input (after Parameters), where AWS reads it
 * from the state input, so an approval's `$.approval.deadlineSeconds` is not found. Approval
 * Tasks therefore get no timeout of their own here; their token enforces the same deadline and
 * fails the Task with `States.Timeout`, as AWS does (see waitForTaskToken).
 */
function localRunnable(def: AslDefinition): AslDefinition {
  const copy = JSON.parse(JSON.stringify(def)) as AslDefinition;
  collect(copy, (_name, state) => {
    if (state.Type === "Task" && state.Resource === APPROVAL_RESOURCE && state.TimeoutSecondsPath) {
      delete state.TimeoutSecondsPath;
      // Longer than any deadline, and under setTimeout's 24.8-day ceiling (past it, it fires at once).
      state.TimeoutSeconds = 20 * 86_400;
    }
  });
  return copy;
}

export class LocalStepFunctions {
  private readonly machines = new Map<string, Machine>();
  /** Executions running, or ended with their status event not yet delivered: kept whole. */
  private readonly executions = new Map<string, LocalExecution>();
  /** Ended and closed: compact summaries, oldest first (a Map keeps insertion order). */
  private readonly finished = new Map<string, LocalExecution>();
  /** `.waitForTaskToken`: tokens of Tasks waiting for SendTaskSuccess / SendTaskFailure. */
  readonly tokens = new TaskTokens();
  /** Distributed Map states run as child executions (see distributed-map.ts). */
  readonly distributed = new DistributedMaps({
    register: (name, definition) => this.register(name, definition).arn,
    run: async (req) => {
      const { executionArn } = this.startExecution({ ...req, input: JSON.stringify(req.input) });
      const child = this.describeExecution(executionArn);
      await child.done;
      return child;
    },
  });

  constructor(private readonly options: EngineOptions) {}

  /**
   * The local stand-in for `lambda:invoke.waitForTaskToken`: issues a token, invokes the step
   * worker with it in the payload (as `$$.Task.Token` would be), then waits until the token
   * is answered, or its deadline (`approval.deadlineSeconds`, enforced by the token; see
   * localRunnable) passes.
   */
  private waitForTaskToken(stateName: string): TaskHandler {
    return async (effective) => {
      const payload = record(record(effective).Payload);
      const input = record(payload.input);
      const deadlineSeconds = Number(record(input.approval).deadlineSeconds ?? 60);
      const { token, answer } = this.tokens.issue(
        String(record(input.execution).id ?? ""),
        deadlineSeconds * 1000,
      );
      await this.options.stepHandler({ ...payload, taskToken: token, state: stateName });
      return answer;
    };
  }

  /** The ARN local mode gives the step worker (substituted for `${StepHandlerArn}`). */
  get stepHandlerArn(): string {
    return `arn:aws:lambda:${this.options.region}:${this.options.account}:function:reflex-local-step`;
  }

  stateMachineArn(name: string): string {
    return `arn:aws:states:${this.options.region}:${this.options.account}:stateMachine:${name}`;
  }

  /** The AWS SDK integration Tasks of one execution, each calling through the SDK client factory. */
  private sdkHandlers(m: Machine, executionName: string): Record<string, TaskHandler> {
    const call = this.options.sdkHandler ?? ((resource: string, input: unknown) => callSdk(resource, input));
    return Object.fromEntries(
      Object.entries(m.sdkTasks).map(([state, resource]) => [
        state,
        (input: unknown) => call(resource, input, executionName),
      ]),
    );
  }

  /** Registers a runbook's state machine as `<prefix><runbook>`. */
  registerRunbook(runbook: Runbooks.Runbook, prefix: string): Machine {
    const definition = substitute(runbook.stateMachine, { StepHandlerArn: this.stepHandlerArn });
    return this.register(`${prefix}${runbook.name}`, definition);
  }

  register(name: string, original: AslDefinition): Machine {
    const childrenBefore = new Set(this.distributed.childMachines);
    const definition = this.distributed.emulate(name, original);
    const children = [...this.distributed.childMachines].filter((arn) => !childrenBefore.has(arn));
    const waits: Record<string, number> = {};
    const retries: Record<string, number> = {};
    const tasks: Record<string, TaskHandler> = {};
    const sdkTasks: Record<string, string> = {};
    collect(definition, (stateName, state) => {
      const child = this.distributed.handlers.get(stateName);
      if (child) {
        tasks[stateName] = child;
        return;
      }
      if (state.Type === "Wait") waits[stateName] = this.options.waitMs ?? 1000;
      if (state.Retry) retries[stateName] = this.options.retryMs ?? 50;
      if (state.Type === "Task" && state.Resource === APPROVAL_RESOURCE) {
        const fn = (state.Parameters as { FunctionName?: string } | undefined)?.FunctionName;
        if (fn !== this.stepHandlerArn)
          throw new AwsError(
            "InvalidDefinition",
            `state ${stateName} waits on ${fn}, which local mode does not run`,
          );
        tasks[stateName] = this.waitForTaskToken(stateName);
        return;
      }
      if (state.Type === "Task" && isSdkResource(state.Resource)) {
        sdkTasks[stateName] = state.Resource as string;
        return;
      }
      const other = state.Type === "Task" ? this.options.handlers?.[state.Resource as string] : undefined;
      if (other) {
        tasks[stateName] = other;
        return;
      }
      if (state.Type === "Task") {
        if (state.Resource !== this.stepHandlerArn) {
          throw new AwsError(
            "InvalidDefinition",
            `state ${stateName} calls ${state.Resource}, which local mode does not run`,
          );
        }
        tasks[stateName] = this.options.stepHandler;
      }
    });
    const runnable = localRunnable(definition);
    // Checked by validate(), before its first execution, rather than here.
    const machine = new StateMachine(runnable as never, { validationOptions: { noValidate: true } });
    const m: Machine = {
      arn: this.stateMachineArn(name),
      name,
      definition,
      runnable,
      machine,
      validated: false,
      children,
      waits,
      retries,
      tasks,
      sdkTasks,
    };
    this.machines.set(m.arn, m);
    return m;
  }

  /**
   * Checks a registered state machine (and its Distributed Maps' children) with asl-validator,
   * as AWS checks a definition at CreateStateMachine; InvalidDefinition when it fails. Once per
   * machine: an execution checks its machine before it starts (startExecution, resumeExecution),
   * and a caller that wants a bad definition refused as it is registered calls this then (local
   * mode does, for a team's own runbooks). Not at registration: the validator compiles its whole
   * JSON schema on every call (0.1-0.3 s each on a quiet machine, 2-4 s for the 7 definitions
   * registered at every start of local mode, most of which a session never runs).
   */
  validate(stateMachineArn: string): void {
    const m = this.machines.get(stateMachineArn);
    if (!m)
      throw new AwsError("StateMachineDoesNotExist", `State Machine Does Not Exist: '${stateMachineArn}'`);
    if (!m.validated) {
      try {
        // As the engine would check it (same validator, same options), once per distinct
        // definition across processes (validate-definition.ts); it checks a copy.
        sharedValidator().validate(m.runnable);
      } catch (e) {
        throw new AwsError("InvalidDefinition", `state machine ${m.name}: ${(e as Error).message}`);
      }
      m.validated = true;
    }
    for (const child of m.children) this.validate(child);
  }

  definition(stateMachineArn: string): AslDefinition | undefined {
    return this.machines.get(stateMachineArn)?.definition;
  }

  startExecution(req: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: number;
  } {
    // Stopping: nothing new starts (a Distributed Map's iterations still in flight would start
    // their child executions after their parent was stopped).
    if (this.closing) throw new AwsError("ServiceUnavailable", "the local engine is stopping", 503);
    const m = this.machines.get(req.stateMachineArn);
    if (!m)
      throw new AwsError(
        "StateMachineDoesNotExist",
        `State Machine Does Not Exist: '${req.stateMachineArn}'`,
      );
    this.validate(m.arn);
    const name = req.name ?? randomUUID();
    const executionArn = `arn:aws:states:${this.options.region}:${this.options.account}:execution:${m.name}:${name}`;
    const input = req.input ?? "{}";
    const existing = this.executions.get(executionArn) ?? this.finished.get(executionArn);
    if (existing) {
      if (existing.input === input && existing.status === "RUNNING") {
        return { executionArn, startDate: existing.startDate };
      }
      throw new AwsError("ExecutionAlreadyExists", `Execution Already Exists: '${executionArn}'`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      throw new AwsError("InvalidExecutionInput", "Invalid State Machine Execution Input: not JSON");
    }
    const startDate = Date.now();
    this.launch(m, m.machine, { executionArn, name, input, startDate }, parsed);
    return { executionArn, startDate };
  }

  /**
   * Resumes an execution that local mode lost in a restart while it waited in `fromState` (an
   * approval): the same ASL, entered at that state with the input it had there. Its history
   * before the restart is gone; its name, ARN, input and start date are kept, so the
   * reconciler and the API see the same run.
   */
  resumeExecution(req: {
    stateMachineArn: string;
    name: string;
    input: string;
    startDate: number;
    fromState: string;
    stateInput: unknown;
  }): void {
    const m = this.machines.get(req.stateMachineArn);
    if (!m)
      throw new AwsError(
        "StateMachineDoesNotExist",
        `State Machine Does Not Exist: '${req.stateMachineArn}'`,
      );
    if (!m.definition.States[req.fromState])
      throw new AwsError("InvalidDefinition", `state machine ${m.name} has no state ${req.fromState}`);
    const executionArn = `arn:aws:states:${this.options.region}:${this.options.account}:execution:${m.name}:${req.name}`;
    if (this.executions.get(executionArn)?.status === "RUNNING") return;
    this.validate(m.arn);
    // The same (validated) definition entered elsewhere: the states before `fromState` are
    // unreachable from it, which the validator would refuse.
    const machine = new StateMachine({ ...m.runnable, StartAt: req.fromState } as never, {
      validationOptions: { noValidate: true },
    });
    this.launch(
      m,
      machine,
      { executionArn, name: req.name, input: req.input, startDate: req.startDate },
      req.stateInput,
    );
  }

  private launch(
    m: Machine,
    machine: StateMachine,
    ids: { executionArn: string; name: string; input: string; startDate: number },
    parsed: unknown,
  ): void {
    const { executionArn, name, input, startDate } = ids;
    const run = machine.run(parsed as never, {
      overrides: {
        taskResourceLocalHandlers: { ...m.tasks, ...this.sdkHandlers(m, name) } as never,
        waitTimeOverrides: m.waits,
        retryIntervalOverrides: m.retries,
      },
      noThrowOnAbort: true,
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          Input: parsed as never,
          StartTime: new Date(startDate).toISOString(),
        },
        // `$$.Task.Token` must resolve; the waiting Task's handler replaces it with the token
        // it issues (see waitForTaskToken).
        Task: { Token: "issued-by-the-local-engine" },
      } as never,
    });
    const execution: LocalExecution = {
      executionArn,
      stateMachineArn: m.arn,
      name,
      status: "RUNNING",
      input,
      startDate,
      history: [],
      abort: run.abort,
      done: Promise.resolve(),
    };
    this.executions.set(executionArn, execution);
    execution.done = (async () => {
      const history = (async () => {
        for await (const event of run.eventLogs) execution.history.push(event as EventLog);
      })();
      try {
        const output = await run.result;
        if (execution.status === "RUNNING") {
          execution.status = "SUCCEEDED";
          execution.output = JSON.stringify(output ?? null);
        }
      } catch (err) {
        // The engine wraps what failed the run in an ExecutionError; AWS reports the inner error.
        const outer = err as Error & { cause?: unknown };
        const e = outer.name === "ExecutionError" && outer.cause instanceof Error ? outer.cause : outer;
        execution.status = e.name === "ExecutionTimeoutError" ? "TIMED_OUT" : "FAILED";
        execution.error = e.name === "ExecutionTimeoutError" ? "States.Timeout" : e.name;
        execution.cause = e.message;
      }
      execution.stopDate = Date.now();
      this.tokens.forgetExecution(name);
      await history.catch(() => undefined);
      this.keepHistoryStats(execution);
      if (await this.notify(execution)) {
        // Whole for a short while (a caller polling DescribeExecution sees the output), then a summary.
        const grace = this.options.keepWholeMs ?? 10_000;
        if (grace <= 0) this.retire(execution);
        else setTimeout(() => this.retire(execution), grace).unref();
      }
    })();
  }

  /** Replaces an ended, closed execution by its summary in the bounded cache. */
  private retire(e: LocalExecution): void {
    if (this.executions.get(e.executionArn) !== e) return;
    this.executions.delete(e.executionArn);
    const summary: LocalExecution = {
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      // Input and output are not kept: the run record (DynamoDB) has what a person needs.
      input: "{}",
      error: e.error,
      cause: e.cause,
      startDate: e.startDate,
      stopDate: e.stopDate,
      history: [],
      abort: () => undefined,
      done: Promise.resolve(),
    };
    this.finished.set(e.executionArn, summary);
    const keep = this.options.keepFinished ?? 2000;
    for (const arn of this.finished.keys()) {
      if (this.finished.size <= keep) break;
      this.finished.delete(arn);
    }
  }

  /** How many executions are held whole, and how many as summaries (tests, the soak bench). */
  retained(): { whole: number; summaries: number } {
    return { whole: this.executions.size, summaries: this.finished.size };
  }

  /** Delivers the status event; true when it was delivered (or there is no listener). */
  private async notify(e: LocalExecution): Promise<boolean> {
    // A Distributed Map's child executions are the parent's business, not Reflex's runs.
    if (!this.options.onStatusChange || this.distributed.childMachines.has(e.stateMachineArn)) return true;
    // Shutting down: the run is left RUNNING for the reconciler (or an approval's resume).
    if (this.closing) return false;
    const event: StatusChangeEvent = {
      version: "0",
      id: randomUUID(),
      "detail-type": "Step Functions Execution Status Change",
      source: "aws.states",
      account: this.options.account,
      time: new Date(e.stopDate ?? Date.now()).toISOString(),
      region: this.options.region,
      resources: [e.executionArn],
      detail: {
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: e.startDate,
        stopDate: e.stopDate ?? null,
        input: e.input,
        output: e.output ?? null,
        error: e.error ?? null,
        cause: e.cause ?? null,
      },
    };
    try {
      await this.options.onStatusChange(event);
      return true;
    } catch (err) {
      // EventBridge would retry; locally we report it loudly instead of losing it, and keep
      // the execution whole so the reconciler finds it ended.
      console.error(`reflex: closing execution ${e.name} failed:`, err);
      return false;
    }
  }

  describeExecution(executionArn: string): LocalExecution {
    const e = this.executions.get(executionArn) ?? this.finished.get(executionArn);
    if (!e) throw new AwsError("ExecutionDoesNotExist", `Execution Does Not Exist: '${executionArn}'`);
    return e;
  }

  stopExecution(executionArn: string, error?: string, cause?: string): { stopDate: number } {
    const e = this.describeExecution(executionArn);
    if (e.status === "RUNNING") {
      e.status = "ABORTED";
      e.error = error;
      e.cause = cause;
      this.tokens.forgetExecution(e.name);
      e.abort();
      for (const c of this.executions.values())
        if (
          c.status === "RUNNING" &&
          c.name.startsWith(`${e.name}-`) &&
          this.distributed.childMachines.has(c.stateMachineArn)
        )
          this.stopExecution(c.executionArn, error, cause);
    }
    return { stopDate: e.stopDate ?? Date.now() };
  }

  /** History figures of ended executions, which outlive their (retired) histories; bounded like them. */
  private readonly historyFigures = new Map<string, HistoryStats>();

  private keepHistoryStats(e: LocalExecution): void {
    this.historyFigures.set(e.executionArn, this.statsOf(e));
    const keep = Math.max(this.options.keepFinished ?? 2000, 10_000);
    for (const arn of this.historyFigures.keys()) {
      if (this.historyFigures.size <= keep) break;
      this.historyFigures.delete(arn);
    }
  }

  private statsOf(e: LocalExecution): HistoryStats {
    return historyStats(e.history, {
      distributedMaps: this.distributed.mapStates,
      wrapperStates: this.distributed.wrapperStates,
    });
  }

  /**
   * An execution's history as Step Functions would record it: events (limit 25,000 per
   * execution), state transitions and Task states. Kept for ended executions after their
   * history itself is let go.
   */
  historyStats(executionArn: string): HistoryStats {
    const e = this.describeExecution(executionArn);
    return e.status === "RUNNING"
      ? this.statsOf(e)
      : (this.historyFigures.get(executionArn) ?? this.statsOf(e));
  }

  /** History events of an execution as Step Functions would count them (limit: 25,000). */
  historyEvents(executionArn: string): number {
    return this.historyStats(executionArn).events;
  }

  list(stateMachineArn?: string): LocalExecution[] {
    return [...this.finished.values(), ...this.executions.values()].filter(
      (e) => !stateMachineArn || e.stateMachineArn === stateMachineArn,
    );
  }

  /** Resolves when every execution started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  /** Aborts everything still running. */
  /**
   * Stops the engine. What is still running is dropped without a status change: in AWS a run
   * goes on when a client goes away, so local mode does not record it as ended. At the next
   * start, a run that was waiting for a person waits again, and one that was working is closed
   * by the reconciler as lost (needing attention), as its change may be half-done.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const e of this.executions.values())
      if (e.status === "RUNNING") this.stopExecution(e.executionArn, "Shutdown", "local mode stopped");
    await this.idle();
  }

  private closing = false;
}
