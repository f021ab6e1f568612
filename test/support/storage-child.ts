/**
 * Local mode's storage alone, in a child process, on the data dir given as its argument: prints
 * `ready <s3 endpoint>` once it serves, then serves until killed. For tests that kill it in the
 * middle of a write (`REFLEX_CRASH_AT=s3:after-part`, packages/core/src/crash.ts) and start the
 * store again on the same dir. Run as `node --import tsx test/support/storage-child.ts <dir>`.
 */
import { startStorage } from "../../packages/local/src/storage.ts";

const dir = process.argv[2];
if (!dir) throw new Error("usage: storage-child.ts <data dir>");
const storage = await startStorage({ dataDir: dir, region: "us-east-1" });
process.stdout.write(`ready ${storage.s3Endpoint}\n`);
