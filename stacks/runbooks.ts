/**
 * Runbooks: for every runbook in core's registry, a step-worker function whose IAM is exactly
 * what the runbook declares, and a Standard state machine (approvals need task tokens) running
 * the runbook's own ASL. Registering a runbook in core is the whole of deploying it: nothing
 * here names a runbook.
 *
 * Also: the execution-status function, which closes runs when Step Functions reports that one
 * of Reflex's executions ended (an EventBridge rule on the default bus).
 */
import {
  Accounts,
  type Config,
  Locations,
  must,
  Runbooks as Registry,
  STEP_HANDLER as STEP_HANDLER_ARN,
} from "@reflex/core";
import { Duration } from "aws-cdk-lib";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { Policy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from "aws-cdk-lib/aws-stepfunctions";
import { type Function as SstFunction, type StackContext, use } from "sst/constructs";
import { Bus } from "./bus.ts";
import {
  auditQueueArn,
  deploymentUnique,
  partitionOf,
  pascal,
  reflexConfig,
  removalPolicyFor,
  resourceName,
  stateMachineArn,
  stateMachineName,
} from "./context.ts";
import { deadLetterQueue, reflexFunction } from "./function.ts";
import {
  auditStatement,
  describeExecutionStatement,
  effectivePermissions,
  historyReportStatements,
  precheckStatements,
  putEventsStatement,
  runbookStatements,
  startExecutionStatement,
  TABLE_WRITES,
  tableStatements,
} from "./iam.ts";
import { memberStackSet } from "./member.ts";
import { STATE_MACHINE_ROLE, suppress } from "./nag.ts";
import { Storage } from "./storage.ts";

export const STEP_HANDLER = "packages/functions/src/step.handler";
export const EXECUTION_STATUS_HANDLER = "packages/functions/src/execution-status.handler";
export const RECONCILE_HANDLER = "packages/functions/src/reconcile.handler";
export const FAN_OUT_HANDLER = "packages/functions/src/fan-out.handler";

/** What a step worker may take when no Task of its runbook says (core's stepTask: 120 s). */
const DEFAULT_STEP_TIMEOUT_SECONDS = 120;

/**
 * A runbook's step worker runs as long as the longest Task that calls it allows (Lambda's
 * ceiling is 900 s): a worker stopped before its Task's timeout would cut a step short that
 * the state machine gave longer (patch's Plan and Report, 900 s). The approval Task is not
 * counted: its Lambda call only records the request; the wait is Step Functions'.
 */
export function stepWorkerTimeoutSeconds(runbook: Registry.Runbook): number {
  const tasks = Registry.taskStates(runbook.stateMachine).filter(([, t]) => t.Resource === STEP_HANDLER_ARN);
  const longest = Math.max(
    DEFAULT_STEP_TIMEOUT_SECONDS,
    ...tasks.map(([, t]) => t.TimeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS),
  );
  if (longest > 900) throw new Error(`runbook '${runbook.name}' has a Task longer than Lambda's 900 s`);
  return longest;
}

export interface DeployedRunbook {
  runbook: string;
  stepFunction: SstFunction;
  stateMachine: StateMachine;
  /** Literal name and ARN, for references that must not become cross-stack exports. */
  stateMachineName: string;
  stateMachineArn: string;
}

export function Runbooks({ stack }: StackContext) {
  const { table, reports } = use(Storage);
  const { bus } = use(Bus);
  const { config } = reflexConfig();

  const deployed: DeployedRunbook[] = Registry.list().map((runbook) => {
    const id = pascal(runbook.name);
    const stepFunction = reflexFunction(stack, `Step${id}`, {
      name: `step-${runbook.name}`,
      handler: STEP_HANDLER,
      description: `Reflex step worker for runbook ${runbook.name}`,
      environment: { REFLEX_RUNBOOK: runbook.name },
      timeoutSeconds: stepWorkerTimeoutSeconds(runbook),
    });
    stepFunction.attachPermissions([
      ...tableStatements(table.tableArn, TABLE_WRITES.step, { runbook: runbook.name }),
      auditStatement(auditQueueArn(stack)),
      // A run in a member account assumes that account's role (Aws.clientsFor): exactly the
      // roles config `accounts` names, nothing else (no grant at all without accounts).
      ...(config.accounts.length
        ? [
            new PolicyStatement({
              actions: ["sts:AssumeRole"],
              resources: config.accounts.map((a) => Accounts.roleArnOf(a)),
            }),
          ]
        : []),
      // Config `organization`: the role in the accounts of exactly those OUs (their accounts
      // are not known at deploy time; aws:ResourceOrgPaths names the OUs, with or without children).
      ...(config.organization ? [organizationAssumeRole(stack, config.organization)] : []),
    ]);

    if (config.organization)
      suppress(must(stepFunction.role, "stepFunction.role"), [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "config organization: the member role in any account, because the OUs' accounts are resolved at run time; aws:ResourceOrgPaths fences it to exactly those OUs.",
          appliesTo: [{ regex: "/^Resource::arn:.*:iam::\\*:role\\/.*$/g" }],
        },
      ]);

    const literals = { Partition: partitionOf(stack), Account: stack.account, Region: stack.region };
    // Actions its state machine calls itself (`aws()` Tasks: the AWS SDK integration) are the
    // state machine role's; the rest are the step worker's.
    const { worker, machine } = splitPermissions(runbook);
    const policyContext = {
      automationTag: config.automationTag,
      substitutions: { ...literals, ReportsBucketArn: reports.bucketArn },
      config,
    };
    const statements = runbookStatements({ ...runbook, permissions: worker }, policyContext);
    if (statements.length > 0) {
      const permissions = new Policy(stack, `Step${id}Permissions`, {
        statements,
        roles: [must(stepFunction.role, "stepFunction.role")],
      });
      const wildcards = wildcardSuppressions(
        { ...runbook, permissions: worker },
        config,
        config.automationTag.key,
        literals,
      );
      if (wildcards.length > 0) suppress(permissions, wildcards);
    }

    const name = stateMachineName(stack, runbook.name);
    const logs = new LogGroup(stack, `Machine${id}Logs`, {
      // Unique per deployment of the stack: a prod log group outlives `sst remove`, and a
      // redeploy must not collide with it ("already exists").
      logGroupName: deploymentUnique(stack, `/aws/vendedlogs/states/${name}`),
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: removalPolicyFor(stack),
    });
    const stateMachine = new StateMachine(stack, `Machine${id}`, {
      stateMachineName: name,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(JSON.stringify(runbook.stateMachine)),
      definitionSubstitutions: { StepHandlerArn: stepFunction.functionArn },
      // Execution data stays out of the logs: an approval's input carries its task token
      // (`$$.Task.Token`), which answers the approval for whoever holds it.
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    if (machine.length > 0) {
      for (const statement of runbookStatements({ ...runbook, permissions: machine }, policyContext))
        stateMachine.addToRolePolicy(statement);
      const wildcards = wildcardSuppressions(
        { ...runbook, permissions: machine },
        config,
        config.automationTag.key,
        literals,
      );
      if (wildcards.length > 0) suppress(stateMachine.role, wildcards);
    }
    // The definition comes as a string, so CDK cannot see which function its Tasks call: grant that one, unqualified.
    stateMachine.addToRolePolicy(
      new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [stepFunction.functionArn] }),
    );
    // A Distributed Map runs each item as a child execution of this same machine: it must be
    // able to start them, and read and stop them (named `<machine>/<map run>:<item>`).
    if (JSON.stringify(runbook.stateMachine).includes('"Mode":"DISTRIBUTED"')) {
      const arn = stateMachineArn(stack, runbook.name);
      stateMachine.addToRolePolicy(
        new PolicyStatement({ actions: ["states:StartExecution"], resources: [arn] }),
      );
      stateMachine.addToRolePolicy(
        new PolicyStatement({
          actions: ["states:DescribeExecution", "states:StopExecution"],
          resources: [`${arn.replace(":stateMachine:", ":execution:")}/*`],
        }),
      );
      suppress(stateMachine.role, [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "A Distributed Map's child executions are named by Step Functions at run time (<machine>/<map run>:<item>); DescribeExecution/StopExecution are scoped to this one machine's child executions.",
          appliesTo: [`Resource::${arn.replace(":stateMachine:", ":execution:")}/*`],
        },
      ]);
    }
    suppress(stateMachine.role, STATE_MACHINE_ROLE);

    return {
      runbook: runbook.name,
      stepFunction,
      stateMachine,
      stateMachineName: name,
      stateMachineArn: stateMachineArn(stack, runbook.name),
    };
  });

  const fanOut = fanOutMachine(stack, deployed, table.tableArn, bus.eventBusArn);
  // Config `organization`: the member template, delivered to the OUs' accounts as a
  // service-managed StackSet trusting these step workers (docs/accounts.md).
  if (config.organization)
    memberStackSet(stack, "MemberStackSet", {
      organization: config.organization,
      automationTag: config.automationTag,
      stepWorkerRoleArns: deployed.map((d) => must(d.stepFunction.role, "stepFunction.role").roleArn),
      hubBusArn: bus.eventBusArn,
      config,
    });

  // Closing runs releases their locks, so a status event that cannot be handled is kept, not
  // dropped. Two retry layers, each ending in the same DLQ (which pages when not empty):
  // EventBridge retries *delivering* the event to Lambda (throttling, Lambda unavailable) for up
  // to a day; once Lambda has accepted it, EventBridge is done, and a handler that throws is
  // retried by Lambda's asynchronous invocation, twice within an hour (reflexFunction).
  const statusDlq = deadLetterQueue(stack, "ExecutionStatusDlq", "execution-status-dlq");
  const executionStatus = reflexFunction(stack, "ExecutionStatus", {
    name: "execution-status",
    handler: EXECUTION_STATUS_HANDLER,
    description: "Reflex: closes a run when its Step Functions execution ends",
    deadLetterQueue: statusDlq,
  });
  const executionArns = deployed.map((d) => `${executionArnPrefix(d.stateMachineArn)}*`);
  executionStatus.attachPermissions([
    ...tableStatements(table.tableArn, TABLE_WRITES.executionStatus),
    auditStatement(auditQueueArn(stack)),
    putEventsStatement(bus.eventBusArn),
    // A status event is a claim: the function reads the execution back before it closes a run.
    describeExecutionStatement(executionArns),
    // Once a drill is closed, its report and the month's summary (reports/drills/ only).
    ...historyReportStatements(reports.bucketArn, Registry.list()),
  ]);
  // The history reports' prefixes (reports/drills/*): each object is named per drill and run.
  const historyRoutes = [...new Set(Registry.list().flatMap((r) => (r.history ? [r.history.route] : [])))];
  const reportWrites = historyRoutes.length
    ? [
        {
          id: "AwsSolutions-IAM5",
          reason: `Drill reports (${historyRoutes.join(", ")}): s3:PutObject only, only under reports/<route>/ of the reports bucket, where each run's report and each month's summary get their own key.`,
          appliesTo: historyRoutes.map((route) => nagResource(`\${ReportsBucketArn}/reports/${route}/*`)),
        },
      ]
    : [];
  suppress(must(executionStatus.role, "executionStatus.role"), [
    ...reportWrites,
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Execution names are run ids chosen at start time, so execution-status's states:DescribeExecution names each of this stage's state machines exactly and leaves only the execution name open (`...:execution:<machine>:*`).",
      appliesTo: executionArns.map((a) => `Resource::${a}`),
    },
  ]);
  const executionStatusRule = new Rule(stack, "ExecutionStatusRule", {
    description: "Step Functions status changes of Reflex's state machines",
    eventPattern: {
      source: ["aws.states"],
      detailType: ["Step Functions Execution Status Change"],
      // Exact ARNs: a prefix (`reflex-dev-`) would also match another stage (`reflex-dev-alice-`).
      detail: { stateMachineArn: deployed.map((d) => d.stateMachineArn) },
    },
    targets: [
      new LambdaFunction(executionStatus, {
        deadLetterQueue: statusDlq,
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      }),
    ],
  });

  // The reconciler closes runs whose end was never heard of (a lost status event, a start that
  // never reached Step Functions), so their locks do not wait out the lease.
  // A failed pass is retried by Lambda (twice), then dead-lettered; the queue pages. A reconciler
  // that stops running at all pages too (Observability: its metric goes missing).
  const reconcileDlq = deadLetterQueue(stack, "ReconcileDlq", "reconcile-dlq");
  const reconcile = reflexFunction(stack, "Reconcile", {
    name: "reconcile",
    handler: RECONCILE_HANDLER,
    description: "Reflex: closes runs whose Step Functions execution ended unheard or never started",
    deadLetterQueue: reconcileDlq,
  });
  // A lost run's inspector (core's Steps.inspectLost) reports what the run left behind, with
  // the read-only permissions its runbook's manifest declares for it (`lostRun`).
  const inspectors = Registry.list().flatMap((runbook) =>
    runbook.lostRun?.permissions.length
      ? runbookStatements(
          { ...runbook, permissions: runbook.lostRun.permissions },
          {
            automationTag: config.automationTag,
            substitutions: { Partition: partitionOf(stack), Account: stack.account, Region: stack.region },
            config,
          },
        )
      : [],
  );
  reconcile.attachPermissions([
    ...tableStatements(table.tableArn, TABLE_WRITES.reconcile),
    auditStatement(auditQueueArn(stack)),
    putEventsStatement(bus.eventBusArn),
    describeExecutionStatement(executionArns),
    // A fan-out whose start was cut short (its item written, its machine not started) is started;
    // one whose machine ended without its Finish is settled, once Step Functions says it ended.
    startExecutionStatement([fanOut.stateMachineArn]),
    describeExecutionStatement([`${executionArnPrefix(fanOut.stateMachineArn)}*`]),
    ...inspectors,
    // Drill reports not written yet (a lost drill it closed, a write that failed): reports/drills/ only.
    ...historyReportStatements(reports.bucketArn, Registry.list()),
  ]);
  suppress(must(reconcile.role, "reconcile.role"), [
    ...reportWrites,
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Execution names are run ids chosen at start time, so the reconciler's states:DescribeExecution names each of this stage's state machines exactly and leaves only the execution name open (`...:execution:<machine>:*`).",
      appliesTo: [...executionArns, `${executionArnPrefix(fanOut.stateMachineArn)}*`].map(
        (a) => `Resource::${a}`,
      ),
    },
    {
      id: "AwsSolutions-IAM5",
      reason: `Read only, for the lost-run reports the runbooks' manifests declare (${Registry.list()
        .flatMap((r) => r.lostRun?.permissions.flatMap((p) => p.actions) ?? [])
        .join(
          ", ",
        )}): describe actions do not support resource-level permissions, so AWS requires Resource '*'.`,
      appliesTo: ["Resource::*"],
    },
    // What a lost run's sweep may change (restore's drill volumes), fenced as the runbook declares.
    ...Registry.list().flatMap((runbook) =>
      runbook.lostRun?.permissions.some((p) => p.mutating)
        ? wildcardSuppressions(
            { ...runbook, permissions: runbook.lostRun.permissions.filter((p) => p.mutating) },
            config,
            config.automationTag.key,
            { Partition: partitionOf(stack), Account: stack.account, Region: stack.region },
          )
        : [],
    ),
  ]);
  const reconcileRule = new Rule(stack, "ReconcileSchedule", {
    description: "Every 15 minutes: close Reflex runs that were lost track of",
    schedule: Schedule.rate(Duration.minutes(15)),
    targets: [new LambdaFunction(reconcile, { deadLetterQueue: reconcileDlq, retryAttempts: 2 })],
  });

  return {
    runbooks: deployed,
    fanOut,
    executionStatus,
    executionStatusRule,
    reconcile,
    reconcileRule,
    monitored: {
      functions: [
        ...deployed.map((d) => resourceName(stack, `step-${d.runbook}`)),
        resourceName(stack, "execution-status"),
        resourceName(stack, "reconcile"),
        resourceName(stack, "fan-out"),
      ],
      queues: [resourceName(stack, "execution-status-dlq", 80), resourceName(stack, "reconcile-dlq", 80)],
      stateMachines: deployed.map((d) => ({
        runbook: d.runbook,
        name: d.stateMachineName,
        arn: d.stateMachineArn,
      })),
    },
  };
}

