/**
 * Cloud Map records: namespaces, services, instances and operations, each one record. Keys
 * start with the region: `<region>/<id>` for namespaces, services and operations,
 * `<region>/<serviceId>/<instanceId>` for instances (so a service's instances are one prefix).
 */

/** Store kinds. */
export const SD_KIND = { namespace: 'sd-namespace', service: 'sd-service', instance: 'sd-instance', operation: 'sd-operation' } as const;

/** Bounds (AWS's default quotas, and Berth's own on what it keeps). */
export const SD_LIMITS = {
  namespacesPerRegion: 50,
  servicesPerNamespace: 1000,
  instancesPerService: 1000,
  attributesPerInstance: 30,
  /** Operations kept per region; the oldest go first. */
  operationsKept: 1000,
  tags: 50,
};

/** A tag as Cloud Map writes it. */
export interface SdTag {
  Key: string;
  Value: string;
}

export type NamespaceType = 'DNS_PUBLIC' | 'DNS_PRIVATE' | 'HTTP';

export interface NamespaceRecord {
  id: string;
  arn: string;
  name: string;
  type: NamespaceType;
  description?: string;
  /** The VPC of a private DNS namespace. */
  vpc?: string;
  /** The SOA TTL of a DNS namespace. */
  soaTtl?: number;
  creatorRequestId?: string;
  /** The operation that created it (a repeated create with the same CreatorRequestId answers it). */
  operationId: string;
  tags: SdTag[];
  createdAt: number;
}

export interface DnsRecordSpec {
  Type: 'SRV' | 'A' | 'AAAA' | 'CNAME';
  TTL: number;
}

export interface ServiceRecord {
  id: string;
  arn: string;
  name: string;
  namespaceId: string;
  description?: string;
  type: 'HTTP' | 'DNS_HTTP' | 'DNS';
  dnsConfig?: { NamespaceId?: string; RoutingPolicy?: 'MULTIVALUE' | 'WEIGHTED'; DnsRecords: DnsRecordSpec[] };
  healthCheckConfig?: { Type: 'HTTP' | 'HTTPS' | 'TCP'; ResourcePath?: string; FailureThreshold?: number };
  healthCheckCustomConfig?: { FailureThreshold?: number };
  creatorRequestId?: string;
  tags: SdTag[];
  createdAt: number;
}

export interface InstanceRecord {
  id: string;
  serviceId: string;
  attributes: Record<string, string>;
  creatorRequestId?: string;
  createdAt: number;
}

export type OperationType = 'CREATE_NAMESPACE' | 'DELETE_NAMESPACE' | 'UPDATE_NAMESPACE' | 'UPDATE_SERVICE' | 'REGISTER_INSTANCE' | 'DEREGISTER_INSTANCE';

/** An operation: Berth completes each at once, so every one is SUCCESS. */
export interface OperationRecord {
  id: string;
  type: OperationType;
  status: 'SUCCESS';
  targets: Record<string, string>;
  createdAt: number;
}

/** Store key of a namespace, service or operation. */
export const sdKey = (region: string, id: string) => `${region}/${id}`;
/** Store key of an instance. */
export const instanceKey = (region: string, serviceId: string, instanceId: string) => `${region}/${serviceId}/${instanceId}`;
