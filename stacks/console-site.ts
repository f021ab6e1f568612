/**
 * ConsoleSite: the on-call console in the account, when `console.oidc` is set.
 *
 * - The site: the console's files (the same ones local mode serves, `consoleAssets()`) in a
 *   private bucket, read only by one CloudFront distribution through origin access control;
 *   every answer carries a response-headers policy with a strict CSP (scripts and styles from
 *   the site only, connections to the console API and the IdP only, no frames, no forms).
 * - `console-config.json` beside the page, generated at deploy (the console API's URL is a
 *   deploy-time value): the API base and the sign-in settings, so a new IdP or API is a
 *   deploy, not a rebuild.
 * - The console API: a second HTTP API whose routes (`GET`/`POST /api/{proxy+}`) sit behind API
 *   Gateway's JWT authorizer (the issuer, the audience — the client id unless `audience` is set)
 *   and call the same API function as the CLI's; the handler takes the person from the token's
 *   `sub` through `people`. CORS admits the distribution's origin only. The CLI's IAM-signed
 *   API (stacks/api.ts) is unchanged, and `/events` is not on this one.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import {
  AllowedMethods,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import { BucketDeployment, Source } from "aws-cdk-lib/aws-s3-deployment";
import { Api as HttpApi, type StackContext, use } from "sst/constructs";
import { consoleAssets } from "../packages/local/src/dashboard.ts";
import { API_THROTTLE, Api } from "./api.ts";
import { reflexConfig } from "./context.ts";
import { suppress } from "./nag.ts";

/** The console's files as the bucket holds them: `index.html`, `console/*.js|css`. */
export function siteFiles(): Array<{ key: string; body: string }> {
  return [...consoleAssets()]
    .filter(([path]) => path !== "/")
    .map(([path, asset]) => ({ key: path.replace(/^\//, ""), body: asset.body }));
}

/** The CSP every answer of the site carries; `connect` lists the API's and the IdP's origins. */
export function contentSecurityPolicy(connect: string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${connect.join(" ")}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function originOf(url: string): string {
  return new URL(url).origin;
}

/**
 * CDK's file copier (a singleton Lambda behind BucketDeployment) is CDK's code and grants: what
 * it may do is read the deploy's assets and write the site bucket, and invalidate the cache.
 */
function suppressFileCopier(stack: StackContext["stack"], files: BucketDeployment, site: Bucket): void {
  const siteArn = `Resource::<${stack.getLogicalId(site.node.defaultChild as CfnBucket)}.Arn>/*`;
  suppress(files.handlerRole, [
    {
      id: "AwsSolutions-IAM4",
      reason:
        "CDK's file copier logs through AWS's basic execution policy, as every Lambda of this app does.",
      appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    },
    {
      id: "AwsSolutions-IAM5",
      reason:
        "CDK's BucketDeployment grants: read the deploy's staged assets (the CDK assets bucket), replace the console's files in the site bucket (objects only), and invalidate the distribution's cache (cloudfront:CreateInvalidation has no resource-level scoping in CDK's grant).",
      appliesTo: [
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        "Action::s3:DeleteObject*",
        "Action::s3:Abort*",
        { regex: "/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-[^/]+\\/\\*$/" },
        siteArn,
        "Resource::*",
      ],
    },
  ]);
  for (const child of stack.node.children)
    if (child.node.id.startsWith("Custom::CDKBucketDeployment"))
      suppress(child, [
        {
          id: "AwsSolutions-L1",
          reason:
            "CDK's file copier pins its own Python runtime; it runs only at deploy, with no input from users.",
        },
      ]);
}

export function ConsoleSite({ stack }: StackContext) {
  const oidc = reflexConfig().config.console.oidc;
  if (!oidc) return {};
  const { handler } = use(Api);

  const logs = new Bucket(stack, "ConsoleLogs", {
    encryption: BucketEncryption.S3_MANAGED,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    // CloudFront's standard logs are delivered with an ACL: the bucket must take them.
    objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
    enforceSSL: true,
    lifecycleRules: [{ id: "expire-console-logs", expiration: Duration.days(90) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  suppress(logs, [
    {
      id: "AwsSolutions-S1",
      reason:
        "This bucket is the access-log target of the console site and its distribution; logging it into itself would loop.",
    },
  ]);
  const site = new Bucket(stack, "ConsoleSiteBucket", {
    encryption: BucketEncryption.S3_MANAGED,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    serverAccessLogsBucket: logs,
    serverAccessLogsPrefix: "site/",
    // Kept like every bucket of the app: CloudFormation cannot delete a non-empty bucket, and
    // emptying it would need one more custom resource with delete rights.
    removalPolicy: RemovalPolicy.RETAIN,
  });

  const consoleApi = new HttpApi(stack, "ConsoleApi", {
    accessLog: { retention: "one_month" },
    authorizers: {
      idp: { type: "jwt", jwt: { issuer: oidc.issuer, audience: [oidc.audience ?? oidc.clientId] } },
    },
    defaults: { authorizer: "idp", throttle: API_THROTTLE },
    // The browser calls this API from the distribution's origin, with its token. Any https
    // origin: the distribution's own name cannot be written here (its CSP names this API, so
    // naming it back would be a cycle), and CORS is not the lock — a page elsewhere has no
    // token (nothing is sent with credentials; the JWT authorizer refuses the rest).
    cors: {
      allowOrigins: ["https://*"],
      allowMethods: ["GET", "POST"],
      // if-none-match / etag: the console's polls ask "changed since?" and read the answer's ETag.
      allowHeaders: ["authorization", "content-type", "accept", "if-none-match"],
      exposeHeaders: ["etag"],
      allowCredentials: false,
      maxAge: "10 minutes",
    },
    routes: {
      "GET /api/{proxy+}": { function: handler, authorizer: "idp" },
      "POST /api/{proxy+}": { function: handler, authorizer: "idp" },
    },
  });

  // The API's origin from its id (its URL is a deploy-time value a URL parser cannot read).
  const apiOrigin = `https://${consoleApi.cdk.httpApi.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`;
  const connect = [...new Set([apiOrigin, originOf(oidc.issuer), ...oidc.connectSources.map(originOf)])];
  const headers = new ResponseHeadersPolicy(stack, "ConsoleHeaders", {
    comment: "Reflex console: strict CSP and security headers",
    securityHeadersBehavior: {
      contentSecurityPolicy: { contentSecurityPolicy: contentSecurityPolicy(connect), override: true },
      strictTransportSecurity: {
        accessControlMaxAge: Duration.days(365),
        includeSubdomains: true,
        override: true,
      },
      contentTypeOptions: { override: true },
      frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
      referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
    },
  });
  const distribution = new Distribution(stack, "ConsoleDistribution", {
    comment: "Reflex on-call console",
    defaultRootObject: "index.html",
    priceClass: PriceClass.PRICE_CLASS_100,
    enableLogging: true,
    logBucket: logs,
    logFilePrefix: "cloudfront/",
    defaultBehavior: {
      origin: S3BucketOrigin.withOriginAccessControl(site),
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
      responseHeadersPolicy: headers,
    },
  });
  suppress(distribution, [
    {
      id: "AwsSolutions-CFR1",
      reason: "Who may use the console is decided by the IdP and people, not by the viewer's country.",
    },
    {
      id: "AwsSolutions-CFR2",
      reason:
        "Static files only; every action goes to the console API, behind the JWT authorizer and throttled.",
    },
    {
      id: "AwsSolutions-CFR4",
      reason:
        "The default CloudFront certificate (*.cloudfront.net) is used; a custom domain with TLS 1.2+ is the operator's choice.",
    },
  ]);

  const files = new BucketDeployment(stack, "ConsoleFiles", {
    destinationBucket: site,
    sources: [
      ...siteFiles().map((f) => Source.data(f.key, f.body)),
      Source.jsonData("console-config.json", {
        api: consoleApi.url.replace(/\/$/, ""),
        oidc: { issuer: oidc.issuer, clientId: oidc.clientId, audience: oidc.audience, scopes: oidc.scopes },
      }),
    ],
    distribution,
    distributionPaths: ["/index.html", "/console-config.json", "/console/*"],
    prune: true,
    memoryLimit: 256,
  });

  suppressFileCopier(stack, files, site);

  stack.addOutputs({
    ConsoleUrl: `https://${distribution.distributionDomainName}/`,
    ConsoleApiUrl: consoleApi.url,
  });
  return { site, distribution, consoleApi };
}
