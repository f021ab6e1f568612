/**
 * What every stack shares: the user's Reflex config (loaded and validated once, before any stack
 * is built), the names Reflex gives its resources, and the environment every handler reads.
 *
 * Names are deterministic (`<app>-<stage>-…`) wherever another part of the system computes
 * them: the handlers turn `REFLEX_STATE_MACHINE_ARN_PREFIX` + runbook name into a state machine
 * ARN, and the Observability stack refers to functions, queues and state machines by name, so
 * it needs no cross-stack exports (which would pin those resources in place).
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Config, DEFAULT_CONFIG_FILE, loadConfig } from "@reflex/core";
import { Stack as CdkStack, Fn, RemovalPolicy } from "aws-cdk-lib";
import { RegionInfo } from "aws-cdk-lib/region-info";
import type { App, Stack } from "sst/constructs";
import { useProject } from "sst/project.js";

/** The config as deployed: validated, and the raw module export the handlers re-validate. */
export interface DeployedConfig {
  file: string;
  config: Config;
  /** `JSON.stringify` of the config module's default export: the SSM parameter's value. */
  json: string;
}

/**
 * The deployed config lives in an SSM parameter (`/<app>/<stage>/config`), read by each function
 * at cold start: Standard tier (free) up to 4 KB, Advanced tier ($0.05 a month) up to 8 KB.
 */
export const MAX_CONFIG_BYTES = 8_192;
export const STANDARD_PARAMETER_BYTES = 4_096;

let loaded: DeployedConfig | undefined;

/**
 * Loads and validates the Reflex config the stacks deploy: `REFLEX_CONFIG_FILE`, else
 * `reflex.config.ts`, relative to the project root (where sst.config.ts is), whatever the
 * working directory. A config with problems stops the deploy with every problem listed.
 */
export async function loadReflexConfig(
  file = process.env.REFLEX_CONFIG_FILE || DEFAULT_CONFIG_FILE,
): Promise<DeployedConfig> {
  const path = resolve(useProject().paths.root, file);
  const config = await loadConfig(path);
  const mod = (await import(pathToFileURL(path).href)) as { default: unknown };
  // The config's own runbooks are code, bundled into the functions: the parameter names them.
  const raw = mod.default as { runbooks?: Array<{ name?: string } | string> };
  const json = JSON.stringify(
    Array.isArray(raw?.runbooks)
      ? { ...raw, runbooks: raw.runbooks.map((r) => (typeof r === "string" ? r : r?.name)) }
      : raw,
  );
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_CONFIG_BYTES) {
    throw new Error(
      `${file} is ${bytes} bytes as JSON; Reflex deploys it as an SSM parameter, which holds at most ${MAX_CONFIG_BYTES} bytes (Advanced tier)`,
    );
  }
  loaded = { file: path, config, json };
  return loaded;
}

/** The config loaded by {@link loadReflexConfig}; stacks are synchronous, so it is loaded first. */
export function reflexConfig(): DeployedConfig {
  if (!loaded)
    throw new Error(
      "the Reflex config is not loaded: sst.config.ts must await loadReflexConfig() before app.stack(...)",
    );
  return loaded;
}

/** Stages whose data outlives `sst remove`: `prod`, `production`, or starting with `prod-`. */
export function isProdStage(stage: string): boolean {
  return /^prod(uction)?($|-)/.test(stage);
}

/** RETAIN for stateful resources in prod stages; DESTROY elsewhere, so dev stages clean up. */
export function removalPolicyFor(stack: Stack): RemovalPolicy {
  return isProdStage(stack.stage) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}

/** `<app>-<stage>`, the prefix of every name Reflex gives a resource. */
export function namePrefix(stack: Stack): string {
  const app = stack.node.root as App;
  return `${app.name}-${stack.stage}`;
}

/**
 * `<app>-<stage>-<suffix>`, cut to `max` characters when needed, with a short hash of the whole
 * so two long names never collide.
 */
export function resourceName(stack: Stack, suffix: string, max = 64): string {
  return boundedName(`${namePrefix(stack)}-${suffix}`, max);
}

/** `name`, or when longer than `max`, its start and a short hash of the whole. */
export function boundedName(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 6);
  return `${name.slice(0, max - 7)}-${hash}`;
}

/** The partition of the stack's region, as a literal (`aws`, `aws-cn`, `aws-us-gov`). */
export function partitionOf(stack: Stack): string {
  return RegionInfo.get(stack.region).partition ?? "aws";
}

/** The name of a runbook's state machine. Handlers compute it as prefix + runbook, so it is never shortened. */
export function stateMachineName(stack: Stack, runbook: string): string {
  const name = `${namePrefix(stack)}-${runbook}`;
  if (name.length > 80) {
    throw new Error(
      `state machine name '${name}' is longer than Step Functions' 80 characters; use a shorter stage name`,
    );
  }
  return name;
}

/** `REFLEX_STATE_MACHINE_ARN_PREFIX`: prefix + runbook name = the runbook's state machine ARN. */
export function stateMachineArnPrefix(stack: Stack): string {
  return `arn:${partitionOf(stack)}:states:${stack.region}:${stack.account}:stateMachine:${namePrefix(stack)}-`;
}

/** The ARN of a runbook's state machine, as a literal (no cross-stack reference). */
export function stateMachineArn(stack: Stack, runbook: string): string {
  return `${stateMachineArnPrefix(stack)}${runbook}`;
}

/** The SSM parameter holding the deployed config: `/<app>/<stage>/config`. */
export function configParameterName(stack: Stack): string {
  return `/${(stack.node.root as App).name}/${stack.stage}/config`;
}

/** The ARN of {@link configParameterName}, as a literal. */
export function configParameterArn(stack: Stack): string {
  return `arn:${partitionOf(stack)}:ssm:${stack.region}:${stack.account}:parameter${configParameterName(stack)}`;
}

/** The audit writer's queue (stacks/audit.ts): every function that audits sends to it, by this name. */
export function auditQueueName(stack: Stack): string {
  return resourceName(stack, "audit", 80);
}

/** The ARN of {@link auditQueueName}, as a literal (no cross-stack reference). */
export function auditQueueArn(stack: Stack): string {
  return `arn:${partitionOf(stack)}:sqs:${stack.region}:${stack.account}:${auditQueueName(stack)}`;
}

/** The URL of {@link auditQueueName} (`REFLEX_AUDIT_QUEUE_URL`), built as SQS builds it. */
export function auditQueueUrl(stack: Stack): string {
  return `https://sqs.${stack.region}.${CdkStack.of(stack).urlSuffix}/${stack.account}/${auditQueueName(stack)}`;
}

/** The custom EventBridge bus lifecycle events go to. */
export function eventBusName(stack: Stack): string {
  return namePrefix(stack);
}

/**
 * `<name>-<id>`, where `<id>` is the last part of this stack's CloudFormation stack id: the same
 * for every update of the stack, new when the stack is created again after `sst remove`. For
 * names of resources that are retained (prod log groups), so a redeploy never collides with
 * what the removed stack left behind.
 */
export function deploymentUnique(stack: Stack, name: string): string {
  const id = Fn.select(4, Fn.split("-", Fn.select(2, Fn.split("/", CdkStack.of(stack).stackId))));
  return Fn.join("-", [name, id]);
}

/** PascalCase of a kebab-case name, for construct ids (`backup-snapshot` → `BackupSnapshot`). */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join("");
}
