/**
 * Triggers: how runs start without a person.
 *
 * - One EventBridge rule per config rule, on the default bus (where AWS services send alarms,
 *   EC2 state changes, Health events), with the rule's own pattern, targeting the trigger
 *   function (the event gate). Failed deliveries are retried, then kept in a DLQ.
 * - One EventBridge Scheduler schedule per config schedule and maintenance window, with its
 *   time zone, invoking the schedule function with `{ kind, name, run, with, scheduledTime }`.
 *   The scheduler's role may invoke that function and write to its DLQ, nothing else.
 */

import type { Config } from "@reflex/core";
import { Duration } from "aws-cdk-lib";
import { type EventPattern, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { CfnSchedule, CfnScheduleGroup } from "aws-cdk-lib/aws-scheduler";
import { type StackContext, use } from "sst/constructs";
import { Bus } from "./bus.ts";
import { auditQueueArn, boundedName, namePrefix, pascal, reflexConfig, resourceName } from "./context.ts";
import { deadLetterQueue, reflexFunction } from "./function.ts";
import {
  auditStatement,
  putEventsStatement,
  startExecutionStatement,
  TABLE_WRITES,
  tableStatements,
} from "./iam.ts";
import { grantPrechecks, Runbooks } from "./runbooks.ts";
import { Storage } from "./storage.ts";

export const TRIGGER_HANDLER = "packages/functions/src/trigger.handler";
export const SCHEDULE_HANDLER = "packages/functions/src/schedule.handler";

/** EventBridge target retries: an event older than this is no longer worth acting on. */
export const RULE_RETRY = { maxEventAge: Duration.hours(1), retryAttempts: 24 } as const;
/** Scheduler target retries: a scheduled run that is an hour late is better reported than started. */
export const SCHEDULE_RETRY = { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 10 } as const;

/** Scheduler's placeholder for the time a schedule fired (execution names derive from it). */
const SCHEDULED_TIME = "<aws.scheduler.scheduled-time>";

export function Triggers({ stack }: StackContext) {
  const { table } = use(Storage);
  const { bus } = use(Bus);
  const { runbooks, fanOut } = use(Runbooks);
  const { config } = reflexConfig();
  const startRuns = [
    // Runbooks' machines, and the fan-out's (rules and schedules with `locations`).
    startExecutionStatement([...runbooks.map((r) => r.stateMachineArn), fanOut.stateMachineArn]),
    putEventsStatement(bus.eventBusArn),
    auditStatement(auditQueueArn(stack)),
  ];

  // Event rules → the gate.
  const triggerDlq = deadLetterQueue(stack, "TriggerDlq", "trigger-dlq");
  const trigger = reflexFunction(stack, "Trigger", {
    name: "trigger",
    handler: TRIGGER_HANDLER,
    description: "Reflex event gate: dedupe, route, guardrails, start the run",
    deadLetterQueue: triggerDlq,
  });
  trigger.attachPermissions([...tableStatements(table.tableArn, TABLE_WRITES.trigger), ...startRuns]);
  grantPrechecks(stack, trigger);
  const rules = config.rules.map(
    (rule) =>
      new Rule(stack, `Rule${pascal(rule.name)}`, {
        ruleName: resourceName(stack, `rule-${rule.name}`),
        description: (rule.description ?? `Reflex rule ${rule.name}: runs ${rule.run}`).slice(0, 512),
        enabled: rule.enabled,
        // The config holds a raw EventBridge pattern (validated at load); CDK passes its keys through.
        eventPattern: rule.on as EventPattern,
        targets: [new LambdaFunction(trigger, { deadLetterQueue: triggerDlq, ...RULE_RETRY })],
      }),
  );

  // Every state change of every alarm a rule or a runbook param refers to → the gate, which
  // records it (Alarms.record). Config rules usually ask for ALARM only; without this rule a
  // scale-in waiting for `web-cpu-high` to be OK would never hear that it is.
  const watched = watchedAlarms(config);
  const alarmStateRule =
    watched.length === 0
      ? undefined
      : new Rule(stack, "AlarmStates", {
          ruleName: resourceName(stack, "alarm-states"),
          description: "Reflex: every state change of the alarms its rules and runbooks refer to",
          eventPattern: {
            source: ["aws.cloudwatch"],
            detailType: ["CloudWatch Alarm State Change"],
            detail: { alarmName: watched },
          },
          targets: [new LambdaFunction(trigger, { deadLetterQueue: triggerDlq, ...RULE_RETRY })],
        });

  // Schedules and windows → the schedule function.
  const scheduleDlq = deadLetterQueue(stack, "ScheduleDlq", "schedule-dlq");
  const scheduleFunction = reflexFunction(stack, "Schedule", {
    name: "schedule",
    handler: SCHEDULE_HANDLER,
    description: "Reflex schedules and maintenance windows: starts the scheduled run",
    deadLetterQueue: scheduleDlq,
  });
  scheduleFunction.attachPermissions([
    ...tableStatements(table.tableArn, TABLE_WRITES.schedule),
    ...startRuns,
  ]);
  grantPrechecks(stack, scheduleFunction);

  const group = new CfnScheduleGroup(stack, "ScheduleGroup", { name: namePrefix(stack) });
  const schedulerRole = new Role(stack, "SchedulerRole", {
    description:
      "EventBridge Scheduler: invoke Reflex's schedule function, dead-letter what it cannot deliver",
    assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
      conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
    }),
  });
  schedulerRole.addToPolicy(
    new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [scheduleFunction.functionArn] }),
  );
  // Scheduler sends dead letters with the schedule's execution role (Scheduler user guide, "Configuring a DLQ").
  schedulerRole.addToPolicy(
    new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [scheduleDlq.queueArn] }),
  );

  const entries = [
    ...config.schedules.map((s) => ({ kind: "schedule" as const, ...s })),
    ...config.windows.map((w) => ({ kind: "window" as const, ...w })),
  ];
  const schedules = entries.map((entry) => {
    const schedule = new CfnSchedule(stack, `${pascal(entry.kind)}${pascal(entry.name)}`, {
      // Names are unique within the group, which is the app and stage's own.
      name: boundedName(`${entry.kind}-${entry.name}`, 64),
      groupName: group.name,
      description: `Reflex ${entry.kind} ${entry.name}: runs ${entry.run}`,
      scheduleExpression: entry.cron,
      scheduleExpressionTimezone: entry.timezone,
      flexibleTimeWindow: { mode: "OFF" },
      state: entry.enabled ? "ENABLED" : "DISABLED",
      target: {
        arn: scheduleFunction.functionArn,
        roleArn: schedulerRole.roleArn,
        input: JSON.stringify({
          kind: entry.kind,
          name: entry.name,
          run: entry.run,
          with: entry.with,
          scheduledTime: SCHEDULED_TIME,
        }),
        retryPolicy: SCHEDULE_RETRY,
        deadLetterConfig: { arn: scheduleDlq.queueArn },
      },
    });
    schedule.addDependency(group);
    return schedule;
  });

  return {
    trigger,
    scheduleFunction,
    rules,
    alarmStateRule,
    schedules,
    monitored: {
      functions: [resourceName(stack, "trigger"), resourceName(stack, "schedule")],
      queues: [resourceName(stack, "trigger-dlq", 80), resourceName(stack, "schedule-dlq", 80)],
    },
  };
}

/**
 * The alarm names (exact, or `{ prefix }`) that config rules match on `detail.alarmName`, and
 * every `alarmName` param a rule, schedule or window passes to a runbook (scale-in's gate).
 */
export function watchedAlarms(config: Config): Array<string | { prefix: string }> {
  const out = new Map<string, string | { prefix: string }>();
  const add = (v: unknown) => {
    if (typeof v === "string" && !v.startsWith("$.")) out.set(`=${v}`, v);
    else if (v && typeof v === "object" && typeof (v as { prefix?: unknown }).prefix === "string") {
      const prefix = (v as { prefix: string }).prefix;
      out.set(`^${prefix}`, { prefix });
    }
  };
  for (const rule of config.rules) {
    const detail = (rule.on as { detail?: { alarmName?: unknown } }).detail;
    const names = detail?.alarmName;
    if (Array.isArray(names)) names.forEach(add);
    add(rule.with.alarmName);
  }
  for (const entry of [...config.schedules, ...config.windows]) add(entry.with.alarmName);
  return [...out.values()];
}
