/**
 * esbuild plugin: `#config-runbooks` (imported by the handlers' runtime) becomes the deployed
 * Reflex config module, so a team's own runbooks — listed in its `reflex.config.ts`, living in
 * its own files — are bundled into every function and registered before the config (JSON from
 * SSM, where runbooks are names) is validated. Their steps stay lazily loaded chunks.
 */
export function configRunbooks(configFile: () => string) {
  return {
    name: "reflex-config-runbooks",
    setup(build: {
      onResolve: (
        opts: { filter: RegExp },
        cb: (args: { path: string }) => { path: string; namespace?: string } | undefined,
      ) => void;
      onLoad: (
        opts: { filter: RegExp; namespace: string },
        cb: () => { contents: string; resolveDir: string; loader: "ts" },
      ) => void;
    }) {
      build.onResolve({ filter: /^#config-runbooks$/ }, () => ({
        path: "config-runbooks",
        namespace: "reflex",
      }));
      build.onLoad({ filter: /.*/, namespace: "reflex" }, () => {
        const file = configFile();
        return {
          contents: `export { default } from ${JSON.stringify(file)};`,
          resolveDir: file.slice(0, file.lastIndexOf("/")),
          loader: "ts",
        };
      });
    },
  };
}
