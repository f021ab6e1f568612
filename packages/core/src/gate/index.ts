/** Kept for callers that name it through the gate; the guardrails are policy (`Policy.Guardrails`). */
export * as Guardrails from "../policy/guardrails.ts";
export * as Dedup from "../state/dedup.ts";
export { happeningKey, parseEvent, readPath } from "./events.ts";
export { type Decision, type DecisionKind, executionName, handleEvent, resolveParams } from "./gate.ts";
