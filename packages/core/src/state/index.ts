export * as Alarms from "./alarms.ts";
export * as Audit from "./audit.ts";
export { decodeCursor, encodeCursor, indexPageKey } from "./db.ts";
export * as Executions from "./executions.ts";
export * as Locks from "./locks.ts";
export * as Pairs from "./pairs.ts";
export * as RunbookItems from "./runbook-items.ts";
export { createTableInput, TABLE_KEYS, tableName } from "./table.ts";