/**
 * Gives a function that calls admit() (the API, the Slack worker, the event gate, the schedule
 * function) what the runbooks' prechecks read, from their manifests (`precheckPermissions`):
 * read only, so a bad snapshot is refused at the door deployed as it is locally, and the role
 * still may not change anything. Each wildcard carries its cdk-nag reason.
 */
export function grantPrechecks(stack: StackContext["stack"], fn: SstFunction): void {
  const { config } = reflexConfig();
  const literals = { Partition: partitionOf(stack), Account: stack.account, Region: stack.region };
  const runbooks = Registry.list().filter((r) => r.precheckPermissions?.length);
  const statements = precheckStatements(runbooks, {
    automationTag: config.automationTag,
    substitutions: literals,
    config,
  });
  if (statements.length === 0) return;
  fn.attachPermissions(statements);
  suppress(
    must(fn.role, "fn.role"),
    runbooks.flatMap((r) =>
      wildcardSuppressions(
        { ...r, permissions: r.precheckPermissions ?? [] },
        config,
        config.automationTag.key,
        literals,
        "for its precheck, which runs where a start is admitted",
      ),
    ),
  );
}

/**
 * One cdk-nag IAM5 suppression per declared permission whose deployed resources hold a
 * wildcard: exactly those resources, and the reason that permission is safe with them.
 */
