/**
 * Distributed Map for the local engine. aws-local-stepfunctions runs every Map inline (one
 * history, no child executions); AWS runs a `ProcessorConfig.Mode: DISTRIBUTED` Map as a Map
 * Run of child workflow executions, each with its own history. Locally the same ASL is run
 * the AWS way: the ItemProcessor is registered as a state machine of its own
 * (`<machine>/<state>`), and the Map's iterations become one Task each that starts a child
 * execution of it and waits for it (like `states:startExecution.sync`). The library's Map
 * keeps doing what it does well: ItemsPath, ItemSelector, MaxConcurrency(Path), ordering.
 *
 * ToleratedFailureCount / ToleratedFailurePercentage: a failed child does not fail the Map
 * until more children failed than tolerated, then the Map fails with
 * `States.ExceedToleratedFailureThreshold`, as in AWS (default: no failure tolerated).
 *
 * Not emulated: ItemReader (items come from ItemsPath), ResultWriter, ItemBatcher, EXPRESS
 * children (they run as STANDARD locally).
 */
import type { AslDefinition, AslState } from "@reflex/core";

/** The Resource of the Task that stands for one child execution (local only). */
export const CHILD_EXECUTION_RESOURCE = "arn:aws:states:::states:startExecution.sync:2";

export interface ChildRunner {
  /** Registers the child state machine; returns its ARN. */
  register(name: string, definition: AslDefinition): string;
  /** Runs one child execution to its end. */
  run(req: { stateMachineArn: string; name: string; input: unknown }): Promise<{
    status: string;
    output?: string;
    error?: string;
    cause?: string;
  }>;
}

export class ToleratedFailureExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = "States.ExceedToleratedFailureThreshold";
  }
}

interface MapRun {
  failures: number;
}

export class DistributedMaps {
  /** Task handlers of the child-execution Tasks, by state name. */
  readonly handlers = new Map<string, (payload: unknown) => Promise<unknown>>();
  /** Names of the child-execution Tasks (their events are not the parent's in AWS). */
  readonly wrapperStates = new Set<string>();
  /** Names of the Distributed Map states. */
  readonly mapStates = new Set<string>();
  readonly childMachines = new Set<string>();
  readonly #runs = new Map<string, MapRun>();

  constructor(private readonly runner: ChildRunner) {}

  /** The definition with each Distributed Map's processor replaced by a child-execution Task. */
  emulate(machineName: string, def: AslDefinition): AslDefinition {
    const States: Record<string, AslState> = {};
    for (const [name, state] of Object.entries(def.States)) {
      const processor = state.ItemProcessor;
      if (state.Type !== "Map" || processor?.ProcessorConfig?.Mode !== "DISTRIBUTED") {
        States[name] = state;
        continue;
      }
      const { ProcessorConfig: _mode, ...childDef } = processor;
      const childArn = this.runner.register(`${machineName}-${name}`, childDef as AslDefinition);
      this.childMachines.add(childArn);
      const wrapper = `${name}ChildExecution`;
      this.wrapperStates.add(wrapper);
      this.mapStates.add(name);
      this.handlers.set(wrapper, (payload) => this.#runChild(name, childArn, state, payload));
      const itemsPath = state.ItemsPath ?? "$";
      const {
        ToleratedFailureCount: _c,
        ToleratedFailurePercentage: _p,
        ItemProcessor: _i,
        ItemSelector,
        ...rest
      } = state;
      States[name] = {
        ...rest,
        // The child's input as AWS builds it, plus what the local Task needs to name the child
        // and to apply the tolerated failures of this Map Run.
        ItemSelector: {
          ...(ItemSelector ? { input: ItemSelector } : { "input.$": "$$.Map.Item.Value" }),
          "index.$": "$$.Map.Item.Index",
          "total.$": `States.ArrayLength(${itemsPath})`,
          "parent.$": "$$.Execution.Name",
        },
        ItemProcessor: {
          StartAt: wrapper,
          States: { [wrapper]: { Type: "Task", Resource: CHILD_EXECUTION_RESOURCE, End: true } },
        },
      };
    }
    return { ...def, States };
  }

  async #runChild(mapState: string, childArn: string, state: AslState, payload: unknown): Promise<unknown> {
    const p = payload as { input: unknown; index: number; total: number; parent: string };
    const runKey = `${p.parent}/${mapState}`;
    const run = this.#runs.get(runKey) ?? { failures: 0 };
    this.#runs.set(runKey, run);
    const result = await this.runner.run({
      stateMachineArn: childArn,
      name: `${p.parent}-${mapState}-${p.index}`.slice(0, 80),
      input: p.input,
    });
    if (result.status === "SUCCEEDED") return JSON.parse(result.output ?? "null");
    run.failures++;
    // Both given: the Map Run fails when either is exceeded. Neither: no failure is tolerated.
    const limits = [
      state.ToleratedFailureCount,
      state.ToleratedFailurePercentage === undefined
        ? undefined
        : Math.floor((p.total * state.ToleratedFailurePercentage) / 100),
    ].filter((x): x is number => x !== undefined);
    const tolerated = limits.length ? Math.min(...limits) : 0;
    if (run.failures > tolerated)
      throw new ToleratedFailureExceeded(
        `${run.failures} child execution(s) of ${mapState} failed, more than the ${tolerated} tolerated; last: ${result.error}: ${result.cause}`,
      );
    return { Error: result.error, Cause: result.cause };
  }
}
