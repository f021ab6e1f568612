/**
 * Observability: alarms that page on what must never happen quietly (a run failed, timed out,
 * was aborted or was lost; a delivery ended up in a dead-letter queue; the reconciler stopped
 * running), sent to an SNS topic that the config's `alerts` subscribe to, and one dashboard.
 *
 * Lambda errors and throttles are on the dashboard but do not page: step workers throw on
 * purpose for every business failure (and are retried), so a failed run would page twice and a
 * retried throttle that succeeded would page for nothing. What matters to a person is the run.
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
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { SubscriptionProtocol, Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription, UrlSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { type StackContext, use } from "sst/constructs";
import { Api } from "./api.ts";
import { Audit } from "./audit.ts";
import { namePrefix, partitionOf, pascal, reflexConfig, resourceName } from "./context.ts";
import { Runbooks } from "./runbooks.ts";
import { Triggers } from "./triggers.ts";

const PERIOD = Duration.minutes(5);
/** Two of the reconciler's 15-minute passes. */
const RECONCILER_SILENCE = Duration.minutes(30);

/** The EMF metric the reconciler writes for each run it had to close (one per stage, by its name prefix). */
export const LOST_RUNS_METRIC = { namespace: "Reflex", name: "RunsLost", dimension: "Deployment" } as const;
/** The reconciler's measure of how far the sealed, exported audit trail lags (minutes). */
export const AUDIT_LAG_METRIC = {
  namespace: "Reflex",
  name: "AuditExportLagMinutes",
  dimension: "Deployment",
} as const;