function wildcardSuppressions(
  runbook: Registry.Runbook,
  config: Config,
  tagKey: string,
  literals: Record<"Partition" | "Account" | "Region", string>,
  purpose?: string,
) {
  return effectivePermissions(runbook, config).flatMap((p) => {
    const resources = (p.wildcardOnly ? ["*"] : (p.resources ?? ["*"]))
      .filter((r) => r.includes("*"))
      .map((r) =>
        r.replace(/\$\{(Partition|Account|Region)\}/g, (_w, k: keyof typeof literals) => literals[k]),
      );
    if (resources.length === 0) return [];
    const actions = p.actions.join(", ");
    const when = Object.entries(p.conditions ?? {}).flatMap(([operator, keys]) =>
      Object.entries(keys).map(([key, value]) => `${key} ${operator} ${JSON.stringify(value)}`),
    );
    const also = when.length ? `, and only when ${when.join(" and ")}` : "";
    const reason = !p.mutating
      ? `${actions}: read only, changes nothing${also}.`
      : p.wildcardOnly
        ? `${actions}: ${p.why}`
        : p.tagCondition === "none"
          ? `${actions} on ${resources.join(", ")}${also}: ${p.why ?? (when.length ? "the condition is the fence." : "the resource pattern (a named prefix) is the fence.")}`
          : `${actions} only on resources ${p.tagCondition === "request" ? "created carrying" : "carrying"} the automation tag (aws:${p.tagCondition === "request" ? "RequestTag" : "ResourceTag"}/${tagKey})${p.onCreate?.length ? `, only inside ${p.onCreate.join("/")} (ec2:CreateAction)` : ""}${also}.`;
    return [
      {
        id: "AwsSolutions-IAM5",
        reason: `Runbook '${runbook.name}' declares it in core${purpose ? ` ${purpose}` : ""}: ${reason}`,
        appliesTo: resources.map((r) => nagResource(r)),
      },
    ];
  });
}

