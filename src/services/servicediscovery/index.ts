/**
 * AWS Cloud Map (servicediscovery, awsJson1_1, target prefix Route53AutoNaming_v20170314):
 * namespaces (private DNS, public DNS, HTTP), services, instances, DiscoverInstances, operations
 * and tags, over src/domain/servicediscovery/. Berth runs no DNS server: names resolve through
 * DiscoverInstances. Every operation completes at once (its operation is SUCCESS).
 */
import type * as SD from '../../generated/servicediscovery.js';
import { ServiceModel } from '../../protocol/model.js';
import { decodeToken, encodeToken } from '../../domain/common.js';
import { sdErrors } from '../../domain/servicediscovery/errors.js';
import { discoverInstances, getInstance, instanceCounts, listInstances, registerInstance, deregisterInstance } from '../../domain/servicediscovery/instances.js';
import { changeTags, createNamespace, createService, deleteNamespace, deleteService, getNamespace, getService, listNamespaces, listServices, mergeSdTags, tagsOf, updateService, type NamespaceSpec } from '../../domain/servicediscovery/namespaces.js';
import { getOperation, listOperations } from '../../domain/servicediscovery/operations.js';
import type { NamespaceRecord, ServiceRecord } from '../../domain/servicediscovery/records.js';
import type { Handlers, RequestContext, ServiceDefinition } from '../types.js';

/** A page of `items` (in `keyOf` order) after the token, at most `max` (default 100). */
function page<T>(items: T[], keyOf: (t: T) => string, token: string | undefined, max: number | undefined): { items: T[]; next?: string } {
  const after = decodeToken(token, () => sdErrors.invalidInput('The NextToken value is invalid.'));
  const sorted = [...items].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((t) => keyOf(t) > after);
  const out = rest.slice(0, Math.min(100, Math.max(1, max ?? 100)));
  return { items: out, next: rest.length > out.length ? encodeToken(keyOf(out[out.length - 1]!)) : undefined };
}

/** Whether `value` passes a Cloud Map filter (EQ, IN, BEGINS_WITH; BETWEEN for dates is in `between`). */
function passes(value: string, f: { Condition?: string; Values: string[] }): boolean {
  switch (f.Condition ?? 'EQ') {
    case 'EQ':
      return value === f.Values[0];
    case 'IN':
      return f.Values.includes(value);
    case 'BEGINS_WITH':
      return value.startsWith(f.Values[0] ?? '');
    default:
      throw sdErrors.invalidInput(`Condition ${String(f.Condition).slice(0, 32)} is not valid for this filter.`);
  }
}

function describeNamespace(ns: NamespaceRecord, serviceCount: number): SD.Namespace {
  return {
    Id: ns.id,
    Arn: ns.arn,
    Name: ns.name,
    Type: ns.type,
    Description: ns.description,
    ServiceCount: serviceCount,
    CreateDate: new Date(ns.createdAt),
    CreatorRequestId: ns.creatorRequestId,
    ResourceOwner: ns.arn.split(':')[4],
    Properties: {
      DnsProperties: ns.type === 'HTTP' ? {} : { HostedZoneId: `Z${ns.id.slice(3).toUpperCase()}`, SOA: ns.soaTtl === undefined ? undefined : { TTL: ns.soaTtl } },
      HttpProperties: { HttpName: ns.name },
    },
  };
}

function describeService(svc: ServiceRecord, instanceCount: number): SD.Service {
  return {
    Id: svc.id,
    Arn: svc.arn,
    Name: svc.name,
    NamespaceId: svc.namespaceId,
    Description: svc.description,
    Type: svc.type,
    DnsConfig: svc.dnsConfig,
    HealthCheckConfig: svc.healthCheckConfig,
    HealthCheckCustomConfig: svc.healthCheckCustomConfig,
    InstanceCount: instanceCount,
    CreateDate: new Date(svc.createdAt),
    CreatorRequestId: svc.creatorRequestId,
    ResourceOwner: svc.arn.split(':')[4],
    CreatedByAccount: svc.arn.split(':')[4],
  };
}

async function serviceCount(ctx: RequestContext, namespaceId: string): Promise<number> {
  return (await listServices(ctx)).filter((x) => x.namespaceId === namespaceId).length;
}