export function Observability({ stack }: StackContext) {
  const runbooks = use(Runbooks).monitored;
  const triggers = use(Triggers).monitored;
  const api = use(Api).monitored;
  const audit = use(Audit).monitored;
  const functions = [...runbooks.functions, ...triggers.functions, ...api.functions, ...audit.functions];
  const queues = [...runbooks.queues, ...triggers.queues, ...api.queues, ...audit.queues];
  const prefix = namePrefix(stack);

  const topic = new Topic(stack, "Alarms", { topicName: resourceName(stack, "alarms"), enforceSSL: true });
  // Who is paged: `alerts` in the config. Each subscription must be confirmed by its endpoint
  // (an email link, or the HTTPS endpoint answering SNS's SubscriptionConfirmation).
  const { alerts } = reflexConfig().config;
  for (const address of alerts.email) topic.addSubscription(new EmailSubscription(address));
  for (const url of alerts.https)
    topic.addSubscription(new UrlSubscription(url, { protocol: SubscriptionProtocol.HTTPS }));
  const action = new SnsAction(topic);

  const alarms: Alarm[] = [];
  const alarmNames: string[] = [];
  const alarm = (
    id: string,
    name: string,
    description: string,
    metric: IMetric,
    threshold: number,
    when: { below?: true; missing?: TreatMissingData } = {},
  ) => {
    alarmNames.push(`${prefix}-${name}`);
    const created = new Alarm(stack, id, {
      alarmName: `${prefix}-${name}`,
      alarmDescription: description,
      metric,
      threshold,
      comparisonOperator: when.below
        ? ComparisonOperator.LESS_THAN_THRESHOLD
        : ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: when.missing ?? TreatMissingData.NOT_BREACHING,
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

  // A run that ends in any way but success pages: failed (its Catch and rollback ran), timed
  // out or aborted (they did not).
  const runEnds = [
    ["ExecutionsFailed", "failed", "failed"],
    ["ExecutionsTimedOut", "timed-out", "timed out (its rollback did not run)"],
    ["ExecutionsAborted", "aborted", "was aborted (its rollback did not run)"],
  ] as const;
  for (const sm of runbooks.stateMachines) {
    for (const [metricName, suffix, what] of runEnds) {
      alarm(
        `${pascal(suffix)}${pascal(sm.runbook)}`,
        `${sm.runbook}-${suffix}`,
        `A ${sm.runbook} run ${what}`,
        runMetric(sm.arn, metricName),
        1,
      );
    }
  }
  // Runs the reconciler closed because their end was never heard of (packages/functions/src/reconcile.ts emits it).
  alarm(
    "RunsLost",
    "runs-lost",
    "The reconciler closed runs whose end Reflex never heard of: check the execution-status rule and its DLQ",
    new Metric({
      namespace: LOST_RUNS_METRIC.namespace,
      metricName: LOST_RUNS_METRIC.name,
      dimensionsMap: { [LOST_RUNS_METRIC.dimension]: prefix },
      statistic: "Sum",
      period: PERIOD,
    }),
    1,
  );
  // The reconciler writes RunsLost on every pass, zero included (reconcile.ts): a half hour
  // with no datapoint (two missed passes) means it stopped running or fails before it ends.
  alarm(
    "ReconcilerSilent",
    "reconciler-silent",
    "The reconciler has not completed a pass in 30 minutes: lost runs would keep their locks; check its function, its schedule rule and its DLQ",
    new Metric({
      namespace: LOST_RUNS_METRIC.namespace,
      metricName: LOST_RUNS_METRIC.name,
      dimensionsMap: { [LOST_RUNS_METRIC.dimension]: prefix },
      statistic: "SampleCount",
      period: RECONCILER_SILENCE,
    }),
    1,
    { below: true, missing: TreatMissingData.BREACHING },
  );
  // The sealed audit trail's export lags: a period ended more than two periods (and the sealer's
  // schedule) ago and is not in the locked bucket. The reconciler measures it (reconcile.ts).
  const sealMinutes = reflexConfig().config.audit.sealMinutes;
  alarm(
    "AuditExportLag",
    "audit-export-lag",
    `The audit trail's locked export lags more than ${2 * sealMinutes + 15} minutes: check the audit sealer (its function, schedule rule and KMS key)`,
    new Metric({
      namespace: AUDIT_LAG_METRIC.namespace,
      metricName: AUDIT_LAG_METRIC.name,
      dimensionsMap: { [AUDIT_LAG_METRIC.dimension]: prefix },
      statistic: "Maximum",
      period: RECONCILER_SILENCE,
    }),
    2 * sealMinutes + 15,
  );
  // Audit entries waiting: the writer is failing or not keeping up, and the trail lags behind.
  alarm(
    "AuditLagging",
    "audit-lagging",
    `Audit entries have waited over 5 minutes in ${audit.auditQueue}: the audit writer is failing or throttled, and the trail is behind`,
    new Metric({
      namespace: "AWS/SQS",
      metricName: "ApproximateAgeOfOldestMessage",
      dimensionsMap: { QueueName: audit.auditQueue },
      statistic: "Maximum",
      period: PERIOD,
    }),
    300,
  );
  for (const queue of queues) {
    alarm(
      `DeadLetters${pascal(short(queue))}`,
      `${short(queue)}-not-empty`,
      `${queue} holds undelivered events: inspect and redrive them`,
      queueMetric(queue),
      1,
    );
  }

  // The topic's policy replaces SNS's default one, so CloudWatch may publish only because of
  // this statement, and only for this stage's alarms in this account (by exact ARN: a name
  // prefix would also let `reflex-dev-alice-*` alarms through to `reflex-dev`'s pager).
  const alarmArn = (name: string) =>
    `arn:${partitionOf(stack)}:cloudwatch:${stack.region}:${stack.account}:alarm:${name}`;
  topic.addToResourcePolicy(
    new PolicyStatement({
      sid: "CloudWatchAlarmsOfThisStage",
      principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
      actions: ["sns:Publish"],
      resources: [topic.topicArn],
      conditions: {
        StringEquals: { "aws:SourceAccount": stack.account },
        ArnEquals: { "aws:SourceArn": alarmNames.map(alarmArn) },
      },
    }),
  );

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
          title: "Runs failed / timed out / aborted",
          width: 6,
          left: runbooks.stateMachines.flatMap((sm) =>
            runEnds.map(([metricName, suffix]) =>
              runMetric(sm.arn, metricName).with({ label: `${sm.runbook} ${suffix}` }),
            ),
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
  return { topic, alarms, alarmNames, dashboard };
}
