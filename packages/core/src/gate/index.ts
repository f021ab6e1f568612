export * as Dedup from "./dedup.ts";
export { happeningKey, parseEvent, readPath } from "./events.ts";
export { type Decision, type DecisionKind, executionName, handleEvent, resolveParams } from "./gate.ts";
export * as Guardrails from "./guardrails.ts";
