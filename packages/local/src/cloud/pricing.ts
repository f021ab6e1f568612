/**
 * The AWS Price List Query API (`@aws-sdk/client-pricing`, awsJson1_1, target
 * `AWSPriceListService`), as far as `reflex prices refresh` asks it: `GetProducts` for
 * `AmazonEC2` with `TERM_MATCH` filters on product attributes. Each product is answered in
 * AWS's wire shape — `PriceList` is an array of JSON *strings*, each
 * `{ product: { productFamily, attributes, sku }, serviceCode, terms: { OnDemand: { <sku>.<offer>:
 * { priceDimensions: { <sku>.<offer>.<rate>: { unit: "Hrs", pricePerUnit: { USD } } } } } } }` —
 * so the code that reads it is the code that reads AWS's. Products exist for the simulated
 * account's seeded instance types, Linux, shared tenancy, no pre-installed software, capacity
 * status `Used` (plus a `UnusedCapacityReservation` twin and a Windows twin, which the filters
 * must leave out), in us-east-1 and eu-central-1. Prices are AWS's published on-demand ones
 * (aws.amazon.com/ec2/pricing/on-demand/, read 2026-12-01): an estimate, dated.
 */
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";

/** USD per hour, Linux on-demand, by Region and instance type: the seeded types and the example's. */
export const SEEDED_PRICES: Record<string, Record<string, number>> = {
  "us-east-1": {
    "t3.micro": 0.0104,
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "m5.large": 0.096,
    "c5.large": 0.085,
    "r5.xlarge": 0.252,
  },
  "eu-central-1": {
    "t3.micro": 0.012,
    "t3.medium": 0.048,
    "t3.large": 0.096,
    "m5.large": 0.115,
    "c5.large": 0.097,
    "r5.xlarge": 0.304,
  },
};

const LOCATION: Record<string, string> = {
  "us-east-1": "US East (N. Virginia)",
  "eu-central-1": "EU (Frankfurt)",
};

interface Product {
  sku: string;
  attributes: Record<string, string>;
  usdPerHour: number;
}

/** A stable, SKU-like id (AWS's are 16 upper-case characters). */
function skuOf(text: string): string {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const a = h.toString(36).toUpperCase().padStart(7, "0");
  const b = Math.imul(h, 2654435761 >>> 0)
    .toString(36)
    .toUpperCase()
    .padStart(9, "0");
  return `${a}${b}`.slice(0, 16);
}

function products(): Product[] {
  const out: Product[] = [];
  for (const [region, types] of Object.entries(SEEDED_PRICES))
    for (const [instanceType, usd] of Object.entries(types))
      for (const [os, capacitystatus, factor] of [
        ["Linux", "Used", 1],
        ["Linux", "UnusedCapacityReservation", 1],
        ["Windows", "Used", 1.8],
      ] as const) {
        const attributes = {
          servicecode: "AmazonEC2",
          instanceType,
          location: LOCATION[region] as string,
          locationType: "AWS Region",
          regionCode: region,
          operatingSystem: os,
          tenancy: "Shared",
          preInstalledSw: "NA",
          licenseModel: "No License required",
          capacitystatus,
          usagetype: `${region === "us-east-1" ? "" : "EUC1-"}BoxUsage:${instanceType}`,
          operation: os === "Linux" ? "RunInstances" : "RunInstances:0002",
        };
        out.push({
          sku: skuOf(`${region}/${instanceType}/${os}/${capacitystatus}`),
          attributes,
          usdPerHour: Math.round(usd * factor * 10_000) / 10_000,
        });
      }
  return out;
}

const OFFER = "JRTCKXETXF"; // AWS's offer term code for on-demand
const RATE = "6YS6EN2CT7"; // and for its hourly rate

/** One product as AWS's GetProducts answers it: a JSON string. */
function wire(p: Product): string {
  const term = `${p.sku}.${OFFER}`;
  return JSON.stringify({
    product: { productFamily: "Compute Instance", attributes: p.attributes, sku: p.sku },
    serviceCode: "AmazonEC2",
    terms: {
      OnDemand: {
        [term]: {
          priceDimensions: {
            [`${term}.${RATE}`]: {
              unit: "Hrs",
              endRange: "Inf",
              description: `$${p.usdPerHour} per On Demand ${p.attributes.operatingSystem} ${p.attributes.instanceType} Instance Hour`,
              appliesTo: [],
              rateCode: `${term}.${RATE}`,
              beginRange: "0",
              pricePerUnit: { USD: p.usdPerHour.toFixed(10) },
            },
          },
          sku: p.sku,
          effectiveDate: "2026-12-01T00:00:00Z",
          offerTermCode: OFFER,
          termAttributes: {},
        },
      },
    },
    version: "20261201000000",
    publicationDate: "2026-12-01T00:00:00Z",
  });
}

function getProducts(_ctx: OpContext, input: OpInput): object {
  const filters = (input.Filters ?? []) as Array<{ Type?: string; Field?: string; Value?: string }>;
  for (const [i, f] of filters.entries())
    if (f.Type !== "TERM_MATCH" || !f.Field || f.Value === undefined)
      throw new CloudApiError(
        "InvalidParameterException",
        `Filters[${i}]: the simulated Price List takes TERM_MATCH filters with a Field and a Value`,
      );
  if (input.ServiceCode !== "AmazonEC2") return { FormatVersion: "aws_v1", PriceList: [] };
  const max = Math.min(Number(input.MaxResults ?? 100), 100);
  const start = input.NextToken ? Number.parseInt(String(input.NextToken), 10) : 0;
  if (!Number.isInteger(start) || start < 0)
    throw new CloudApiError("InvalidNextTokenException", "The next token is not valid");
  const matched = products().filter((p) => filters.every((f) => p.attributes[f.Field as string] === f.Value));
  const page = matched.slice(start, start + max);
  return {
    FormatVersion: "aws_v1",
    PriceList: page.map(wire),
    ...(start + max < matched.length ? { NextToken: String(start + max) } : {}),
  };
}

export const pricingOperations = { GetProducts: getProducts };
