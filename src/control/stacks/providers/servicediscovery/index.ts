/**
 * Cloud Map resources: AWS::ServiceDiscovery::PrivateDnsNamespace, ::PublicDnsNamespace,
 * ::HttpNamespace and ::Service, through the servicediscovery API. As on AWS, each one's Ref is
 * its id and GetAtt gives Id and Arn (a DNS namespace's HostedZoneId, a service's Name).
 */
import type { NamespaceType } from '../../../../domain/servicediscovery/records.js';
import { ignoreNotFound, mergedTags, nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

type Call = <T>(op: string, input: Record<string, unknown>) => Promise<T>;
const callOf = (ctx: ProviderContext): Call => (op, input) => ctx.invoker.call(ctx.scope, 'servicediscovery', op, input);

const CREATE_OP: Record<NamespaceType, string> = { DNS_PRIVATE: 'CreatePrivateDnsNamespace', DNS_PUBLIC: 'CreatePublicDnsNamespace', HTTP: 'CreateHttpNamespace' };

interface NamespaceOut {
  Id: string;
  Arn: string;
  Properties?: { DnsProperties?: { HostedZoneId?: string } };
}

/** The SOA TTL a template gives (`Properties.DnsProperties.SOA.TTL`), as a number. */
function soaOf(props: Record<string, unknown>): Record<string, unknown> | undefined {
  const ttl = ((props.Properties as { DnsProperties?: { SOA?: { TTL?: unknown } } } | undefined)?.DnsProperties?.SOA?.TTL);
  return ttl === undefined ? undefined : { DnsProperties: { SOA: { TTL: Number(ttl) } } };
}

function namespaceProvider(type: NamespaceType): ResourceProvider {
  return {
    async create(props, ctx) {
      const call = callOf(ctx);
      const name = typeof props.Name === 'string' ? props.Name : nameWithin(ctx.plannedName, 253);
      const input: Record<string, unknown> = { Name: name, Description: props.Description, Tags: mergedTags(ctx.tags, props.Tags) };
      if (type === 'DNS_PRIVATE') input.Vpc = props.Vpc;
      if (type !== 'HTTP') input.Properties = soaOf(props);
      const { OperationId } = await call<{ OperationId: string }>(CREATE_OP[type], input);
      const op = await call<{ Operation: { Targets: Record<string, string> } }>('GetOperation', { OperationId });
      const ns = (await call<{ Namespace: NamespaceOut }>('GetNamespace', { Id: op.Operation.Targets.NAMESPACE })).Namespace;
      const attributes: Record<string, unknown> = { Id: ns.Id, Arn: ns.Arn };
      if (type !== 'HTTP') attributes.HostedZoneId = ns.Properties?.DnsProperties?.HostedZoneId;
      return { physicalId: ns.Id, attributes };
    },
    async delete(physicalId, _props, ctx) {
      if (physicalId) await ignoreNotFound(callOf(ctx)('DeleteNamespace', { Id: physicalId }));
    },
  };
}

/** A template's DnsConfig with its TTLs as numbers (templates often give them as strings). */
function dnsConfigOf(props: Record<string, unknown>): Record<string, unknown> | undefined {
  const d = props.DnsConfig as { DnsRecords?: Array<{ Type?: unknown; TTL?: unknown }>; NamespaceId?: unknown; RoutingPolicy?: unknown } | undefined;
  if (!d) return undefined;
  return { NamespaceId: d.NamespaceId, RoutingPolicy: d.RoutingPolicy, DnsRecords: (d.DnsRecords ?? []).map((r) => ({ Type: r.Type, TTL: Number(r.TTL) })) };
}

function healthCheckOf(props: Record<string, unknown>): Record<string, unknown> | undefined {
  const h = props.HealthCheckConfig as { Type?: unknown; ResourcePath?: unknown; FailureThreshold?: unknown } | undefined;
  return h ? { Type: h.Type, ResourcePath: h.ResourcePath, FailureThreshold: h.FailureThreshold === undefined ? undefined : Number(h.FailureThreshold) } : undefined;
}

interface ServiceOut {
  Id: string;
  Arn: string;
  Name: string;
}
const serviceAttributes = (s: ServiceOut) => ({ Id: s.Id, Arn: s.Arn, Name: s.Name });

const service: ResourceProvider = {
  async create(props, ctx) {
    const call = callOf(ctx);
    const custom = props.HealthCheckCustomConfig as { FailureThreshold?: unknown } | undefined;
    const dns = dnsConfigOf(props);
    const out = await call<{ Service: ServiceOut }>('CreateService', {
      Name: typeof props.Name === 'string' ? props.Name : nameWithin(ctx.plannedName, 127),
      NamespaceId: props.NamespaceId ?? dns?.NamespaceId,
      Description: props.Description,
      DnsConfig: dns,
      HealthCheckConfig: healthCheckOf(props),
      HealthCheckCustomConfig: custom ? { FailureThreshold: custom.FailureThreshold === undefined ? undefined : Number(custom.FailureThreshold) } : undefined,
      Type: props.Type,
      Tags: mergedTags(ctx.tags, props.Tags),
    });
    return { physicalId: out.Service.Id, attributes: serviceAttributes(out.Service) };
  },
  async update(physicalId, props, _before, ctx) {
    const call = callOf(ctx);
    const dns = dnsConfigOf(props);
    await call('UpdateService', { Id: physicalId, Service: { Description: props.Description ?? '', DnsConfig: dns ? { DnsRecords: dns.DnsRecords } : undefined, HealthCheckConfig: healthCheckOf(props) } });
    return { physicalId, attributes: serviceAttributes((await call<{ Service: ServiceOut }>('GetService', { Id: physicalId })).Service) };
  },
  async delete(physicalId, _props, ctx) {
    if (!physicalId) return;
    // Instances an ECS service registered go as its tasks stop: wait for them, as CloudFormation does.
    const deadline = ctx.clock.now() + ctx.stabilizeTimeoutMs;
    for (;;) {
      try {
        await ignoreNotFound(callOf(ctx)('DeleteService', { Id: physicalId }));
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'ResourceInUse' || ctx.clock.now() >= deadline || ctx.signal.aborted) throw e;
      }
      await ctx.clock.sleep(500, ctx.signal);
    }
  },
};

export const serviceDiscoveryProviders: Record<string, ResourceProvider> = {
  'AWS::ServiceDiscovery::PrivateDnsNamespace': namespaceProvider('DNS_PRIVATE'),
  'AWS::ServiceDiscovery::PublicDnsNamespace': namespaceProvider('DNS_PUBLIC'),
  'AWS::ServiceDiscovery::HttpNamespace': namespaceProvider('HTTP'),
  'AWS::ServiceDiscovery::Service': service,
};
