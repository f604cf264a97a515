/**
 * Cloud Map namespaces and services: create (idempotent by CreatorRequestId, as AWS is), read,
 * update, delete (a namespace with services, or a service with instances, is in use), and tags
 * on either. Every write goes through `mutate`.
 */
import { hexId } from '../common.js';
import { mutate } from '../mutate.js';
import type { Scope } from '../platform.js';
import { resolveVpc } from '../ec2/lookup.js';
import { sdErrors } from './errors.js';
import { recordOperation } from './operations.js';
import { SD_KIND, SD_LIMITS, sdKey, type InstanceRecord, type NamespaceRecord, type NamespaceType, type SdTag, type ServiceRecord } from './records.js';

const sdArn = (s: Scope, kind: 'namespace' | 'service', id: string) => `arn:aws:servicediscovery:${s.region}:${s.platform.accountId}:${kind}/${id}`;

/** Checks tags as Cloud Map does (at most 50, no `aws:` keys) and merges `added` into `existing`. */
export function mergeSdTags(existing: SdTag[], added: SdTag[]): SdTag[] {
  const byKey = new Map(existing.map((t) => [t.Key, t]));
  for (const t of added) {
    if (t.Key.toLowerCase().startsWith('aws:')) throw sdErrors.invalidInput(`Tag keys beginning with 'aws:' are reserved: '${t.Key.slice(0, 128)}'.`);
    byKey.set(t.Key, { Key: t.Key, Value: t.Value });
  }
  if (byKey.size > SD_LIMITS.tags) throw sdErrors.tooManyTags(`A resource can have at most ${SD_LIMITS.tags} tags; this request would leave ${byKey.size}.`);
  return [...byKey.values()];
}

/** The region's namespaces. */
export async function listNamespaces(s: Scope): Promise<NamespaceRecord[]> {
  return (await s.platform.store.list<NamespaceRecord>(SD_KIND.namespace, { prefix: `${s.region}/` })).map((r) => r.value);
}

/** One namespace, or NamespaceNotFound. */
export async function getNamespace(s: Scope, id: string): Promise<NamespaceRecord> {
  const rec = await s.platform.store.get<NamespaceRecord>(SD_KIND.namespace, sdKey(s.region, id));
  if (!rec) throw sdErrors.namespaceNotFound(id);
  return rec.value;
}

/** What a create gives of a namespace. */
export interface NamespaceSpec {
  name: string;
  type: NamespaceType;
  description?: string;
  vpc?: string;
  soaTtl?: number;
  creatorRequestId?: string;
  tags: SdTag[];
}

/** Creates a namespace and returns its creation's operation id (the same one for a repeated request). */
export async function createNamespace(s: Scope, spec: NamespaceSpec): Promise<string> {
  if (spec.type === 'DNS_PRIVATE') {
    const vpc = await resolveVpc(s, spec.vpc ?? '');
    if (!vpc) throw sdErrors.invalidInput(`The VPC ${String(spec.vpc).slice(0, 64)} does not exist.`);
    spec = { ...spec, vpc: vpc.id };
  }
  if (spec.type !== 'HTTP' && !/^[!-~]{1,253}$/.test(spec.name)) throw sdErrors.invalidInput('A DNS namespace name is 1 to 253 printable characters without spaces.');
  const all = await listNamespaces(s);
  const same = all.find((n) => n.name === spec.name && (n.type === 'HTTP' || spec.type === 'HTTP' || n.type === spec.type) && (n.type !== 'DNS_PRIVATE' || n.vpc === spec.vpc));
  if (same) {
    if (spec.creatorRequestId && same.creatorRequestId === spec.creatorRequestId) return same.operationId;
    throw sdErrors.namespaceExists(spec.name, same.id);
  }
  if (spec.creatorRequestId && all.some((n) => n.creatorRequestId === spec.creatorRequestId)) throw sdErrors.duplicateRequest(`CreatorRequestId ${spec.creatorRequestId.slice(0, 64)} was used for another namespace.`);
  if (all.length >= SD_LIMITS.namespacesPerRegion) throw sdErrors.limit(`You have ${SD_LIMITS.namespacesPerRegion} namespaces in ${s.region}, the most allowed.`);
  const id = `ns-${hexId(8)}`;
  const operationId = await recordOperation(s, 'CREATE_NAMESPACE', { NAMESPACE: id });
  const rec: NamespaceRecord = { ...spec, tags: mergeSdTags([], spec.tags), id, arn: sdArn(s, 'namespace', id), operationId, createdAt: s.platform.clock.now() };
  await mutate<NamespaceRecord>(s.platform.store, SD_KIND.namespace, sdKey(s.region, id), () => rec);
  return operationId;
}

