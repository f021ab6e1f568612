/** failover's step implementations (loaded by the step worker only). */
import { implementSteps } from "../define.ts";
import { failover } from "./index.ts";
import { awaitSwitchBack, switchBack, verifySwitchBack } from "./rollback.ts";
import {
  awaitChange,
  checkReadiness,
  inspectLostFailover,
  planSwitch,
  recordRoles,
  switchOver,
  verifySwitch,
} from "./steps.ts";

export const failoverSteps = implementSteps(
  failover,
  {
    checkReadiness,
    planSwitch,
    switchOver,
    awaitChange,
    verifySwitch,
    recordRoles,
    switchBack,
    awaitSwitchBack,
    verifySwitchBack,
  },
  // A lost failover may have moved the Elastic IP or the record and never recorded the roles.
  { inspectLost: inspectLostFailover },
);
