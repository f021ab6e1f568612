/** scale's step implementations (loaded by the step worker only). */
import { implementSteps } from "../define.ts";
import { scale } from "./index.ts";
import { restoreCapacity, restoreInstanceType } from "./rollback.ts";
import {
  checkCapacity,
  modifyType,
  planCapacity,
  planResize,
  setCapacity,
  snapshotVolumes,
  startInstance,
  stopInstance,
  verifyResize,
} from "./steps.ts";

export const scaleSteps = implementSteps(scale, {
  planCapacity,
  setCapacity,
  checkCapacity,
  restoreCapacity,
  planResize,
  snapshotVolumes,
  stopInstance,
  modifyType,
  startInstance,
  verifyResize,
  restoreInstanceType,
});
