/**
 * Local storage services, in-process on 127.0.0.1: dynalite (DynamoDB, data under the data
 * dir so history survives a restart) and s3rver (S3, for reports and manifests).
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buffer } from "node:stream/consumers";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { createTableInput } from "@reflex/core";
import { crashPoint } from "@reflex/core/crash";

const require = createRequire(import.meta.url);
// Both are CommonJS without types.
const dynalite = require("dynalite") as (opts: Record<string, unknown>) => import("node:http").Server;
const S3rver = require("s3rver") as new (
  opts: Record<string, unknown>,
) => {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  store: S3rverStore;
};

/** What of s3rver's file store (lib/stores/filesystem.js) {@link wholeObjects} uses and replaces. */
/** s3rver's error, which it answers as S3 does (code, message, status). */
const S3Error = require("s3rver/lib/models/error.js") as new (
  code: string,
  message: string,
  detail?: Record<string, string>,
) => Error;

export interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<unknown>;
}
interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | NodeJS.ReadableStream;
  metadata: unknown;
}

/**
 * s3rver's putObject, made to answer only once the object is on disk. Its own resolves once the
 * bytes are handed to a write stream, and a GET before they land reads the file's size so far:
 * an empty object (a drill's report read back empty under load; storage.test.ts). Here the
 * bytes are written to a file beside it and renamed over it, so a GET finds the old object or
 * the new one whole, never a part of one.
 */
async function putWhole(store: S3rverStore, object: S3rverObject): Promise<{ size: number; md5: string }> {
  const path = store.getResourcePath(object.bucket, object.key, "object");
  const content = Buffer.isBuffer(object.content) ? object.content : await buffer(object.content);
  const md5 = createHash("md5").update(content).digest("hex");
  await mkdir(dirname(path), { recursive: true });
  // Not named `…._S3rver_object`: s3rver's listings never show it.
  const part = `${path}.${randomUUID()}.part`;
  try {
    await writeFile(part, content);
    crashPoint("s3:after-part");
    await rename(part, path);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  await store.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size: content.length, md5 };
}

/**
 * Makes s3rver's file store answer a PUT once its object is whole on disk ({@link putWhole}), and
 * take one PUT, GET (or HEAD) or DELETE of a key at a time: an object is three files (its bytes,
 * their md5, its metadata), written one after another, so a GET between a PUT's bytes and its
 * md5 answered the new bytes with the old ETag and metadata, and two PUTs of one key could leave
 * the bytes of one with the metadata of the other. A GET holds its key until its file is open
 * (what it reads then is that file, whatever is renamed over it).
 */
export function wholeObjects(store: S3rverStore): void {
  const { getObject, deleteObject, getResourcePath } = store;
  // A key's `..` (sent escaped, `..%2F`) is a step up on disk: `../../../x` wrote beside the
  // store's dir, anywhere the process may write. Every file of a key is found here, so a key that
  // would leave its bucket's dir is refused (400), for every request.
  store.getResourcePath = (bucket, key, resource) => {
    const path = getResourcePath.call(store, bucket, key, resource);
    const inside = getResourcePath.call(store, bucket, "", "").replace(/[^/\\]*$/, "");
    if (!path.startsWith(inside))
      throw new S3Error("InvalidArgument", "A key's `..` may not reach outside its bucket.", { Key: key });
    return path;
  };
  const tails = new Map<string, Promise<unknown>>();
  const oneAtATime = <T>(bucket: string, key: string, op: () => Promise<T>): Promise<T> => {
    const path = store.getResourcePath(bucket, key, "object");
    const run = (tails.get(path) ?? Promise.resolve()).then(op);
    const tail = run.catch(() => {});
    tails.set(path, tail);
    tail.then(() => tails.get(path) === tail && tails.delete(path));
    return run;
  };
  store.putObject = (object) => oneAtATime(object.bucket, object.key, () => putWhole(store, object));
  store.getObject = (bucket, key, options) =>
    oneAtATime(bucket, key, () => getObject.call(store, bucket, key, options));
  store.deleteObject = (bucket, key) => oneAtATime(bucket, key, () => deleteObject.call(store, bucket, key));
}

/** A PUT's bytes written beside its object ({@link putWhole}): `<object file>.<uuid>.part`. */
const PART = /\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.part$/;

/**
 * Removes the `.part` files under `dir` that a process killed in the middle of a PUT left there
 * (its object is the one before that PUT, whole; the PUT was never answered). Run before the
 * store serves: no PUT of its own is in flight then.
 */
export async function sweepParts(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir, { recursive: true });
  } catch {
    return []; // no store yet
  }
  const parts = names.filter((n) => PART.test(n)).map((n) => join(dir, n));
  for (const p of parts) await rm(p, { force: true });
  return parts;
}

export interface Storage {
  dynamoEndpoint: string;
  s3Endpoint: string;
  close(): Promise<void>;
}

const credentials = { accessKeyId: "local", secretAccessKey: "local" };
/** s3rver accepts only its own fixed key pair. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/**
 * Starts dynalite and s3rver; `dataDir` undefined keeps DynamoDB in memory (tests) and S3 in a
 * temporary dir that `close()` removes.
 */
export async function startStorage(opts: { dataDir?: string; region: string }): Promise<Storage> {
  const dynamo = dynalite({
    ...(opts.dataDir ? { path: join(opts.dataDir, "dynamodb") } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    dynamo.once("error", reject);
    dynamo.listen(0, "127.0.0.1", () => resolve());
  });
  const dynamoEndpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;
  // s3rver keeps objects only on disk: without a data dir, in a dir of this start's own.
  const s3Home = opts.dataDir ?? mkdtempSync(join(tmpdir(), "reflex-s3-"));
  const s3 = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: join(s3Home, "s3"),
  });
  wholeObjects(s3.store);
  if (opts.dataDir) await sweepParts(join(s3Home, "s3"));
  const s3Address = await s3.run();
  return {
    dynamoEndpoint,
    s3Endpoint: `http://127.0.0.1:${s3Address.port}`,
    async close() {
      await s3.close();
      // Stop taking connections, then drop the idle keep-alive ones, which would hold the close for
      // seconds (6 s measured). A request still being answered is let finish: dropping its socket
      // would not stop dynalite, which would then write to the closed database (an uncaught error).
      const server = dynamo as unknown as { closeIdleConnections?: () => void };
      await new Promise<void>((resolve) => {
        dynamo.close(() => resolve());
        server.closeIdleConnections?.();
      });
      if (!opts.dataDir) rmSync(s3Home, { recursive: true, force: true });
    },
  };
}

/** Creates the state table if it is not there yet (idempotent). */
export async function ensureTable(endpoint: string, region: string, tableName: string): Promise<void> {
  const ddb = new DynamoDBClient({ endpoint, region, credentials });
  try {
    await ddb.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (err) {
    if ((err as Error).name !== "ResourceNotFoundException") throw err;
    await ddb.send(new CreateTableCommand(createTableInput(tableName)));
  } finally {
    ddb.destroy();
  }
}

/** Creates the reports bucket if it is not there yet (idempotent). */
export async function ensureBucket(endpoint: string, region: string, bucket: string): Promise<void> {
  const s3 = new S3Client({ endpoint, region, credentials: S3RVER_CREDENTIALS, forcePathStyle: true });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
}
