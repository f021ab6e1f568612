export { isTimeZone, parseSchedule, type ScheduleExpression } from "./cron.ts";
export { duration, parseDuration } from "./duration.ts";
export {
  currentConfig,
  DEFAULT_CONFIG_FILE,
  defineConfig,
  formatPath,
  isEventPath,
  loadConfig,
  toIssues,
  useConfig,
  validateConfig,
} from "./load.ts";
export {
  ACTIONS,
  type Action,
  type Config,
  type ConfigInput,
  configSchema,
  cronSchema,
  MAX_APPROVAL_DEADLINE_MS,
  type Pair,
  timeZoneSchema,
} from "./schema.ts";
export { configForParams } from "./scope.ts";
export { configNotes, timingIssues } from "./timing.ts";
