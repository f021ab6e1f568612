/**
 * Policy: who may do what (access, people) and what the guardrails allow (pause, breaker,
 * freezes, cooldowns, rate). Below runs and admission, above state: admission, runs and
 * approvals decide with it; it keeps its items through `state/`.
 */
export * as Access from "./access.ts";
export * as Guardrails from "./guardrails.ts";
export * as People from "./people.ts";
