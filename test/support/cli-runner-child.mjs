// The child side of cli-runner.ts: the CLI loaded once, as packages/local/bin/reflex.mjs loads
// it (tsx registered, then src/cli/main.ts), running one command a message: `main(argv)` with
// the process's own stdout and stderr, which are captured for the answer.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../../packages/local/src/cli/main.ts");

let output = "";
for (const stream of [process.stdout, process.stderr]) {
  // processIo looks process.stdout.write up at each call, so this sees what a command prints.
  stream.write = (chunk, encoding, done) => {
    output += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    (typeof encoding === "function" ? encoding : done)?.();
    return true;
  };
}

process.on("message", async ({ argv, env }) => {
  Object.assign(process.env, env);
  output = "";
  let code;
  try {
    code = await main(argv);
  } catch (e) {
    // What the bin would do with an error main did not handle: print it, exit 1.
    output += `${e?.stack ?? e}\n`;
    code = 1;
  }
  process.send({ code, output });
});
process.send({ ready: true });