/** Deletes a namespace that has no services; returns the operation id. */
export async function deleteNamespace(s: Scope, id: string): Promise<string> {
  await getNamespace(s, id);
  if ((await listServices(s)).some((x) => x.namespaceId === id)) throw sdErrors.inUse(`Namespace ${id} has services: delete them first.`);
  const out = await mutate<NamespaceRecord>(s.platform.store, SD_KIND.namespace, sdKey(s.region, id), (cur) => (cur ? null : undefined));
  if (!out.before) throw sdErrors.namespaceNotFound(id);
  return recordOperation(s, 'DELETE_NAMESPACE', { NAMESPACE: id });
}

/** The region's services. */
export async function listServices(s: Scope): Promise<ServiceRecord[]> {
  return (await s.platform.store.list<ServiceRecord>(SD_KIND.service, { prefix: `${s.region}/` })).map((r) => r.value);
}

/** One service, or ServiceNotFound. */
export async function getService(s: Scope, id: string): Promise<ServiceRecord> {
  const rec = await s.platform.store.get<ServiceRecord>(SD_KIND.service, sdKey(s.region, id));
  if (!rec) throw sdErrors.serviceNotFound(id);
  return rec.value;
}

/** What a create gives of a service. */
export type ServiceSpec = Omit<ServiceRecord, 'id' | 'arn' | 'createdAt' | 'type'>;

/** Creates a service in a namespace (idempotent by CreatorRequestId). */
export async function createService(s: Scope, spec: ServiceSpec): Promise<ServiceRecord> {
  const ns = await getNamespace(s, spec.namespaceId);
  if (spec.dnsConfig && ns.type === 'HTTP') throw sdErrors.invalidInput(`Namespace ${ns.id} is an HTTP namespace: its services take no DnsConfig.`);
  if (ns.type !== 'HTTP' && !spec.dnsConfig) throw sdErrors.invalidInput('A service in a DNS namespace needs DnsConfig.');
  if (spec.dnsConfig && !spec.dnsConfig.DnsRecords.length) throw sdErrors.invalidInput('DnsConfig.DnsRecords needs at least one record.');
  if (spec.healthCheckConfig && spec.healthCheckCustomConfig) throw sdErrors.invalidInput('A service takes HealthCheckConfig or HealthCheckCustomConfig, not both.');
  if (!/^[!-~]{1,127}$/.test(spec.name)) throw sdErrors.invalidInput('A service name is 1 to 127 printable characters without spaces.');
  const inNs = (await listServices(s)).filter((x) => x.namespaceId === ns.id);
  const same = inNs.find((x) => x.name === spec.name);
  if (same) {
    if (spec.creatorRequestId && same.creatorRequestId === spec.creatorRequestId) return same;
    throw sdErrors.serviceExists(spec.name, same.id, same.arn);
  }
  if (inNs.length >= SD_LIMITS.servicesPerNamespace) throw sdErrors.limit(`Namespace ${ns.id} has ${SD_LIMITS.servicesPerNamespace} services, the most allowed.`);
  const id = `srv-${hexId(8)}`;
  const rec: ServiceRecord = {
    ...spec,
    dnsConfig: spec.dnsConfig ? { ...spec.dnsConfig, NamespaceId: ns.id, RoutingPolicy: spec.dnsConfig.RoutingPolicy ?? 'MULTIVALUE' } : undefined,
    tags: mergeSdTags([], spec.tags),
    id,
    arn: sdArn(s, 'service', id),
    type: ns.type === 'HTTP' ? 'HTTP' : 'DNS_HTTP',
    createdAt: s.platform.clock.now(),
  };
  await mutate<ServiceRecord>(s.platform.store, SD_KIND.service, sdKey(s.region, id), () => rec);
  return rec;
}

