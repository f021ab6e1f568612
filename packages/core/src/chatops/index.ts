/**
 * ChatOps: Slack commands, buttons and notifications. The acknowledgement path imports only
 * `signature.ts`, `command.ts` and `ack.ts` (and `replay.ts` for the state table) directly, not
 * this index, which also brings the worker (admission, approvals, runbooks).
 */
export * as Ack from "./ack.ts";
export * as Blocks from "./blocks.ts";
export * as Command from "./command.ts";
export * as Notifier from "./notifier.ts";
export * as Replay from "./replay.ts";
export * as Signature from "./signature.ts";
export * as Transport from "./transport.ts";
export * as Worker from "./worker.ts";
