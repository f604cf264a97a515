/**
 * Cloud Map instances: registration (a repeated registration replaces the attributes, as AWS
 * does), deregistration, reads, and DiscoverInstances (by namespace and service name, filtered
 * by attributes). Berth runs no DNS server: DiscoverInstances is how names resolve.
 */
import { mutate } from '../mutate.js';
import type { Scope } from '../platform.js';
import { sdErrors } from './errors.js';
import { getService, listNamespaces, listServices } from './namespaces.js';
import { recordOperation } from './operations.js';
import { SD_KIND, SD_LIMITS, instanceKey, type InstanceRecord, type NamespaceRecord, type ServiceRecord } from './records.js';

/** Checks an instance's attributes as Cloud Map does. */
function checkAttributes(svc: ServiceRecord, attributes: Record<string, string>): void {
  const keys = Object.keys(attributes);
  if (keys.length > SD_LIMITS.attributesPerInstance) throw sdErrors.invalidInput(`An instance takes at most ${SD_LIMITS.attributesPerInstance} attributes; got ${keys.length}.`);
  for (const k of keys) {
    if (k.length > 255) throw sdErrors.invalidInput('Attribute keys are at most 255 characters.');
    if ((attributes[k] ?? '').length > 1024) throw sdErrors.invalidInput(`Attribute ${k} is longer than 1024 characters.`);
  }
  const types = new Set(svc.dnsConfig?.DnsRecords.map((r) => r.Type) ?? []);
  if (types.has('A') && !attributes.AWS_INSTANCE_IPV4 && !attributes.AWS_ALIAS_DNS_NAME) throw sdErrors.invalidInput(`Service ${svc.id} has an A record: the instance needs AWS_INSTANCE_IPV4.`);
  if (types.has('AAAA') && !attributes.AWS_INSTANCE_IPV6 && !attributes.AWS_INSTANCE_IPV4) throw sdErrors.invalidInput(`Service ${svc.id} has an AAAA record: the instance needs AWS_INSTANCE_IPV6.`);
  if (types.has('SRV') && !attributes.AWS_INSTANCE_PORT) throw sdErrors.invalidInput(`Service ${svc.id} has an SRV record: the instance needs AWS_INSTANCE_PORT.`);
  if (types.has('CNAME') && !attributes.AWS_INSTANCE_CNAME) throw sdErrors.invalidInput(`Service ${svc.id} has a CNAME record: the instance needs AWS_INSTANCE_CNAME.`);
}

/** Registers (or re-registers) an instance; returns the operation id. */
export async function registerInstance(s: Scope, serviceId: string, instanceId: string, attributes: Record<string, string>, creatorRequestId?: string): Promise<string> {
  const svc = await getService(s, serviceId);
  checkAttributes(svc, attributes);
  const count = (await s.platform.store.list<InstanceRecord>(SD_KIND.instance, { prefix: `${s.region}/${serviceId}/` })).length;
  await mutate<InstanceRecord>(s.platform.store, SD_KIND.instance, instanceKey(s.region, serviceId, instanceId), (cur) => {
    if (!cur && count >= SD_LIMITS.instancesPerService) throw sdErrors.limit(`Service ${serviceId} has ${SD_LIMITS.instancesPerService} instances, the most allowed.`);
    if (cur && creatorRequestId && cur.creatorRequestId === creatorRequestId && JSON.stringify(cur.attributes) === JSON.stringify(attributes)) return undefined;
    return { id: instanceId, serviceId, attributes, creatorRequestId, createdAt: cur?.createdAt ?? s.platform.clock.now() };
  });
  return recordOperation(s, 'REGISTER_INSTANCE', { SERVICE: serviceId, INSTANCE: instanceId });
}

/** Deregisters an instance (InstanceNotFound when it is not registered); returns the operation id. */
export async function deregisterInstance(s: Scope, serviceId: string, instanceId: string): Promise<string> {
  await getService(s, serviceId);
  const out = await mutate<InstanceRecord>(s.platform.store, SD_KIND.instance, instanceKey(s.region, serviceId, instanceId), (cur) => (cur ? null : undefined));
  if (!out.before) throw sdErrors.instanceNotFound(instanceId);
  return recordOperation(s, 'DEREGISTER_INSTANCE', { SERVICE: serviceId, INSTANCE: instanceId });
}

/** One instance, or InstanceNotFound. */
export async function getInstance(s: Scope, serviceId: string, instanceId: string): Promise<InstanceRecord> {
  await getService(s, serviceId);
  const rec = await s.platform.store.get<InstanceRecord>(SD_KIND.instance, instanceKey(s.region, serviceId, instanceId));
  if (!rec) throw sdErrors.instanceNotFound(instanceId);
  return rec.value;
}

/** A service's instances, in id order. */
export async function listInstances(s: Scope, serviceId: string): Promise<InstanceRecord[]> {
  await getService(s, serviceId);
  return (await s.platform.store.list<InstanceRecord>(SD_KIND.instance, { prefix: `${s.region}/${serviceId}/` })).map((r) => r.value);
}

/** How many instances each service has (for ServiceSummary's InstanceCount). */
export async function instanceCounts(s: Scope): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const r of await s.platform.store.list<InstanceRecord>(SD_KIND.instance, { prefix: `${s.region}/` })) counts.set(r.value.serviceId, (counts.get(r.value.serviceId) ?? 0) + 1);
  return counts;
}

/** The name DiscoverInstances knows a namespace by (an HTTP namespace's HttpName is its name). */
const discoveryName = (ns: NamespaceRecord) => ns.name.toLowerCase();

/** What DiscoverInstances finds: the instances of the named service, filtered by attributes. */
export interface Discovered {
  namespace: NamespaceRecord;
  service: ServiceRecord;
  instances: InstanceRecord[];
}

/**
 * Finds a service by namespace and service name and its instances whose attributes match all of
 * `query`; if none do and `optional` is given, those matching `optional` as well (AWS's
 * OptionalParameters), else those matching `query` alone. Every instance is HEALTHY: Berth
 * runs no health checks of its own, and a custom health check starts healthy.
 */
export async function discoverInstances(s: Scope, namespaceName: string, serviceName: string, query: Record<string, string>, optional: Record<string, string>, max: number): Promise<Discovered> {
  const ns = (await listNamespaces(s)).find((n) => discoveryName(n) === namespaceName.toLowerCase());
  if (!ns) throw sdErrors.namespaceNotFound(namespaceName);
  const svc = (await listServices(s)).find((x) => x.namespaceId === ns.id && x.name.toLowerCase() === serviceName.toLowerCase());
  if (!svc) throw sdErrors.serviceNotFound(serviceName);
  const matches = (i: InstanceRecord, q: Record<string, string>) => Object.entries(q).every(([k, v]) => i.attributes[k] === v);
  const all = (await listInstances(s, svc.id)).filter((i) => matches(i, query));
  const narrowed = Object.keys(optional).length ? all.filter((i) => matches(i, optional)) : all;
  return { namespace: ns, service: svc, instances: (narrowed.length ? narrowed : all).slice(0, max) };
}
