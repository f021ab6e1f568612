/** patch's step implementations (loaded by the step worker only). */
import { implementSteps } from "../define.ts";
import { patch } from "./index.ts";
import { inspectLostPatch } from "./lost.ts";
import { report } from "./report.ts";
import { checkRollback, finishTarget, rollbackTarget } from "./rollback.ts";
import {
  beginTarget,
  checkCommand,
  checkHealth,
  checkReady,
  installPatches,
  plan,
  prepareTarget,
  rebootIfNeeded,
  reregister,
  verifyTarget,
} from "./steps.ts";

export const patchSteps = implementSteps(
  patch,
  {
    plan,
    beginTarget,
    prepareTarget,
    checkReady,
    installPatches,
    checkCommand,
    rebootIfNeeded,
    checkHealth,
    reregister,
    verifyTarget,
    rollbackTarget,
    checkRollback,
    finishTarget,
    report,
  },
  // A lost patch may have left instances out of their target groups, mid-patch or mid-reboot.
  { inspectLost: inspectLostPatch },
);
