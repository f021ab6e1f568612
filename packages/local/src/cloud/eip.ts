/**
 * Elastic IPs (VPC) and their associations, as EC2 answers for them: DescribeAddresses,
 * AllocateAddress, AssociateAddress (with AWS's reassociation rule: moving an address that is
 * associated elsewhere needs `AllowReassociation`) and DisassociateAddress. Also
 * DescribeInstanceStatus, whose status checks tests can set (`impairStatusChecks`).
 */
import type { Address } from "@aws-sdk/client-ec2";
import { CloudApiError } from "./api-error.ts";
import type { OpContext, OpInput } from "./fleet.ts";
import { type InstanceRecord, newId, type TagRecord } from "./model.ts";

export interface AddressRecord {
  allocationId: string;
  publicIp: string;
  associationId?: string;
  instanceId?: string;
  tags: TagRecord[];
}

export type CheckStatus = "ok" | "impaired" | "initializing" | "insufficient-data";
export interface StatusCheckRecord {
  system: CheckStatus;
  instance: CheckStatus;
}

const addresses = (ctx: OpContext) => {
  ctx.rs.addresses ??= [];
  return ctx.rs.addresses;
};

function instanceOf(ctx: OpContext, id: unknown): InstanceRecord {
  const instance = ctx.rs.instances.find((i) => i.id === id);
  if (!instance)
    throw new CloudApiError("InvalidInstanceID.NotFound", `The instance ID '${String(id)}' does not exist`);
  return instance;
}

function addressOf(ctx: OpContext, input: { AllocationId?: string; PublicIp?: string }): AddressRecord {
  const found = addresses(ctx).find((a) =>
    input.AllocationId ? a.allocationId === input.AllocationId : a.publicIp === input.PublicIp,
  );
  if (!found) {
    if (input.AllocationId)
      throw new CloudApiError(
        "InvalidAllocationID.NotFound",
        `The allocation ID '${input.AllocationId}' does not exist`,
      );
    throw new CloudApiError("InvalidAddress.NotFound", `Address '${input.PublicIp}' not found.`);
  }
  return found;
}

function shapeAddress(ctx: OpContext, a: AddressRecord): Address {
  const instance = a.instanceId ? ctx.rs.instances.find((i) => i.id === a.instanceId) : undefined;
  return {
    AllocationId: a.allocationId,
    PublicIp: a.publicIp,
    Domain: "vpc",
    NetworkBorderGroup: ctx.region,
    PublicIpv4Pool: "amazon",
    ...(a.associationId
      ? { AssociationId: a.associationId, InstanceId: a.instanceId, PrivateIpAddress: instance?.privateIp }
      : {}),
    ...(a.tags.length ? { Tags: a.tags.map((t) => ({ ...t })) } : {}),
  };
}

/** A new Elastic IP in the region (test and seed helper, and AllocateAddress). */
export function allocateAddress(
  ctx: OpContext,
  publicIp: string,
  allocationId?: string,
  tags: TagRecord[] = [],
): AddressRecord {
  const record: AddressRecord = {
    allocationId: allocationId ?? newId(ctx.state, "eipalloc"),
    publicIp,
    tags,
  };
  addresses(ctx).push(record);
  return record;
}

/** Moves (or puts) an address on an instance, as AssociateAddress does. */
export function associate(
  ctx: OpContext,
  a: AddressRecord,
  instanceId: string,
  allowReassociation: boolean,
): string {
  const instance = instanceOf(ctx, instanceId);
  if (instance.state === "terminated" || instance.state === "shutting-down")
    throw new CloudApiError(
      "IncorrectInstanceState",
      `The instance '${instanceId}' is not in a valid state for this operation.`,
    );
  if (a.instanceId && a.instanceId !== instanceId && !allowReassociation)
    throw new CloudApiError(
      "Resource.AlreadyAssociated",
      `resource ${a.allocationId} is already associated with associate-id ${a.associationId}`,
    );
  // An instance has one primary public address: an address already on it is replaced.
  for (const other of addresses(ctx))
    if (other !== a && other.instanceId === instanceId) {
      other.instanceId = undefined;
      other.associationId = undefined;
    }
  a.instanceId = instanceId;
  a.associationId = newId(ctx.state, "eipassoc");
  return a.associationId;
}

function describeAddresses(ctx: OpContext, input: { AllocationIds?: string[]; PublicIps?: string[] }) {
  let out = addresses(ctx);
  if (input.AllocationIds?.length)
    out = input.AllocationIds.map((id) => addressOf(ctx, { AllocationId: id }));
  if (input.PublicIps?.length) out = input.PublicIps.map((ip) => addressOf(ctx, { PublicIp: ip }));
  return { Addresses: out.map((a) => shapeAddress(ctx, a)) };
}

function associateAddress(
  ctx: OpContext,
  input: { AllocationId?: string; PublicIp?: string; InstanceId?: string; AllowReassociation?: boolean },
) {
  if (!input.InstanceId)
    throw new CloudApiError(
      "MissingParameter",
      "The request must contain the parameter InstanceId (or NetworkInterfaceId)",
    );
  const a = addressOf(ctx, input);
  return { AssociationId: associate(ctx, a, input.InstanceId, input.AllowReassociation === true) };
}

function disassociateAddress(ctx: OpContext, input: { AssociationId?: string }) {
  const a = addresses(ctx).find((x) => x.associationId && x.associationId === input.AssociationId);
  if (!a)
    throw new CloudApiError(
      "InvalidAssociationID.NotFound",
      `The association ID '${input.AssociationId}' does not exist`,
    );
  a.instanceId = undefined;
  a.associationId = undefined;
  return {};
}

function allocate(ctx: OpContext, input: { Domain?: string }) {
  const n = addresses(ctx).length;
  const a = allocateAddress(ctx, `198.51.100.${(n % 250) + 1}`);
  return { AllocationId: a.allocationId, PublicIp: a.publicIp, Domain: input.Domain ?? "vpc" };
}

export const eipOperations: Record<string, (ctx: OpContext, input: OpInput) => object> = {
  DescribeAddresses: describeAddresses,
  AllocateAddress: allocate,
  AssociateAddress: associateAddress,
  DisassociateAddress: disassociateAddress,
};
// DescribeInstanceStatus is answered by ec2-patching.ts, which honours the checks set here.
