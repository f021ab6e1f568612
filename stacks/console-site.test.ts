/**
 * The console in the account (stacks/console-site.ts), from the fixture app's shared synthesis:
 * a private bucket read only by its distribution (origin access control), a strict CSP on every
 * answer, `console-config.json` generated at deploy, and a console API whose every route is
 * behind the JWT authorizer and reaches nothing but the API function the CLI's API calls.
 */
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { Api } from "./api.ts";
import { ConsoleSite } from "./console-site.ts";
import { SHARED_SYNTH_TIMEOUT, sharedSynth } from "./support/shared-synth.ts";

type Resources = Record<string, { Type: string; Properties?: any }>;

let site: Template;
let api: Template;
let nag: string[];
const byType = (t: Template, type: string) => t.findResources(type) as Resources;
const one = (t: Template, type: string) => {
  const found = Object.entries(byType(t, type));
  expect(found).toHaveLength(1);
  return found[0];
};

beforeAll(async () => {
  const synth = await sharedSynth();
  site = synth.template(ConsoleSite);
  api = synth.template(Api);
  nag = synth.assembly.stacks
    .filter((s) => /ConsoleSite/.test(s.stackName))
    .flatMap((s) =>
      s.messages
        .filter(
          (m) => (m.level === "error" || m.level === "warning") && /AwsSolutions-/.test(String(m.entry.data)),
        )
        .map((m) => `${m.id}: ${String(m.entry.data).split("\n")[0]}`),
    );
}, SHARED_SYNTH_TIMEOUT);

describe("the console as a static site", () => {
  it("keeps the files in a private, encrypted bucket that refuses plain HTTP", () => {
    site.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: "site/" }),
    });
  });

  it("lets only its CloudFront distribution read the bucket, through origin access control", () => {
    const [distributionId, distribution] = one(site, "AWS::CloudFront::Distribution");
    const origin = distribution.Properties.DistributionConfig.Origins[0];
    expect(origin.OriginAccessControlId).toBeDefined();
    expect(origin.S3OriginConfig?.OriginAccessIdentity ?? "").toBe("");
    one(site, "AWS::CloudFront::OriginAccessControl");

    const policies = Object.values(byType(site, "AWS::S3::BucketPolicy")).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as any[],
    );
    const allows = policies.filter((s) => s.Effect === "Allow");
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Action: "s3:GetObject",
      Principal: { Service: "cloudfront.amazonaws.com" },
      Condition: { StringEquals: { "AWS:SourceArn": expect.anything() } },
    });
    expect(JSON.stringify(allows[0].Condition)).toContain(distributionId);
  });

  it("answers with HTTPS only and a strict CSP: scripts and styles from the site, connections to the API and the IdP", () => {
    const [, distribution] = one(site, "AWS::CloudFront::Distribution");
    const behaviour = distribution.Properties.DistributionConfig.DefaultCacheBehavior;
    expect(behaviour.ViewerProtocolPolicy).toBe("redirect-to-https");
    expect(behaviour.AllowedMethods).toEqual(["GET", "HEAD"]);
    expect(behaviour.ResponseHeadersPolicyId).toBeDefined();

    const [, policy] = one(site, "AWS::CloudFront::ResponseHeadersPolicy");
    const security = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = JSON.stringify(security.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("style-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).toContain("https://cognito-idp.eu-central-1.amazonaws.com");
    expect(csp).toContain("https://reflex-fixture.auth.eu-central-1.amazoncognito.com");
    expect(security.StrictTransportSecurity.AccessControlMaxAgeSec).toBeGreaterThanOrEqual(31536000);
    expect(security.FrameOptions.FrameOption).toBe("DENY");
    expect(security.ContentTypeOptions).toBeDefined();
  });

  it("generates console-config.json at deploy from the console API's URL, beside the page and its scripts", () => {
    const [, deployment] = one(site, "Custom::CDKBucketDeployment");
    // One source per file, and the config file with the API's URL filled in at deploy.
    expect(deployment.Properties.SourceObjectKeys.length).toBeGreaterThanOrEqual(6);
    expect(JSON.stringify(deployment.Properties.SourceMarkers)).toContain("ConsoleApi");
    expect(deployment.Properties.DistributionPaths).toContain("/console-config.json");
  });
});

it("passes cdk-nag's AwsSolutions checks in the console's stack", () => {
  expect(nag).toEqual([]);
});

describe("the console API", () => {
  it("puts every route behind a JWT authorizer with the issuer and the client id as audience", () => {
    const [authorizerId, authorizer] = one(site, "AWS::ApiGatewayV2::Authorizer");
    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: {
        Issuer: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Fixture01",
        Audience: ["fixtureconsoleclient"],
      },
    });
    const routes = Object.values(byType(site, "AWS::ApiGatewayV2::Route")).map((r) => r.Properties);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(["GET /api/{proxy+}", "POST /api/{proxy+}"]);
    for (const r of routes) {
      expect(r.AuthorizationType).toBe("JWT");
      expect(r.AuthorizerId).toEqual({ Ref: authorizerId });
    }
  });

  it("can do nothing beyond the API: its routes reach only the API function, and the CLI's routes stay IAM-signed", () => {
    const integrations = Object.values(byType(site, "AWS::ApiGatewayV2::Integration")).map(
      (i) => i.Properties.IntegrationUri,
    );
    expect(integrations.length).toBeGreaterThan(0);
    for (const uri of integrations) expect(JSON.stringify(uri)).toMatch(/ApiHandler/);
    // Nothing in the console's stack may call AWS on the person's behalf but the API function:
    // the only roles are the file copier's, which writes to the site bucket alone.
    const roles = Object.values(byType(site, "AWS::IAM::Policy")).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as any[],
    );
    const actions = new Set(roles.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));
    for (const a of actions)
      expect(a).toMatch(/^(s3:|cloudfront:CreateInvalidation|cloudfront:GetInvalidation|logs:|xray:)/);
    const cliRoutes = Object.values(byType(api, "AWS::ApiGatewayV2::Route")).map((r) => r.Properties);
    for (const r of cliRoutes.filter((r) => !r.RouteKey.includes("/slack/")))
      expect([r.RouteKey, r.AuthorizationType]).toEqual([r.RouteKey, "AWS_IAM"]);
  });
});
