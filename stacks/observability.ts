/**
 * Observability: alarms on what must never happen quietly (a run failed, a delivery ended up in
 * a dead-letter queue, a function errored or was throttled), sent to an SNS topic operators
 * subscribe to, and one dashboard.
 *
 * Everything is referenced by its deterministic name (see context.ts), so this stack imports
 * nothing from the others: adding or removing a runbook never gets stuck on a CloudFormation export.
 */
import { Duration } from "aws-cdk-lib";
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  Metric,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Topic } from "aws-cdk-lib/aws-sns";
import { type StackContext, use } from "sst/constructs";
import { Api } from "./api.ts";
import { namePrefix, pascal, resourceName } from "./context.ts";
import { Runbooks } from "./runbooks.ts";
import { Triggers } from "./triggers.ts";

const PERIOD = Duration.minutes(5);

export function Observability({ stack }: StackContext) {
  const runbooks = use(Runbooks).monitored;
  const triggers = use(Triggers).monitored;
  const api = use(Api).monitored;
  const functions = [...runbooks.functions, ...triggers.functions, ...api.functions];
  const queues = [...runbooks.queues, ...triggers.queues];
  const prefix = namePrefix(stack);

  const topic = new Topic(stack, "Alarms", { topicName: resourceName(stack, "alarms"), enforceSSL: true });
  const action = new SnsAction(topic);

  const alarms: Alarm[] = [];
  const alarm = (id: string, name: string, description: string, metric: IMetric, threshold: number) => {
    const created = new Alarm(stack, id, {
      alarmName: `${prefix}-${name}`,
      alarmDescription: description,
      metric,
      threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    created.addAlarmAction(action);
    alarms.push(created);
    return created;
  };

  // Alarms take the metrics as they are; the dashboard's copies carry a short label (a labelled
  // metric would turn the alarm into a metric-math alarm).
  const short = (name: string) => name.slice(prefix.length + 1);
  const runMetric = (arn: string, metricName: string) =>
    new Metric({
      namespace: "AWS/States",
      metricName,
      dimensionsMap: { StateMachineArn: arn },
      statistic: "Sum",
      period: PERIOD,
    });
  const queueMetric = (queue: string) =>
    new Metric({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensionsMap: { QueueName: queue },
      statistic: "Maximum",
      period: PERIOD,
    });
  const lambdaMetric = (fn: string, metricName: string, statistic = "Sum") =>
    new Metric({
      namespace: "AWS/Lambda",
      metricName,
      dimensionsMap: { FunctionName: fn },
      statistic,
      period: PERIOD,
    });

  for (const sm of runbooks.stateMachines) {
    alarm(
      `Failed${pascal(sm.runbook)}`,
      `${sm.runbook}-failed`,
      `A ${sm.runbook} run failed`,
      runMetric(sm.arn, "ExecutionsFailed"),
      1,
    );
  }
  for (const queue of queues) {
    alarm(
      `DeadLetters${pascal(short(queue))}`,
      `${short(queue)}-not-empty`,
      `${queue} holds undelivered events: inspect and redrive them`,
      queueMetric(queue),
      1,
    );
  }
  for (const fn of functions) {
    alarm(
      `Errors${pascal(short(fn))}`,
      `${short(fn)}-errors`,
      `${fn} returned errors`,
      lambdaMetric(fn, "Errors"),
      1,
    );
    alarm(
      `Throttles${pascal(short(fn))}`,
      `${short(fn)}-throttles`,
      `${fn} was throttled`,
      lambdaMetric(fn, "Throttles"),
      1,
    );
  }

  const dashboard = new Dashboard(stack, "Dashboard", {
    dashboardName: prefix,
    widgets: [
      [
        new TextWidget({
          markdown: `# Reflex (${stack.stage})\nRuns per runbook, dead letters, and the functions behind them. Alarms notify the SNS topic \`${resourceName(stack, "alarms")}\`.`,
          width: 24,
          height: 2,
        }),
      ],
      [new AlarmStatusWidget({ title: "Alarms", alarms, width: 24, height: 4 })],
      [
        new GraphWidget({
          title: "Runs started / succeeded",
          width: 12,
          left: runbooks.stateMachines.flatMap((sm) =>
            ["ExecutionsStarted", "ExecutionsSucceeded"].map((metricName) =>
              runMetric(sm.arn, metricName).with({
                label: `${sm.runbook} ${metricName.replace("Executions", "").toLowerCase()}`,
              }),
            ),
          ),
        }),
        new GraphWidget({
          title: "Runs failed",
          width: 6,
          left: runbooks.stateMachines.map((sm) =>
            runMetric(sm.arn, "ExecutionsFailed").with({ label: sm.runbook }),
          ),
        }),
        new GraphWidget({
          title: "Dead letters",
          width: 6,
          left: queues.map((q) => queueMetric(q).with({ label: short(q) })),
        }),
      ],
      [
        ...(
          [
            ["Invocations", "Invocations", "Sum"],
            ["Errors", "Errors", "Sum"],
            ["Throttles", "Throttles", "Sum"],
            ["Duration p95 (ms)", "Duration", "p95"],
          ] as const
        ).map(
          ([title, metricName, statistic]) =>
            new GraphWidget({
              title,
              width: 6,
              left: functions.map((fn) => lambdaMetric(fn, metricName, statistic).with({ label: short(fn) })),
            }),
        ),
      ],
    ],
  });

  stack.addOutputs({ AlarmTopic: topic.topicArn, Dashboard: dashboard.dashboardName });
  return { topic, alarms, dashboard };
}
