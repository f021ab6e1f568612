/**
 * The commands a person uses to answer and steer runs: `approvals`, `approve`, `reject`,
 * `abort`, `rerun`, `whoami`. Each is one API call; the server decides (admission, access,
 * approvals) and audits with the actor — here `--as` or `cli:$USER` locally, the IAM
 * principal against a deployed API.
 */
import type { ApiClient } from "./client.ts";
import { type Io, UsageError } from "./io.ts";

interface Approval {
  executionId: string;
  runbook: string;
  requestedBy: string;
  requestedAt: string;
  deadline: string;
  reasons: string[];
  approvers: string[];
  minApprovers: number;
  answers: Array<{ actor: string; answer: string }>;
  plan?: { summary?: string } & Record<string, unknown>;
}

export async function approvals(
  io: Io,
  api: ApiClient,
  opts: { json?: boolean; all?: boolean },
): Promise<number> {
  const { approvals } = await api.call<{ approvals: Approval[] }>(
    "GET",
    `/api/approvals${opts.all ? "" : "?mine=1"}`,
  );
  if (opts.json) {
    io.out(JSON.stringify({ approvals }));
    return 0;
  }
  if (approvals.length === 0) {
    io.out(
      opts.all
        ? "nothing is waiting for approval"
        : "nothing is waiting on you (reflex approvals --all lists every request)",
    );
    return 0;
  }
  for (const a of approvals) {
    io.out(`${a.executionId}  ${a.runbook}  asked by ${a.requestedBy}  deadline ${a.deadline}`);
    io.out(`  why: ${a.reasons.join("; ")}`);
    if (a.plan) io.out(`  plan: ${JSON.stringify(a.plan).slice(0, 300)}`);
    io.out(
      `  approvers: ${a.approvers.join(", ") || "anyone allowed to approve"} (${a.answers.filter((x) => x.answer === "approve").length} of ${a.minApprovers})`,
    );
    io.out(
      `  answer: reflex approve ${a.executionId} [--comment …] · reflex reject ${a.executionId} --reason …`,
    );
  }
  return 0;
}

export async function answer(
  io: Io,
  api: ApiClient,
  verb: "approve" | "reject",
  id: string | undefined,
  opts: { comment?: string; reason?: string; json?: boolean },
): Promise<number> {
  if (!id) throw new UsageError(`${verb} needs an execution id: reflex ${verb} <id>`);
  if (verb === "reject" && !opts.reason?.trim())
    throw new UsageError('reject needs a reason: reflex reject <id> --reason "…"');
  const res = await api.call<{ status: string; approvals: number; needed: number }>(
    "POST",
    `/api/executions/${encodeURIComponent(id)}/${verb}`,
    verb === "approve" ? { comment: opts.comment } : { reason: opts.reason },
  );
  if (opts.json) io.out(JSON.stringify({ executionId: id, ...res }));
  else if (res.status === "APPROVED") io.out(`approved ${id}: the run goes on`);
  else if (res.status === "REJECTED") io.out(`rejected ${id}: the run ends; nothing was changed`);
  else io.out(`approval recorded for ${id}: ${res.approvals} of ${res.needed} needed`);
  return 0;
}

export async function abort(
  io: Io,
  api: ApiClient,
  id: string | undefined,
  opts: { reason?: string; now?: boolean; json?: boolean },
): Promise<number> {
  if (!id) throw new UsageError('abort needs an execution id: reflex abort <id> --reason "…"');
  if (!opts.reason?.trim()) throw new UsageError('abort needs a reason: reflex abort <id> --reason "…"');
  const res = await api.call<{ mode: string; rollback: string }>(
    "POST",
    `/api/executions/${encodeURIComponent(id)}/abort`,
    {
      reason: opts.reason,
      now: Boolean(opts.now),
    },
  );
  if (opts.json) io.out(JSON.stringify({ executionId: id, ...res }));
  else if (res.mode === "now")
    io.out(`stopped ${id} now; rollback was SKIPPED — check its targets (reflex show ${id})`);
  else
    io.out(
      `aborting ${id}: no new target starts, steps in flight finish, then ${res.rollback === "will run" ? "its rollback undoes what was done" : "it ends (nothing was changed)"}; follow it: reflex show ${id}`,
    );
  return 0;
}

export async function rerun(
  io: Io,
  api: ApiClient,
  id: string | undefined,
  opts: { dryRun?: boolean; overrideFreeze?: string; overridePause?: string; json?: boolean },
): Promise<number> {
  if (!id) throw new UsageError("rerun needs an execution id: reflex rerun <id>");
  const res = await api.call<{ executionId: string }>(
    "POST",
    `/api/executions/${encodeURIComponent(id)}/rerun`,
    {
      ...(opts.dryRun !== undefined ? { dryRun: opts.dryRun } : {}),
      ...(opts.overrideFreeze ? { overrideFreeze: opts.overrideFreeze } : {}),
      ...(opts.overridePause ? { overridePause: opts.overridePause } : {}),
    },
  );
  io.out(
    opts.json
      ? JSON.stringify(res)
      : `started ${res.executionId} (a re-run of ${id})\n  follow it: reflex show ${res.executionId} --follow`,
  );
  return 0;
}

export async function whoami(io: Io, api: ApiClient, opts: { json?: boolean }): Promise<number> {
  const me = await api.call<{
    actor: string;
    arrivedAs?: string;
    person?: string;
    roles: string[];
    environment: string;
    may: Record<string, string[]>;
    note?: string;
  }>("GET", "/api/whoami");
  if (opts.json) {
    io.out(JSON.stringify(me));
    return 0;
  }
  io.out(
    `you are ${me.person ? `${me.person} (${me.actor})` : me.actor}${me.arrivedAs ? `, signed as ${me.arrivedAs}` : ""} in ${me.environment}; roles: ${me.roles.join(", ") || "none"}`,
  );
  for (const [runbook, actions] of Object.entries(me.may))
    io.out(`  ${runbook}: ${actions.join(", ") || "nothing"}`);
  if (me.note) io.out(`  (${me.note})`);
  return 0;
}
