/**
 * What SST adds to every stack on its own, and the cdk-nag findings on it, with reasons.
 * SST v2 creates a `CustomResourceHandler` function in each stack (its custom resources, e.g.
 * secret prefetching, run on it); its runtime and role are SST's, not ours to choose.
 */
import { Stack as CdkStack } from "aws-cdk-lib";
import type { App } from "sst/constructs";
import { suppress } from "./nag.ts";

export function suppressSstInternals(app: App): void {
  for (const child of app.node.children) {
    if (!(child instanceof CdkStack)) continue;
    const handler = child.node.tryFindChild("CustomResourceHandler");
    if (!handler) continue;
    suppress(handler, [
      {
        id: "AwsSolutions-IAM4",
        reason:
          "SST's own per-stack custom-resource handler uses AWSLambdaBasicExecutionRole (its CloudWatch Logs only); SST creates it and owns its role.",
        appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
      },
      {
        id: "AwsSolutions-L1",
        reason:
          "SST 2.49.8 pins its custom-resource handler to nodejs22.x (supported until 2027); Reflex's own functions run nodejs24.x.",
      },
    ]);
  }
}
