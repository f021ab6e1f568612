/** failover's step implementations (loaded by the step worker only). */
import { implementSteps } from "../define.ts";
import { failover } from "./index.ts";
import { awaitSwitchBack, switchBack, verifySwitchBack } from "./rollback.ts";
import { awaitChange, checkReadiness, planSwitch, recordRoles, switchOver, verifySwitch } from "./steps.ts";

export const failoverSteps = implementSteps(failover, {
  checkReadiness,
  planSwitch,
  switchOver,
  awaitChange,
  verifySwitch,
  recordRoles,
  switchBack,
  awaitSwitchBack,
  verifySwitchBack,
});
