/**
 * The work each runbook declares, as requests to evaluate against the synthesized roles: the
 * policy matrix's expectations read from the manifests (built-ins and a config's own runbooks
 * alike), never from a hand list.
 *
 * From each declared permission (narrowed to the config, as the stacks narrow it), for each
 * action, each resource pattern and each creating call a tagging action is fenced to, one
 * request that does what the permission says may be done: the resource carries the automation
 * tag (`tagCondition: "resource"`), or the request does (`"request"`), it is the creating call
 * (`onCreate`), and it meets the permission's own conditions. The request is expected to be
 * allowed for exactly the roles whose declarations cover it (the runbook's step worker, its
 * state machine for the actions its `aws()` Tasks call, the reconciler for a lost-run inspector's
 * reads) and denied for every other role.
 *
 * "Covers" is read from the declaration with the plain meaning IAM gives it (glob resources,
 * condition values), not with the code that turns declarations into statements (stacks/iam.ts),
 * so a statement generated wrong fails the matrix.
 */
import type { Config, Runbooks } from "@reflex/core";
import { effectivePermissions } from "../iam.ts";
import { splitPermissions } from "../runbooks.ts";
import type { SimRequest } from "./policy-sim.ts";

type Permission = Runbooks.Permission;
type Context = Record<string, string | string[]>;

/** The automation tag the fixture configs keep (the default). */
const TAG = "reflex:managed";
/** What a declared `${ReportsBucketArn}` is in the evaluated templates (see policy-sim's resolveTokens). */
const REPORTS_BUCKET = "arn:aws:s3:::reports-bucket";

export interface DeclaredRequest extends SimRequest {
  what: string;
  /** The roles (function name suffix, or `machine-<runbook>`) whose declarations cover it. */
  allowedFor: string[];
}

/** One role's declared permissions: a runbook's step worker or state machine, or the reconciler. */
export interface Declaration {
  role: string;
  permissions: Permission[];
}

/** Who holds what each runbook declares, narrowed to `config` as the stacks narrow it. */
export function declarations(runbooks: Runbooks.Runbook[], config?: Config): Declaration[] {
  return runbooks.flatMap((r) => {
    const { worker, machine } = splitPermissions({ ...r, permissions: effectivePermissions(r, config) });
    return [
      { role: `step-${r.name}`, permissions: worker },
      { role: `machine-${r.name}`, permissions: machine },
      {
        role: "reconcile",
        permissions: effectivePermissions({ ...r, permissions: r.lostRun?.permissions ?? [] }, config),
      },
    ];
  });
}

function place(pattern: string, env: { region: string; account: string }, wildcard: string): string {
  const s = pattern.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_whole, name: string) => {
    if (name === "Partition") return "aws";
    if (name === "Account") return env.account;
    if (name === "ReportsBucketArn") return REPORTS_BUCKET;
    throw new Error(`a declared resource uses \${${name}}, which the matrix does not know`);
  });
  const parts = s.split(":");
  if (parts[0] !== "arn" || parts.length < 6) return s === "*" ? s : s.replaceAll("*", wildcard);
  // A request is made in the test's region and account; a pattern keeps its wildcards.
  if (wildcard !== "*" && parts[3] === "*") parts[3] = env.region;
  if (wildcard !== "*" && parts[4] === "*") parts[4] = env.account;
  return [...parts.slice(0, 5), parts.slice(5).join(":").replaceAll("*", wildcard)].join(":");
}

