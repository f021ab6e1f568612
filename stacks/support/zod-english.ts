/**
 * esbuild plugin: zod's classic API re-exports all of its ~45 locales (`z.locales`), which made
 * them about half of every Lambda bundle. Reflex only speaks English, so bundles get zod's `en`
 * locale alone (the one zod configures by default).
 */
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

const STUB = join(dirname(fileURLToPath(import.meta.url)), "zod-locales.js");

export const zodEnglishOnly = {
  name: "zod-english-only",
  setup(build: {
    onResolve: (
      opts: { filter: RegExp },
      cb: (args: { importer: string }) => { path: string } | undefined,
    ) => void;
  }) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${sep}zod${sep}v4${sep}`) ? { path: STUB } : undefined,
    );
  },
};
