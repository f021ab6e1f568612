export { alarmEvent } from "../../packages/local/src/sample-events.ts";
