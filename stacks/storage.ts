/**
 * Storage: the state table (executions, locks, approvals, cooldowns, audit) and the reports
 * bucket (run manifests), plus the bucket their access logs go to.
 *
 * The table is built from core's `createTableInput()` / `TABLE_KEYS`, the same definition local
 * mode creates in dynalite, so the deployed table and the local one cannot drift.
 */
import { createTableInput, must, TABLE_KEYS } from "@reflex/core";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import {
  type Attribute,
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  Table,
  TableEncryption,
} from "aws-cdk-lib/aws-dynamodb";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectOwnership,
  StorageClass,
} from "aws-cdk-lib/aws-s3";
import { ParameterTier, StringParameter } from "aws-cdk-lib/aws-ssm";
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from "aws-cdk-lib/cx-api";
import { Construct } from "constructs";
import type { Stack, StackContext } from "sst/constructs";
import {
  configParameterName,
  isProdStage,
  reflexConfig,
  removalPolicyFor,
  resourceName,
  STANDARD_PARAMETER_BYTES,
} from "./context.ts";
import { suppress } from "./nag.ts";

const ATTRIBUTE_TYPES = {
  S: AttributeType.STRING,
  N: AttributeType.NUMBER,
  B: AttributeType.BINARY,
} as const;

/** Days before manifests move to Infrequent Access, and before old object versions expire. */
export const LIFECYCLE = { manifestsToIaDays: 30, noncurrentVersionDays: 90, accessLogDays: 365 } as const;

export function Storage({ stack }: StackContext) {
  const input = createTableInput("unused");
  const attribute = (name: string): Attribute => {
    const def = input.AttributeDefinitions.find((a) => a.AttributeName === name);
    if (!def) throw new Error(`createTableInput() does not define attribute '${name}'`);
    return { name, type: ATTRIBUTE_TYPES[def.AttributeType] };
  };
  const key = (
    schema: ReadonlyArray<{ AttributeName: string; KeyType: "HASH" | "RANGE" }>,
    type: "HASH" | "RANGE",
  ) => {
    const found = schema.find((k) => k.KeyType === type);
    return found ? attribute(found.AttributeName) : undefined;
  };

  // The table's name is explicit and per stage, so data kept by a removed prod stage stays
  // findable. CloudFormation cannot create a table whose name is taken, so to deploy a stage
  // again over its retained table, name it in REFLEX_EXISTING_TABLE: the stacks then use that
  // table as it is (docs/deploy.md, "Removing and redeploying a stage").
  const tableName = stateTableName(stack);
  const existing = process.env.REFLEX_EXISTING_TABLE;
  if (existing !== undefined && existing !== "" && existing !== tableName) {
    throw new Error(
      `REFLEX_EXISTING_TABLE is '${existing}', but stage '${stack.stage}' keeps its state in '${tableName}'`,
    );
  }
  if (existing) {
    const table = Table.fromTableAttributes(stack, "State", {
      tableName,
      globalIndexes: input.GlobalSecondaryIndexes.map((g) => g.IndexName),
    });
    return finish(table);
  }
  const table = new Table(stack, "State", {
    tableName,
    partitionKey: must(key(input.KeySchema, "HASH"), 'key(input.KeySchema, "HASH")'),
    sortKey: key(input.KeySchema, "RANGE"),
    billingMode:
      input.BillingMode === "PAY_PER_REQUEST" ? BillingMode.PAY_PER_REQUEST : BillingMode.PROVISIONED,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
    encryption: TableEncryption.AWS_MANAGED,
    deletionProtection: isProdStage(stack.stage),
    removalPolicy: removalPolicyFor(stack),
  });
  for (const gsi of input.GlobalSecondaryIndexes) {
    table.addGlobalSecondaryIndex({
      indexName: gsi.IndexName,
      partitionKey: must(key(gsi.KeySchema, "HASH"), 'key(gsi.KeySchema, "HASH")'),
      sortKey: key(gsi.KeySchema, "RANGE"),
      projectionType: ProjectionType[gsi.Projection.ProjectionType],
    });
  }

  return finish(table);

  function finish(table: ITable) {
    // Server access logs are delivered under a bucket policy, not ACLs (objects stay owner-enforced).
    // The flag is CDK's; SST creates the App, so it is set on the scope of the two buckets.
    const buckets = new Construct(stack, "Buckets");
    buckets.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

    // Server access logs need SSE-S3 on the target bucket; they are kept a year, then expire.
    const accessLogs = new Bucket(buckets, "AccessLogs", {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(LIFECYCLE.accessLogDays) }],
      // Buckets are kept in every stage: they hold evidence, and CloudFormation cannot delete a non-empty bucket.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    suppress(accessLogs, [
      {
        id: "AwsSolutions-S1",
        reason:
          "This bucket is the server-access-log target of the reports bucket; logging it into itself would loop.",
      },
    ]);

    const reports = new Bucket(buckets, "Reports", {
      encryption: BucketEncryption.S3_MANAGED,
      versioned: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: "reports/",
      lifecycleRules: [
        {
          id: "manifests-to-infrequent-access",
          prefix: "manifests/",
          transitions: [
            {
              storageClass: StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(LIFECYCLE.manifestsToIaDays),
            },
          ],
        },
        {
          id: "expire-noncurrent-versions",
          noncurrentVersionExpiration: Duration.days(LIFECYCLE.noncurrentVersionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // The deployed config, read by every function at cold start (packages/functions/src/lib/runtime.ts).
    const { json } = reflexConfig();
    const config = new StringParameter(stack, "Config", {
      parameterName: configParameterName(stack),
      description: "Reflex: the deployed reflex.config.ts, validated, as JSON",
      stringValue: json,
      tier:
        Buffer.byteLength(json) > STANDARD_PARAMETER_BYTES ? ParameterTier.ADVANCED : ParameterTier.STANDARD,
    });

    stack.addOutputs({ StateTable: table.tableName, ReportsBucket: reports.bucketName });
    return { table, reports, config };
  }
}

/** `<app>-<stage>-state`: the state table's name, fixed per stage. */
export function stateTableName(stack: Stack): string {
  return resourceName(stack, "state", 255);
}
