/** The `k=v` param parser lives in core, shared by the CLI and ChatOps (`/reflex run`). */
export { parseParamPairs } from "@reflex/core/param-pairs";
