/**
 * What `#config-runbooks` is outside a deployed bundle (local mode, tests): nothing, because
 * there the config module itself was loaded and its runbooks registered. A deployed bundle
 * resolves `#config-runbooks` to the deployed config module instead (stacks/support/config-runbooks.ts),
 * so its runbooks' manifests are in every function and registered before the config is read.
 */
const none: { runbooks?: unknown[] } = { runbooks: [] };
export default none;