const createNs = (type: NamespaceSpec['type']) => async (input: SD.CreatePrivateDnsNamespaceRequest | SD.CreatePublicDnsNamespaceRequest | SD.CreateHttpNamespaceRequest, ctx: RequestContext) => ({
  OperationId: await createNamespace(ctx, {
    name: input.Name,
    type,
    description: input.Description,
    vpc: 'Vpc' in input ? input.Vpc : undefined,
    soaTtl: 'Properties' in input ? input.Properties?.DnsProperties.SOA.TTL : undefined,
    creatorRequestId: input.CreatorRequestId,
    tags: input.Tags ?? [],
  }),
});

/** Cloud Map's handlers. */
export const serviceDiscoveryHandlers: Handlers<SD.Operations> = {
  CreatePrivateDnsNamespace: createNs('DNS_PRIVATE'),
  CreatePublicDnsNamespace: createNs('DNS_PUBLIC'),
  CreateHttpNamespace: createNs('HTTP'),
  async GetNamespace(input, ctx) {
    const ns = await getNamespace(ctx, input.Id);
    return { Namespace: describeNamespace(ns, await serviceCount(ctx, ns.id)) };
  },
  async ListNamespaces(input, ctx) {
    let all = await listNamespaces(ctx);
    for (const f of input.Filters ?? []) {
      if (f.Name === 'TYPE') all = all.filter((n) => passes(n.type, f));
      else if (f.Name === 'NAME' || f.Name === 'HTTP_NAME') all = all.filter((n) => passes(n.name, f));
      else if (f.Name === 'RESOURCE_OWNER') all = all.filter((n) => passes(f.Values[0] === 'SELF' ? 'SELF' : n.arn.split(':')[4]!, f));
    }
    const services = await listServices(ctx);
    const p = page(all, (n) => n.id, input.NextToken, input.MaxResults);
    return { Namespaces: p.items.map((n) => describeNamespace(n, services.filter((x) => x.namespaceId === n.id).length)), NextToken: p.next };
  },
  async DeleteNamespace(input, ctx) {
    return { OperationId: await deleteNamespace(ctx, input.Id) };
  },
  async CreateService(input, ctx) {
    const namespaceId = input.NamespaceId ?? input.DnsConfig?.NamespaceId;
    if (!namespaceId) throw sdErrors.invalidInput('NamespaceId is required.');
    const svc = await createService(ctx, {
      name: input.Name,
      namespaceId,
      description: input.Description,
      dnsConfig: input.DnsConfig,
      healthCheckConfig: input.HealthCheckConfig,
      healthCheckCustomConfig: input.HealthCheckCustomConfig,
      creatorRequestId: input.CreatorRequestId,
      tags: input.Tags ?? [],
    });
    return { Service: describeService(svc, 0) };
  },
  async GetService(input, ctx) {
    const svc = await getService(ctx, input.Id);
    return { Service: describeService(svc, (await instanceCounts(ctx)).get(svc.id) ?? 0) };
  },
  async ListServices(input, ctx) {
    let all = await listServices(ctx);
    for (const f of input.Filters ?? []) {
      if (f.Name === 'NAMESPACE_ID') all = all.filter((x) => passes(x.namespaceId, f));
    }
    const counts = await instanceCounts(ctx);
    const p = page(all, (x) => x.id, input.NextToken, input.MaxResults);
    return { Services: p.items.map((x) => describeService(x, counts.get(x.id) ?? 0)), NextToken: p.next };
  },
  async UpdateService(input, ctx) {
    return { OperationId: await updateService(ctx, input.Id, { description: input.Service.Description, dnsRecords: input.Service.DnsConfig?.DnsRecords, healthCheckConfig: input.Service.HealthCheckConfig }) };
  },
  async DeleteService(input, ctx) {
    await deleteService(ctx, input.Id);
    return {};
  },
  async RegisterInstance(input, ctx) {
    return { OperationId: await registerInstance(ctx, input.ServiceId, input.InstanceId, input.Attributes, input.CreatorRequestId) };
  },
  async DeregisterInstance(input, ctx) {
    return { OperationId: await deregisterInstance(ctx, input.ServiceId, input.InstanceId) };
  },
  async GetInstance(input, ctx) {
    const i = await getInstance(ctx, input.ServiceId, input.InstanceId);
    return { Instance: { Id: i.id, Attributes: i.attributes, CreatorRequestId: i.creatorRequestId, CreatedByAccount: ctx.platform.accountId }, ResourceOwner: ctx.platform.accountId };
  },
  async ListInstances(input, ctx) {
    const p = page(await listInstances(ctx, input.ServiceId), (i) => i.id, input.NextToken, input.MaxResults);
    return { Instances: p.items.map((i) => ({ Id: i.id, Attributes: i.attributes, CreatedByAccount: ctx.platform.accountId })), NextToken: p.next, ResourceOwner: ctx.platform.accountId };
  },
  async DiscoverInstances(input, ctx) {
    if (input.HealthStatus === 'UNHEALTHY') {
      // Every instance is healthy (see discoverInstances); still, the names must exist.
      await discoverInstances(ctx, input.NamespaceName, input.ServiceName, {}, {}, 0);
      return { Instances: [], InstancesRevision: 0 };
    }
    const found = await discoverInstances(ctx, input.NamespaceName, input.ServiceName, input.QueryParameters ?? {}, input.OptionalParameters ?? {}, Math.min(1000, input.MaxResults ?? 100));
    return {
      Instances: found.instances.map((i) => ({ InstanceId: i.id, NamespaceName: found.namespace.name, ServiceName: found.service.name, HealthStatus: 'HEALTHY', Attributes: i.attributes })),
      InstancesRevision: found.instances.reduce((n, i) => Math.max(n, i.createdAt), 0),
    };
  },
  async GetOperation(input, ctx) {
    const op = await getOperation(ctx, input.OperationId);
    return { Operation: { Id: op.id, Type: op.type, Status: op.status, Targets: op.targets, CreateDate: new Date(op.createdAt), UpdateDate: new Date(op.createdAt), OwnerAccount: ctx.platform.accountId } };
  },
  async ListOperations(input, ctx) {
    let all = await listOperations(ctx);
    for (const f of input.Filters ?? []) {
      if (f.Name === 'NAMESPACE_ID') all = all.filter((o) => passes(o.targets.NAMESPACE ?? '', f));
      else if (f.Name === 'SERVICE_ID') all = all.filter((o) => passes(o.targets.SERVICE ?? '', f));
      else if (f.Name === 'STATUS') all = all.filter((o) => passes(o.status, f));
      else if (f.Name === 'TYPE') all = all.filter((o) => passes(o.type, f));
      else if (f.Name === 'UPDATE_DATE') {
        const [from, to] = f.Values.map(Number);
        if (f.Condition !== 'BETWEEN' || !Number.isFinite(from) || !Number.isFinite(to)) throw sdErrors.invalidInput('UPDATE_DATE takes the BETWEEN condition and two dates (epoch seconds).');
        all = all.filter((o) => o.createdAt >= from! * 1000 && o.createdAt <= to! * 1000);
      }
    }
    const p = page(all, (o) => `${String(o.createdAt).padStart(15, '0')}/${o.id}`, input.NextToken, input.MaxResults);
    return { Operations: p.items.map((o) => ({ Id: o.id, Status: o.status })), NextToken: p.next };
  },
  async TagResource(input, ctx) {
    await changeTags(ctx, input.ResourceARN, (tags) => mergeSdTags(tags, input.Tags));
    return {};
  },
  async UntagResource(input, ctx) {
    await changeTags(ctx, input.ResourceARN, (tags) => tags.filter((t) => !input.TagKeys.includes(t.Key)));
    return {};
  },
  async ListTagsForResource(input, ctx) {
    return { Tags: await tagsOf(ctx, input.ResourceARN) };
  },
};

/** The Cloud Map service definition for the registry. */
export function serviceDiscoveryService(): ServiceDefinition {
  return {
    name: 'servicediscovery',
    model: ServiceModel.load('servicediscovery'),
    protocol: 'json',
    signingNames: ['servicediscovery'],
    servedPart: 'namespaces (private DNS, public DNS, HTTP), services, instances, DiscoverInstances, operations and tags; no DNS server (names resolve through DiscoverInstances)',
    validationErrorCode: 'InvalidInput',
    handlers: serviceDiscoveryHandlers,
  };
}
