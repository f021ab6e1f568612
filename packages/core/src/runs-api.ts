/**
 * What code outside core may use of `runs.ts`: everything but `start`. A run starts only
 * through `Admission.admit()`, which checks params, access and every guardrail first; exporting
 * the private start beside it would let new code skip them.
 */
export type { FinalStatus, InspectLost, Reconciled, StartRequest } from "./runs.ts";
export {
  abort,
  canonicalJson,
  executionArn,
  executionInput,
  finish,
  LOST,
  newExecutionId,
  parseParams,
  reconcile,
  stateMachineArn,
} from "./runs.ts";
