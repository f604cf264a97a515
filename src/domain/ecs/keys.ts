/**
 * Where ECS records live in the store and how their ARNs are written. Every ECS kind is keyed
 * by region first, so regions are separate as on AWS.
 */
import { arn, parseArn } from '../common.js';
import type { Scope } from '../platform.js';

export type { Scope } from '../platform.js';

export const KIND = {
  cluster: 'ecs.cluster',
  /** One record per task definition revision: `<region>/<family>/<revision padded to 10>`. */
  taskDefinition: 'ecs.taskdef',
  /** Per-family revision counter: `<region>/<family>`. */
  taskDefinitionFamily: 'ecs.taskdef-family',
  /** `<region>/<cluster>/<serviceName>`. */
  service: 'ecs.service',
  /** `<region>/<cluster>/<taskId>`. */
  task: 'ecs.task',
  /** `<region>/<cluster>/<containerInstanceId>`. */
  containerInstance: 'ecs.container-instance',
  /**
   * Index of live tasks by the instance they are placed on: `<region>/<cluster>/<containerInstanceId>/<taskId>`,
   * value `{}`. An entry exists while its task exists, has a container instance and is not
   * STOPPED; it is written in the same commit as the task change that makes this so (see
   * `liveIndexWrites` in tasks.ts), so agents' polls and placement need not read stopped tasks.
   */
  liveTaskOnInstance: 'ecs.task-live-on-instance',
  /** `<region>/<principalArn or '~default'>/<settingName>`. */
  accountSetting: 'ecs.account-setting',
  /** `<region>/<name>`: Auto Scaling group capacity providers (FARGATE and FARGATE_SPOT are built in). */
  capacityProvider: 'ecs.capacity-provider',
} as const;

/** Store key of a cluster. */
export function clusterKey(region: string, name: string): string {
  return `${region}/${name}`;
}

/** `arn:aws:ecs:<region>:<account>:cluster/<name>`. */
export function clusterArn(ctx: Scope, name: string): string {
  return arn('ecs', ctx.region, ctx.platform.accountId, `cluster/${name}`);
}

/** Revisions are zero-padded in keys so store order is numeric order. */
export function taskDefinitionKey(region: string, family: string, revision: number): string {
  return `${region}/${family}/${String(revision).padStart(10, '0')}`;
}

/** `arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>`. */
export function taskDefinitionArn(s: Scope, family: string, revision: number): string {
  return arn('ecs', s.region, s.platform.accountId, `task-definition/${family}:${revision}`);
}

/** Store key of a service, task or container instance: `<region>/<cluster>/<name or id>`. */
export function clusterScopedKey(region: string, cluster: string, id: string): string {
  return `${region}/${cluster}/${id}`;
}

/** Long-format service ARN: `...:service/<cluster>/<name>`. */
export function serviceArn(s: Scope, cluster: string, name: string): string {
  return arn('ecs', s.region, s.platform.accountId, `service/${cluster}/${name}`);
}

/** `...:task-set/<cluster>/<service>/<task set id>` (the id is `ecs-svc/<digits>`). */
export function taskSetArn(s: Scope, cluster: string, service: string, id: string): string {
  return arn('ecs', s.region, s.platform.accountId, `task-set/${cluster}/${service}/${id}`);
}

/** `...:capacity-provider/<name>`. */
export function capacityProviderArn(s: Scope, name: string): string {
  return arn('ecs', s.region, s.platform.accountId, `capacity-provider/${name}`);
}

/** Long-format task ARN: `...:task/<cluster>/<id>`. */
export function taskArn(s: Scope, cluster: string, id: string): string {
  return arn('ecs', s.region, s.platform.accountId, `task/${cluster}/${id}`);
}

/** Long-format container instance ARN: `...:container-instance/<cluster>/<id>`. */
export function containerInstanceArn(s: Scope, cluster: string, id: string): string {
  return arn('ecs', s.region, s.platform.accountId, `container-instance/${cluster}/${id}`);
}

/**
 * Resolves the `cluster` parameter of any ECS call (a name, an ARN, or absent for "default")
 * to a cluster name. ARNs of another region or account name no cluster here.
 */
export function clusterNameOf(ctx: Scope, ref: string | undefined): string {
  if (!ref) return 'default';
  if (!ref.startsWith('arn:')) return ref;
  const p = parseArn(ref);
  if (!p || p.service !== 'ecs' || !p.resource.startsWith('cluster/')) return ref;
  if (p.region !== ctx.region || p.accountId !== ctx.platform.accountId) return `\u0000foreign:${ref}`;
  return p.resource.slice('cluster/'.length);
}

/**
 * Resolves a reference to a cluster-scoped resource (service, task, container instance) that
 * may be a bare name/id or an ARN `arn:aws:ecs:<region>:<acct>:<type>/<cluster>/<id>` (or the
 * old short form `<type>/<id>`). Returns the id and, if the ARN names one, the cluster; or
 * undefined for an ARN of the wrong type, region or account.
 */
export function resourceRefOf(s: Scope, type: string, ref: string): { id: string; cluster?: string } | undefined {
  if (!ref.startsWith('arn:')) return { id: ref };
  const p = parseArn(ref);
  if (!p || p.service !== 'ecs' || p.region !== s.region || p.accountId !== s.platform.accountId) return undefined;
  if (!p.resource.startsWith(`${type}/`)) return undefined;
  const parts = p.resource.slice(type.length + 1).split('/');
  if (parts.length === 1) return { id: parts[0]! };
  if (parts.length === 2) return { cluster: parts[0]!, id: parts[1]! };
  return undefined;
}
