/** patch's step implementations (loaded by the step worker only). */
import { implementSteps } from "../define.ts";
import { patch } from "./index.ts";
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

export const patchSteps = implementSteps(patch, {
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
});
