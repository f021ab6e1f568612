/**
 * What the config means for the deployed machines, beyond its own validity: each state
 * machine must outlast its runs (approval deadline + worst-case steps + rollback), and what
 * the stacks read from the config at deploy time (the failover pairs' zones and names in IAM).
 */
import type { Issue } from "../errors.ts";
import { must } from "../errors.ts";
import { failoverLoops } from "../runbooks/failover/budget.ts";
import * as Runbooks from "../runbooks/index.ts";
import { worstCaseSeconds } from "../runbooks/time-budget.ts";
import type { Config } from "./schema.ts";

/** One machine's time budget for one config: what it must hold, against its TimeoutSeconds. */
export interface TimeBudget {
  runbook: string;
  /** What the budget is for (a pair, or the runbook at large). */
  scope: string;
  /** The config path a problem is reported at. */
  path: string;
  approvalSeconds: number;
  /** The worst case, or why it could not be computed. */
  worstCaseSeconds: number | string;
  timeoutSeconds: number;
}

/**
 * The budgets `reflex config check` proves. Failover's poll loops are bounded by each pair's
 * verifyTimeout, so it is proven per pair. The other machines' loops and Maps are bounded by
 * their params; stacks/timeouts.test.ts proves their timeouts hold the longest params and the
 * longest deadline (12h) the schema allows, whatever the config.
 */
export function timeBudgets(config: Config): TimeBudget[] {
  if (!Runbooks.has("failover")) return [];
  const { stateMachine } = Runbooks.get("failover");
  const approvalSeconds = config.approvals.deadline / 1000;
  return config.pairs.map((pair, i) => {
    let worst: number | string;
    try {
      worst = worstCaseSeconds(stateMachine, {
        approvalSeconds,
        loops: failoverLoops(pair.verifyTimeout / 1000),
      });
    } catch (err) {
      // The machine changed shape (a loop without a budget): stacks/timeouts.test.ts fails for
      // whoever changed it; a config is not refused for it.
      worst = (err as Error).message;
    }
    return {
      runbook: "failover",
      scope: `pair ${pair.name}`,
      path: `pairs[${i}].verifyTimeout`,
      approvalSeconds,
      worstCaseSeconds: worst,
      timeoutSeconds: stateMachine.TimeoutSeconds ?? Number.POSITIVE_INFINITY,
    };
  });
}

const human = (seconds: number) => {
  const h = Math.floor(seconds / 3600);
  const m = Math.ceil((seconds % 3600) / 60);
  return h ? `${h}h${m ? `${m}m` : ""}` : `${m}m`;
};

/** A run that could outlive its machine: it would end TIMED_OUT, its rollback skipped. */
export function timingIssues(config: Config): Issue[] {
  return timeBudgets(config)
    .filter(
      (b): b is TimeBudget & { worstCaseSeconds: number } =>
        typeof b.worstCaseSeconds === "number" && b.worstCaseSeconds > b.timeoutSeconds,
    )
    .map((b) => ({
      path: b.path,
      message: `${b.runbook} for ${b.scope} could run ${human(b.worstCaseSeconds)} (approval deadline ${human(b.approvalSeconds)} + steps + switch back), longer than its state machine's ${human(b.timeoutSeconds)} timeout: a timed-out run skips its rollback. Shorten approvals.deadline or this verifyTimeout`,
    }));
}

/** What `reflex config check` tells about a valid config: the budgets it proved, and what needs a redeploy. */
export function configNotes(config: Config): string[] {
  const notes = timeBudgets(config).map((b) =>
    typeof b.worstCaseSeconds === "number"
      ? `${b.runbook} (${b.scope}): approval deadline + worst-case steps + rollback = ${human(b.worstCaseSeconds)} ≤ state machine timeout ${human(b.timeoutSeconds)}`
      : `${b.runbook} (${b.scope}): not proven: ${b.worstCaseSeconds}`,
  );
  const zoned = config.pairs.filter((p) => p.record);
  if (zoned.length > 0)
    notes.push(
      `pairs: the failover worker may change only ${zoned.map((p) => `${must(p.record, "p.record").name} (${must(p.record, "p.record").type}) in ${must(p.record, "p.record").hostedZoneId.replace(/^\/hostedzone\//, "")}`).join(", ")}; IAM is built from the config at deploy time, so a pair added or changed needs a redeploy (npx sst deploy) before failover can switch it`,
    );
  return notes;
}