const globMatch = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\/]/g, "\\$&")
      .replaceAll("*", ".*")
      .replaceAll("?", ".")}$`,
  ).test(value);

/** A request that does what `p` allows for `action` on `resource` (and, for tagging, during `creating`). */
function requestFor(p: Permission, action: string, resource: string, creating?: string): SimRequest {
  const context: Context = {};
  if (p.mutating && !p.wildcardOnly) {
    const tag = p.tagCondition ?? "resource";
    if (tag === "resource") context[`aws:ResourceTag/${TAG}`] = "true";
    if (tag === "request")
      Object.assign(context, { [`aws:RequestTag/${TAG}`]: "true", "aws:TagKeys": [TAG] });
  }
  if (creating) context["ec2:CreateAction"] = creating;
  for (const [operator, keys] of Object.entries(p.conditions ?? {})) {
    if (operator === "Null") continue; // presence: the other operators' keys are set below
    for (const [key, value] of Object.entries(keys)) {
      const values = [value].flat();
      context[key] = operator.startsWith("ForAllValues:")
        ? values
        : operator === "StringLike"
          ? values[0].replaceAll("*", "x")
          : values[0];
    }
  }
  return { action, resource, ...(Object.keys(context).length ? { context } : {}) };
}

/** True when `p`, as declared, lets `req` through: the action, a resource pattern, the tag, the creating call, the conditions. */
export function covers(p: Permission, req: SimRequest, env: { region: string; account: string }): boolean {
  if (!p.actions.includes(req.action)) return false;
  const patterns = p.wildcardOnly ? ["*"] : (p.resources ?? ["*"]);
  // A request on "*" (a describe that names nothing) is let through by any statement of the
  // action, whatever resources it names: so the evaluator reads it, as IAM's simulator does.
  const onAny = req.resource === "*";
  if (!onAny && !patterns.some((pattern) => globMatch(place(pattern, env, "*"), req.resource))) return false;
  const context = req.context ?? {};
  if (p.mutating && !p.wildcardOnly) {
    const tag = p.tagCondition ?? "resource";
    if (tag === "resource" && context[`aws:ResourceTag/${TAG}`] !== "true") return false;
    if (tag === "request" && context[`aws:RequestTag/${TAG}`] !== "true") return false;
  }
  if (p.onCreate?.length && !p.onCreate.includes(String(context["ec2:CreateAction"]))) return false;
  for (const [operator, keys] of Object.entries(p.conditions ?? {})) {
    for (const [key, value] of Object.entries(keys)) {
      const allowed = [value].flat();
      const given = context[key];
      if (operator === "Null") {
        if ((given === undefined) !== (value === "true")) return false;
        continue;
      }
      if (given === undefined) {
        if (operator.startsWith("ForAllValues:")) continue; // holds for a request without the key
        return false;
      }
      const match = (v: string) =>
        operator.endsWith("StringLike") ? allowed.some((a) => globMatch(a, v)) : allowed.includes(v);
      if (![given].flat().every(match)) return false;
    }
  }
  return true;
}

/**
 * An AWS-owned SSM document (`arn:aws:ssm:<region>::document/AWS-RunShellScript`): its ARN has no
 * account, which the evaluator cannot take. Those statements are checked as written instead:
 * patch's in stacks/iam.test.ts, restart-service's in stacks/config-runbook.test.ts.
 */
export const isAwsOwnedDocument = (resource: string): boolean =>
  /^arn:aws:ssm:[^:]*::document\/AWS-[A-Za-z0-9_.-]+$/.test(resource);

/** The roles whose declarations cover `req`. */
export function coveredFor(
  all: Declaration[],
  req: SimRequest,
  env: { region: string; account: string },
): string[] {
  return [...new Set(all.filter((d) => d.permissions.some((q) => covers(q, req, env))).map((d) => d.role))];
}

/**
 * Every request the declarations make, each with the roles whose declarations cover it. Requests
 * AWS would make alike (same action, resource and context) are listed once. A mutating action
 * declared on every resource (failover's AssociateAddress) gets none: the matrix's concrete
 * requests (an Elastic IP's ARN) exercise it, their roles read from the declarations alike.
 */
export function declaredWork(
  all: Declaration[],
  env: { region: string; account: string },
): DeclaredRequest[] {
  const out = new Map<string, DeclaredRequest>();
  for (const { role, permissions } of all) {
    for (const p of permissions) {
      // A mutating action declared on "*" names no resource type to make a request on (the
      // tag it is fenced by is a resource's): the matrix's concrete requests cover it.
      if (p.mutating && !p.wildcardOnly && !p.resources?.length) continue;
      const resources = p.wildcardOnly ? ["*"] : (p.resources ?? ["*"]);
      for (const action of p.actions)
        for (const resource of resources)
          for (const creating of p.onCreate ?? [undefined]) {
            const req = requestFor(p, action, place(resource, env, "x0123"), creating);
            const key = JSON.stringify(req);
            if (out.has(key)) continue;
            out.set(key, {
              ...req,
              what: `${action} on ${req.resource}${creating ? ` during ${creating}` : ""}, as ${role} declares`,
              allowedFor: coveredFor(all, req, env),
            });
          }
    }
  }
  return [...out.values()];
}
