/**
 * restart-service: restarts a systemd unit on the instances a tag selects, one instance at a
 * time, with SSM Run Command (AWS-RunShellScript): restart, wait for the command, then a health
 * check (`systemctl is-active`). An instance whose restart or health check fails is rolled back
 * — the unit is started again — and the run ends FAILED once every instance had its turn.
 *
 * Written only against @reflex/sdk, outside Reflex's packages; listed in a config with
 * `runbooks: [restartService]`. See docs/runbooks/writing.md.
 */
import { approvalStates, aws, defineRunbook, RETRY_STEP, stepTask, waitFor } from "@reflex/sdk";
import { z } from "zod";

const R = "restart-service";

export const params = z
  .object({
    /** The systemd unit: `nginx`, `app.service`. */
    unit: z.string().regex(/^[A-Za-z0-9@._-]{1,100}$/, "must be a systemd unit name"),
    /** The instances: those carrying every one of these tags (and the automation tag). */
    selector: z.object({ tag: z.record(z.string(), z.string()) }).strict(),
  })
  .strict();
export type RestartParams = z.output<typeof params>;

/** An SSM shell command on the Map item's instance; the unit name is checked by `params`. */
const shell = (format: string) => ({
  DocumentName: "AWS-RunShellScript",
  "InstanceIds.$": "States.Array($.instanceId)",
  Parameters: { "commands.$": `States.Array(States.Format('${format}', $.unit))` },
  Comment: "restart-service",
});
const invocation = (at: string) => ({
  "CommandId.$": `${at}.Command.CommandId`,
  "InstanceId.$": "$.instanceId",
});
const FAILED = ["Failed", "Cancelled", "TimedOut"];
const ROLL_BACK = [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "StartOld" }];

export const restartService = defineRunbook({
  name: R,
  summary:
    "Restart a systemd unit on tagged instances, one at a time, health-checked, rolled back on failure",
  risk: "medium",
  params,
  example: { unit: "nginx", selector: { tag: { Role: "web" } } },
  cap: { maxTargets: 20 },
  services: ["ec2", "ssm"],
  permissions: [
    { actions: ["ec2:DescribeInstances", "ssm:GetCommandInvocation"], mutating: false },
    // Run Command on instances carrying the automation tag, with the AWS-RunShellScript document only.
    {
      actions: ["ssm:SendCommand"],
      mutating: true,
      tagCondition: "resource",
      resources: ["arn:${Partition}:ec2:*:${Account}:instance/*"],
    },
    {
      actions: ["ssm:SendCommand"],
      mutating: true,
      tagCondition: "none",
      resources: ["arn:${Partition}:ssm:*::document/AWS-RunShellScript"],
      why: "An AWS-owned document carries no tags; only AWS-RunShellScript is allowed, and only on instances carrying the automation tag (the statement above).",
    },
  ],
  rollback: ["StartOld"],
  dryRun: "Selects the instances and reports, for each, the unit it would restart; no command is sent.",
  stateMachine: {
    StartAt: "Plan",
    States: {
      Plan: stepTask(R, "plan", { ResultPath: "$.plan", Retry: RETRY_STEP, Next: "IsDryRun" }),
      IsDryRun: {
        Type: "Choice",
        Choices: [{ Variable: "$.execution.dryRun", BooleanEquals: true, Next: "Planned" }],
        Default: "ApprovalNeeded",
      },
      Planned: { Type: "Succeed" },
      // A person approves the plan when the policy asks: nothing before this changes anything.
      ...approvalStates(R, "RestartEach"),
      RestartEach: {
        Type: "Map",
        ItemsPath: "$.plan.instanceIds",
        MaxConcurrency: 1,
        ItemSelector: { "instanceId.$": "$$.Map.Item.Value", "unit.$": "$.params.unit" },
        ItemProcessor: {
          ProcessorConfig: { Mode: "INLINE" },
          StartAt: "Restart",
          States: {
            Restart: aws("ssm:sendCommand", shell("systemctl restart {}"), {
              ResultPath: "$.restart",
              Catch: ROLL_BACK,
              Next: "AwaitRestart",
            }),
            ...waitFor("ssm:getCommandInvocation", "$.Status", "Success", {
              name: "AwaitRestart",
              params: invocation("$.restart"),
              timeout: 300,
              interval: 5,
              failOn: FAILED,
              catch: ROLL_BACK,
              next: "HealthCheck",
            }),
            HealthCheck: aws("ssm:sendCommand", shell("systemctl is-active --quiet {}"), {
              ResultPath: "$.health",
              Catch: ROLL_BACK,
              Next: "AwaitHealth",
            }),
            ...waitFor("ssm:getCommandInvocation", "$.Status", "Success", {
              name: "AwaitHealth",
              params: invocation("$.health"),
              timeout: 120,
              interval: 5,
              failOn: FAILED,
              catch: ROLL_BACK,
              next: "Healthy",
            }),
            Healthy: {
              Type: "Pass",
              Parameters: { "instanceId.$": "$.instanceId", status: "succeeded" },
              End: true,
            },
            // Rollback: start the unit again, so the instance is never left with it stopped.
            StartOld: aws("ssm:sendCommand", shell("systemctl start {}"), {
              ResultPath: "$.rollback",
              Next: "RolledBack",
            }),
            RolledBack: {
              Type: "Pass",
              Parameters: {
                "instanceId.$": "$.instanceId",
                status: "rolled-back",
                "reason.$": "States.Format('{}: {}', $.error.Error, $.error.Cause)",
              },
              End: true,
            },
          },
        },
        ResultPath: "$.restarts",
        Next: "Report",
      },
      Report: stepTask(R, "report", { ResultPath: "$.report", Retry: RETRY_STEP, Next: "AnyRolledBack" }),
      AnyRolledBack: {
        Type: "Choice",
        Choices: [{ Variable: "$.report.rolledBack", NumericGreaterThan: 0, Next: "RestartFailed" }],
        Default: "Done",
      },
      RestartFailed: {
        Type: "Fail",
        Error: "RestartFailed",
        Cause:
          "The unit did not come back on some instances; they were rolled back (the unit started again).",
      },
      Done: { Type: "Succeed" },
    },
  },
  implementation: () => import("./steps.ts").then((m) => m.implementation),
});