/** Changes a service's description, DNS records' TTLs and types, or health check; returns the operation id. */
export async function updateService(s: Scope, id: string, change: { description?: string; dnsRecords?: ServiceRecord['dnsConfig'] extends infer D ? D extends { DnsRecords: infer R } ? R : never : never; healthCheckConfig?: ServiceRecord['healthCheckConfig'] }): Promise<string> {
  await mutate<ServiceRecord>(s.platform.store, SD_KIND.service, sdKey(s.region, id), (cur) => {
    if (!cur) throw sdErrors.serviceNotFound(id);
    if (change.dnsRecords && !cur.dnsConfig) throw sdErrors.invalidInput(`Service ${id} has no DnsConfig to change.`);
    if (change.healthCheckConfig && cur.healthCheckCustomConfig) throw sdErrors.invalidInput(`Service ${id} has a custom health check; it cannot take HealthCheckConfig.`);
    if (change.description !== undefined) cur.description = change.description;
    if (change.dnsRecords) cur.dnsConfig = { ...cur.dnsConfig!, DnsRecords: change.dnsRecords };
    if (change.healthCheckConfig) cur.healthCheckConfig = change.healthCheckConfig;
    return cur;
  });
  return recordOperation(s, 'UPDATE_SERVICE', { SERVICE: id });
}

/** Deletes a service that has no instances. */
export async function deleteService(s: Scope, id: string): Promise<void> {
  await getService(s, id);
  const instances = await s.platform.store.list<InstanceRecord>(SD_KIND.instance, { prefix: `${s.region}/${id}/`, limit: 1 });
  if (instances.length) throw sdErrors.inUse(`Service ${id} has registered instances: deregister them first.`);
  const out = await mutate<ServiceRecord>(s.platform.store, SD_KIND.service, sdKey(s.region, id), (cur) => (cur ? null : undefined));
  if (!out.before) throw sdErrors.serviceNotFound(id);
}

/** The namespace or service an ARN names (kind and store key), or ResourceNotFoundException. */
function resourceOf(s: Scope, arn: string): { kind: string; key: string } {
  const m = /^arn:aws:servicediscovery:([a-z0-9-]+):(\d{12}):(namespace|service)\/((?:ns|srv)-[a-z0-9]{1,64})$/.exec(arn);
  if (!m || m[1] !== s.region || m[2] !== s.platform.accountId) throw sdErrors.resourceNotFound(arn);
  return { kind: m[3] === 'namespace' ? SD_KIND.namespace : SD_KIND.service, key: sdKey(s.region, m[4]!) };
}

/** Changes the tags of the namespace or service an ARN names. */
export async function changeTags(s: Scope, arn: string, change: (tags: SdTag[]) => SdTag[]): Promise<void> {
  const r = resourceOf(s, arn);
  await mutate<{ tags: SdTag[] }>(s.platform.store, r.kind, r.key, (cur) => {
    if (!cur) throw sdErrors.resourceNotFound(arn);
    return { ...cur, tags: change(cur.tags) };
  });
}

/** The tags of the namespace or service an ARN names. */
export async function tagsOf(s: Scope, arn: string): Promise<SdTag[]> {
  const r = resourceOf(s, arn);
  const rec = await s.platform.store.get<{ tags: SdTag[] }>(r.kind, r.key);
  if (!rec) throw sdErrors.resourceNotFound(arn);
  return rec.value.tags;
}
