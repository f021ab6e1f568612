/**
 * Compensation for a failover whose switch did not verify (or broke part-way, or was aborted):
 * point the Elastic IP and the record back at the previous primary — only what this run moved
 * — wait for the change to be INSYNC, and verify the old layout. The run then fails with the
 * original error, and its result reports both outcomes: the failed verify and the switch back.
 */

import { must } from "../../errors.ts";
import * as Executions from "../../state/executions.ts";
import * as Pairs from "../../state/pairs.ts";
import type { StepContext } from "../define.ts";
import {
  type FailoverInput,
  pairOf,
  pointAt,
  pollChange,
  type SwitchProgress,
  type VerifyProgress,
  verifyRound,
} from "./steps.ts";

/** Points everything back at the previous primary; a no-op for what never moved. Safe to repeat. */
export async function switchBack(input: FailoverInput, ctx: StepContext): Promise<SwitchProgress> {
  const pair = pairOf(input.params.pair);
  // The switch back is a switch too: its intent is recorded before its first mutating call.
  await Pairs.recordIntent(pair.name, {
    executionId: ctx.executionId,
    from: must(input.plan, "input.plan").to.instance,
    towards: must(input.plan, "input.plan").from.instance,
    since: ctx.now().toISOString(),
  });
  const progress = await pointAt(pair, must(input.plan, "input.plan").from, ctx, input.switchBack);
  await Executions.setResult(ctx.executionId, {
    switchBack: { ...progress, failure: input.failure ?? null },
  });
  return progress;
}

/** One poll of the switch back's record change, until INSYNC or the pair's verifyTimeout. */
export async function awaitSwitchBack(input: FailoverInput, ctx: StepContext): Promise<SwitchProgress> {
  return pollChange(input, must(input.switchBack, "input.switchBack"), ctx);
}

/** One round of verifying the previous primary again: the address, the record, its health. */
export async function verifySwitchBack(input: FailoverInput, ctx: StepContext): Promise<VerifyProgress> {
  const out = await verifyRound(
    input,
    must(input.plan, "input.plan").from,
    input.switchBackVerify,
    "SwitchBackNotVerified",
    ctx,
  );
  if (out.done) {
    const plan = must(input.plan, "input.plan");
    // Back where it was, verified: the roles never changed, and no switch is under way.
    await Pairs.clearIntent(plan.pair, ctx.executionId);
    await Executions.setResult(ctx.executionId, {
      switchBack: { ...input.switchBack, verified: out.checks, failure: input.failure ?? null },
      summary: `failover of ${plan.pair} to ${plan.to.instance} failed (${input.failure?.Error ?? "error"}); switched back to ${plan.from.instance}, verified`,
    });
  }
  return out;
}
