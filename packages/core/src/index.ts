export * as Aws from "./aws.ts";
export * from "./config/index.ts";
export * from "./errors.ts";
export * as Runbooks from "./runbooks/index.ts";
export * as Runs from "./runs.ts";
export * from "./state/index.ts";
export * from "./runbooks/asl.ts";