/**
 * A runbook's declared permissions, split by who makes the call: the actions its state machine's
 * AWS SDK integration Tasks call go to the state machine's role, the others to its step worker.
 */
export function splitPermissions(runbook: Registry.Runbook): {
  worker: Registry.Permission[];
  machine: Registry.Permission[];
} {
  const called = new Set(
    Registry.taskStates(runbook.stateMachine).flatMap(([, t]) => {
      const a = Registry.sdkAction(t.Resource);
      return a ? [a] : [];
    }),
  );
  const worker: Registry.Permission[] = [];
  const machine: Registry.Permission[] = [];
  for (const p of runbook.permissions) {
    const mine = p.actions.filter((a) => called.has(a));
    const rest = p.actions.filter((a) => !called.has(a));
    if (mine.length) machine.push({ ...p, actions: mine });
    if (rest.length) worker.push({ ...p, actions: rest });
  }
  return { worker, machine };
}

/**
 * How cdk-nag names a wildcard resource in its findings: `Resource::*`, or for a resource
 * built from a token (a bucket ARN), `Resource::<LogicalId.Arn>/path/*`, matched here by regex.
 */
function nagResource(resource: string): string | { regex: string } {
  if (!resource.includes("${")) return `Resource::${resource}`;
  const pattern = resource
    .split(/\$\{[A-Za-z0-9_]+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\/]/g, "\\$&"))
    .join("<[^>]+>");
  return { regex: `/^Resource::${pattern}$/g` };
}

