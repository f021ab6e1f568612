/**
 * The local Step Functions engine: each runbook's ASL, run by aws-local-stepfunctions, with
 * every Task state mapped to the same step handler the Lambdas run. It answers the Step
 * Functions API (StartExecution, DescribeExecution, StopExecution, ListExecutions,
 * GetExecutionHistory) over HTTP, so core talks to it with the real `@aws-sdk/client-sfn`.
 *
 * Like AWS (Standard workflows), StartExecution is idempotent by name: the same name and
 * input returns the running execution; the same name with other input is
 * ExecutionAlreadyExists.
 */
import { randomUUID } from "node:crypto";
import { APPROVAL_RESOURCE, type AslDefinition, type Runbooks, substitute } from "@reflex/core";
import { StateMachine } from "aws-local-stepfunctions";
import { DistributedMaps } from "./distributed-map.ts";
import { awsHistoryEvents } from "./history.ts";
import { TaskTokens } from "./task-tokens.ts";

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
  /** How long each Wait state really waits locally (ms); AWS waits the ASL's seconds. */
  waitMs?: number;
  /** How long a Retry waits locally (ms). */
  retryMs?: number;
  /** Called when an execution ends, with the event AWS would publish. */
  onStatusChange?: (event: StatusChangeEvent) => Promise<void> | void;
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
  machine: StateMachine;
  waits: Record<string, number>;
  retries: Record<string, number>;
  tasks: Record<string, TaskHandler>;
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

export class LocalStepFunctions {
  private readonly machines = new Map<string, Machine>();
  private readonly executions = new Map<string, LocalExecution>();
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
   * is answered. The Task's own TimeoutSecondsPath (enforced by the engine) is its deadline.
   */
  private waitForTaskToken(stateName: string): TaskHandler {
    return async (effective) => {
      const payload = (effective as { Payload?: Record<string, any> }).Payload ?? {};
      const deadlineSeconds = Number(payload.input?.approval?.deadlineSeconds ?? 60);
      const { token, answer } = this.tokens.issue(
        String(payload.input?.execution?.id ?? ""),
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

  /** Registers a runbook's state machine as `<prefix><runbook>`. */
  registerRunbook(runbook: Runbooks.Runbook, prefix: string): Machine {
    const definition = substitute(runbook.stateMachine, { StepHandlerArn: this.stepHandlerArn });
    return this.register(`${prefix}${runbook.name}`, definition);
  }

  register(name: string, original: AslDefinition): Machine {
    const definition = this.distributed.emulate(name, original);
    const waits: Record<string, number> = {};
    const retries: Record<string, number> = {};
    const tasks: Record<string, TaskHandler> = {};
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
    const machine = new StateMachine(definition as never, {
      validationOptions: { checkPaths: true, checkArn: true },
    });
    const m: Machine = { arn: this.stateMachineArn(name), name, definition, machine, waits, retries, tasks };
    this.machines.set(m.arn, m);
    return m;
  }

  definition(stateMachineArn: string): AslDefinition | undefined {
    return this.machines.get(stateMachineArn)?.definition;
  }

  startExecution(req: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: number;
  } {
    const m = this.machines.get(req.stateMachineArn);
    if (!m)
      throw new AwsError(
        "StateMachineDoesNotExist",
        `State Machine Does Not Exist: '${req.stateMachineArn}'`,
      );
    const name = req.name ?? randomUUID();
    const executionArn = `arn:aws:states:${this.options.region}:${this.options.account}:execution:${m.name}:${name}`;
    const input = req.input ?? "{}";
    const existing = this.executions.get(executionArn);
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
    const machine = new StateMachine({ ...m.definition, StartAt: req.fromState } as never, {
      validationOptions: { checkPaths: true, checkArn: true },
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
        taskResourceLocalHandlers: m.tasks as never,
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
      },
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
      await this.notify(execution);
    })();
  }

  private async notify(e: LocalExecution): Promise<void> {
    // A Distributed Map's child executions are the parent's business, not Reflex's runs.
    if (!this.options.onStatusChange || this.distributed.childMachines.has(e.stateMachineArn)) return;
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
    } catch (err) {
      // EventBridge would retry; locally we report it loudly instead of losing it.
      console.error(`reflex: closing execution ${e.name} failed:`, err);
    }
  }

  describeExecution(executionArn: string): LocalExecution {
    const e = this.executions.get(executionArn);
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

  /** History events of an execution as Step Functions would count them (limit: 25,000). */
  historyEvents(executionArn: string): number {
    const e = this.describeExecution(executionArn);
    return awsHistoryEvents(e.history, {
      distributedMaps: this.distributed.mapStates,
      wrapperStates: this.distributed.wrapperStates,
    });
  }

  list(stateMachineArn?: string): LocalExecution[] {
    return [...this.executions.values()].filter(
      (e) => !stateMachineArn || e.stateMachineArn === stateMachineArn,
    );
  }

  /** Resolves when every execution started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.done));
  }

  /** Aborts everything still running. */
  async close(): Promise<void> {
    for (const e of this.executions.values())
      if (e.status === "RUNNING") this.stopExecution(e.executionArn, "Shutdown", "local mode stopped");
    await this.idle();
  }
}
