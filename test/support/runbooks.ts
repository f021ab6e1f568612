/**
 * Runbooks made for tests from an example's.
 */
import { restartService } from "../../examples/runbooks/restart-service/index.ts";

/**
 * `goes-nowhere`: restart-service whose state machine is not valid ASL (its one state's `Next`
 * names a state that does not exist), which local mode refuses at start.
 */
export const goesNowhere = {
  ...restartService,
  name: "goes-nowhere",
  risk: "low" as const,
  rollback: ["Undo"],
  stateMachine: { StartAt: "Undo", States: { Undo: { Type: "Pass" as const, Next: "Nowhere" } } },
};