/** `arn:…:execution:<machine>:`, the prefix of every execution ARN of one state machine. */
export function executionArnPrefix(stateMachineArn: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:`;
}

/**
 * The fan-out over many locations (core's `Locations.fanOutStateMachine`): a Standard state
 * machine whose Distributed Map starts each location's run through admission in the fan-out
 * function and waits for it. The function may admit (start any runbook's machine, as the API
 * does) and write fan-out items; the machine may call that function and run its own Map Run's
 * child executions, nothing else.
 */
function fanOutMachine(
  stack: StackContext["stack"],
  deployed: DeployedRunbook[],
  tableArn: string,
  eventBusArn: string,
) {
  const fn = reflexFunction(stack, "FanOut", {
    name: "fan-out",
    handler: FAN_OUT_HANDLER,
    description: "Reflex fan-out: admits each location's run and waits for its end",
  });
  fn.attachPermissions([
    ...tableStatements(tableArn, TABLE_WRITES.fanOut),
    auditStatement(auditQueueArn(stack)),
    startExecutionStatement(deployed.map((d) => d.stateMachineArn)),
    putEventsStatement(eventBusArn),
  ]);
  // It admits each location's child, so it runs their prechecks as the API does.
  grantPrechecks(stack, fn);
  const name = stateMachineName(stack, Locations.FAN_OUT_MACHINE);
  const arn = stateMachineArn(stack, Locations.FAN_OUT_MACHINE);
  const logs = new LogGroup(stack, "MachineFanOutLogs", {
    logGroupName: deploymentUnique(stack, `/aws/vendedlogs/states/${name}`),
    retention: RetentionDays.ONE_MONTH,
    removalPolicy: removalPolicyFor(stack),
  });
  const stateMachine = new StateMachine(stack, "MachineFanOut", {
    stateMachineName: name,
    stateMachineType: StateMachineType.STANDARD,
    definitionBody: DefinitionBody.fromString(JSON.stringify(Locations.fanOutStateMachine())),
    definitionSubstitutions: { FanOutHandlerArn: fn.functionArn },
    logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
    tracingEnabled: true,
  });
  stateMachine.addToRolePolicy(
    new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [fn.functionArn] }),
  );
  // Its Distributed Map runs each location as a child execution of this same machine.
  const children = `${arn.replace(":stateMachine:", ":execution:")}/*`;
  stateMachine.addToRolePolicy(new PolicyStatement({ actions: ["states:StartExecution"], resources: [arn] }));
  stateMachine.addToRolePolicy(
    new PolicyStatement({
      actions: ["states:DescribeExecution", "states:StopExecution"],
      resources: [children],
    }),
  );
  suppress(stateMachine.role, [
    {
      id: "AwsSolutions-IAM5",
      reason:
        "A Distributed Map's child executions are named by Step Functions at run time (<machine>/<map run>:<item>); DescribeExecution/StopExecution are scoped to this one machine's child executions.",
      appliesTo: [`Resource::${children}`],
    },
  ]);
  suppress(stateMachine.role, STATE_MACHINE_ROLE);
  return { function: fn, stateMachine, stateMachineName: name, stateMachineArn: arn };
}

/**
 * `sts:AssumeRole` on the organization's member role in the accounts of `organization.ous`:
 * any account id (they are resolved at run time), fenced by `aws:ResourceOrgPaths` to those OUs
 * (a path ending in the OU for the OU itself; anything under it too with `includeChildren`).
 */
function organizationAssumeRole(
  stack: StackContext["stack"],
  org: NonNullable<ReturnType<typeof reflexConfig>["config"]["organization"]>,
): PolicyStatement {
  const role = org.role ?? Accounts.DEFAULT_MEMBER_ROLE;
  return new PolicyStatement({
    actions: ["sts:AssumeRole"],
    resources: [`arn:${partitionOf(stack)}:iam::*:role/${role}`],
    conditions: {
      "ForAnyValue:StringLike": {
        "aws:ResourceOrgPaths": org.ous.map((ou) => `*/${ou}/${org.includeChildren ? "*" : ""}`),
      },
    },
  });
}
