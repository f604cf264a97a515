/**
 * Scalable targets: RegisterScalableTarget (create or update), DescribeScalableTargets,
 * DeregisterScalableTarget and their tags. Berth scales one kind of target, an ECS service's
 * desired count (`ecs` / `service/<cluster>/<service>` / `ecs:service:DesiredCount`); any other
 * namespace is refused with a message saying so.
 *
 * Registering brings the service's desired count within the new bounds at once (recorded as an
 * activity), as AWS does. Deregistering deletes the target's policies and activities with it.
 */
import type { Scope } from '../platform.js';
import { arn, hexId, pageOf } from '../common.js';
import { mutate, retrying } from '../mutate.js';
import { loadService, updateService } from '../ecs/services.js';
import { appScalingErrors, noTarget } from './errors.js';
import { dropActivities, recordActivity } from './activities.js';
import { ECS_DIMENSION, ECS_NAMESPACE, KIND, MAX_CAPACITY, MAX_TAGS, MAX_TARGETS, targetKey, type ScalableTargetRecord, type ScalingPolicyRecord, type SuspendedState } from './records.js';

/** An ECS service named by a resource id. */
export interface ServiceRef {
  cluster: string;
  service: string;
}

/** The cluster and service of `service/<cluster>/<service>` (ECS's resource id form), or a ValidationException. */
export function parseEcsResourceId(resourceId: string): ServiceRef {
  const parts = resourceId.split('/');
  if (parts.length !== 3 || parts[0] !== 'service' || !parts[1] || !parts[2]) {
    throw appScalingErrors.validation(`Unsupported resource ID ${resourceId.slice(0, 200)}: an ECS service's resource ID is service/<cluster-name>/<service-name>.`);
  }
  return { cluster: parts[1], service: parts[2] };
}

/** Checks the namespace/dimension pair is the one Berth scales and the resource id names an ECS service. */
export function checkScalable(namespace: string, resourceId: string, dimension: string): ServiceRef {
  if (namespace !== ECS_NAMESPACE) {
    throw appScalingErrors.validation(`Unsupported service namespace ${namespace}: Berth scales ECS services (service namespace ecs, scalable dimension ${ECS_DIMENSION}).`);
  }
  if (dimension !== ECS_DIMENSION) throw appScalingErrors.validation(`Unsupported service namespace, resource type or scalable dimension: ${dimension} is not a dimension of ecs (use ${ECS_DIMENSION}).`);
  return parseEcsResourceId(resourceId);
}

/** The service-linked role AWS uses for ECS targets when no RoleARN is given. */
export function defaultRoleArn(s: Scope): string {
  return `arn:aws:iam::${s.platform.accountId}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService`;
}

/** What RegisterScalableTarget gives (absent fields keep their value on an update). */
export interface TargetRegistration {
  namespace: string;
  resourceId: string;
  dimension: string;
  minCapacity?: number;
  maxCapacity?: number;
  roleArn?: string;
  suspendedState?: Partial<SuspendedState>;
  tags?: Record<string, string>;
}

function checkCapacity(v: number | undefined, name: string): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < 0) throw appScalingErrors.validation(`${name} must be a whole number of 0 or more; got ${v}.`);
  if (v > MAX_CAPACITY) throw appScalingErrors.validation(`${name} must be at most ${MAX_CAPACITY} for an ECS service on Berth; got ${v}.`);
}

/** Validates tags as AWS does (keys 1-128, values up to 256, no `aws:` keys, at most 50). */
export function checkTags(tags: Record<string, string>, existing: Record<string, string> = {}): Record<string, string> {
  const out = { ...existing };
  for (const [k, v] of Object.entries(tags)) {
    if (!k || k.length > 128) throw appScalingErrors.validation(`Tag keys must be 1 to 128 characters: '${k.slice(0, 130)}'.`);
    if (v.length > 256) throw appScalingErrors.validation(`The value of tag '${k}' is longer than 256 characters.`);
    if (k.toLowerCase().startsWith('aws:')) throw appScalingErrors.validation(`Tag keys beginning with 'aws:' are reserved: '${k}'.`);
    out[k] = v;
  }
  if (Object.keys(out).length > MAX_TAGS) throw appScalingErrors.tooManyTags(`A scalable target can have at most ${MAX_TAGS} tags; this request would leave ${Object.keys(out).length}.`);
  return out;
}

export async function getTarget(s: Scope, namespace: string, resourceId: string, dimension: string): Promise<ScalableTargetRecord | undefined> {
  return (await s.platform.store.get<ScalableTargetRecord>(KIND.target, targetKey(s.region, namespace, resourceId, dimension)))?.value;
}

/** Creates or updates a scalable target; returns it. */
export async function registerTarget(s: Scope, r: TargetRegistration): Promise<ScalableTargetRecord> {
  const ref = checkScalable(r.namespace, r.resourceId, r.dimension);
  checkCapacity(r.minCapacity, 'MinCapacity');
  checkCapacity(r.maxCapacity, 'MaxCapacity');
  const svc = await loadService(s, ref.cluster, ref.service);
  if (!svc || svc.record.status !== 'ACTIVE') throw appScalingErrors.validation(`ECS service doesn't exist: ${r.resourceId.slice(0, 200)}`);
  if (svc.record.schedulingStrategy === 'DAEMON') throw appScalingErrors.validation(`ECS service ${r.resourceId.slice(0, 200)} uses the DAEMON scheduling strategy: its desired count follows its instances and cannot be scaled.`);
  const key = targetKey(s.region, r.namespace, r.resourceId, r.dimension);
  if (!(await s.platform.store.get(KIND.target, key))) {
    const have = await s.platform.store.list(KIND.target, { prefix: `${s.region}/${encodeURIComponent(r.namespace)}/`, limit: MAX_TARGETS });
    if (have.length >= MAX_TARGETS) throw appScalingErrors.limitExceeded(`You have ${MAX_TARGETS} scalable targets for ${r.namespace} in ${s.region}, the most allowed: deregister some first.`);
  }
  const now = s.platform.clock.now();
  const { value } = await mutate<ScalableTargetRecord>(
    s.platform.store,
    KIND.target,
    key,
    (cur) => {
      if (!cur && (r.minCapacity === undefined || r.maxCapacity === undefined)) {
        throw appScalingErrors.validation('MinCapacity and MaxCapacity are required when registering a new scalable target.');
      }
      const min = r.minCapacity ?? cur!.minCapacity;
      const max = r.maxCapacity ?? cur!.maxCapacity;
      if (min > max) throw appScalingErrors.validation(`Minimum capacity (${min}) cannot be greater than maximum capacity (${max}).`);
      const suspended = cur?.suspendedState ?? { dynamicScalingInSuspended: false, dynamicScalingOutSuspended: false, scheduledScalingSuspended: false };
      return {
        serviceNamespace: r.namespace,
        resourceId: r.resourceId,
        scalableDimension: r.dimension,
        arn: cur?.arn ?? arn('application-autoscaling', s.region, s.platform.accountId, `scalable-target/${hexId(18)}`),
        minCapacity: min,
        maxCapacity: max,
        roleArn: r.roleArn ?? cur?.roleArn ?? defaultRoleArn(s),
        suspendedState: {
          dynamicScalingInSuspended: r.suspendedState?.dynamicScalingInSuspended ?? suspended.dynamicScalingInSuspended,
          dynamicScalingOutSuspended: r.suspendedState?.dynamicScalingOutSuspended ?? suspended.dynamicScalingOutSuspended,
          scheduledScalingSuspended: r.suspendedState?.scheduledScalingSuspended ?? suspended.scheduledScalingSuspended,
        },
        // Tags are set when the target is created; TagResource changes them after.
        tags: cur ? cur.tags : checkTags(r.tags ?? {}),
        createdAt: cur?.createdAt ?? now,
        scaling: cur?.scaling ?? {},
      };
    },
    { what: `Scalable target ${r.resourceId}` },
  );
  await clampCapacity(s, value!, ref);
  return value!;
}

/** Brings the service's desired count within the target's bounds, recording the activity. */
async function clampCapacity(s: Scope, t: ScalableTargetRecord, ref: ServiceRef): Promise<void> {
  const svc = await loadService(s, ref.cluster, ref.service);
  if (!svc || svc.record.status !== 'ACTIVE') return;
  const current = svc.record.desiredCount;
  const wanted = Math.min(t.maxCapacity, Math.max(t.minCapacity, current));
  if (wanted === current) return;
  const startTime = s.platform.clock.now();
  await updateService(s, ref.cluster, ref.service, { desiredCount: wanted });
  await recordActivity(s, {
    serviceNamespace: t.serviceNamespace,
    resourceId: t.resourceId,
    scalableDimension: t.scalableDimension,
    description: `Setting desired count to ${wanted}.`,
    cause: wanted > current ? `minimum capacity was set to ${t.minCapacity}` : `maximum capacity was set to ${t.maxCapacity}`,
    startTime,
    endTime: s.platform.clock.now(),
    statusCode: 'Successful',
    statusMessage: `Successfully set desired count to ${wanted}. Change successfully fulfilled by ecs.`,
  });
}

/** DescribeScalableTargets' filters. */
export interface TargetQuery {
  namespace: string;
  resourceIds?: string[];
  dimension?: string;
  token?: string;
  maxResults: number;
}

export async function describeTargets(s: Scope, q: TargetQuery): Promise<{ targets: ScalableTargetRecord[]; nextToken?: string }> {
  const ids = q.resourceIds?.length ? new Set(q.resourceIds) : undefined;
  const { items, nextToken } = await pageOf<ScalableTargetRecord>(s.platform.store, KIND.target, `${s.region}/${encodeURIComponent(q.namespace)}/`, {
    token: q.token,
    maxResults: q.maxResults,
    invalidToken: appScalingErrors.invalidNextToken,
    filter: (r) => (!ids || ids.has(r.value.resourceId)) && (q.dimension === undefined || r.value.scalableDimension === q.dimension),
  });
  return { targets: items.map((r) => r.value), nextToken };
}

/** Deletes a target with its policies and activities. */
export async function deregisterTarget(s: Scope, namespace: string, resourceId: string, dimension: string): Promise<void> {
  const key = targetKey(s.region, namespace, resourceId, dimension);
  await retrying(`Scalable target ${resourceId}`, async () => {
    const cur = await s.platform.store.get<ScalableTargetRecord>(KIND.target, key);
    if (!cur) throw noTarget(namespace, resourceId, dimension);
    const policies = await s.platform.store.list<ScalingPolicyRecord>(KIND.policy, { prefix: `${key}/` });
    await s.platform.store.commit([{ kind: KIND.target, key, value: null, expectRev: cur.rev }, ...policies.map((p) => ({ kind: KIND.policy, key: p.key, value: null, expectRev: p.rev }))]);
  });
  await dropActivities(s, key);
}

/** Every target of a region (the controller's pass), with their keys. */
export async function listTargets(s: Scope): Promise<Array<{ key: string; target: ScalableTargetRecord }>> {
  return (await s.platform.store.list<ScalableTargetRecord>(KIND.target, { prefix: `${s.region}/` })).map((r) => ({ key: r.key, target: r.value }));
}

/** Regions that have scalable targets. */
export async function targetRegions(s: Pick<Scope, 'platform'>): Promise<string[]> {
  const regions = new Set<string>();
  for (const r of await s.platform.store.list(KIND.target)) regions.add(r.key.split('/')[0]!);
  return [...regions];
}

/** The target with this ARN, with its key; undefined when none. */
export async function findTargetByArn(s: Scope, targetArn: string): Promise<{ key: string; target: ScalableTargetRecord } | undefined> {
  return (await listTargets(s)).find((t) => t.target.arn === targetArn);
}

/** TagResource / UntagResource: changes a target's tags. */
export async function changeTargetTags(s: Scope, targetArn: string, add: Record<string, string>, remove: readonly string[]): Promise<void> {
  const found = await findTargetByArn(s, targetArn);
  if (!found) throw appScalingErrors.resourceNotFound(targetArn);
  await mutate<ScalableTargetRecord>(s.platform.store, KIND.target, found.key, (cur) => {
    if (!cur) throw appScalingErrors.resourceNotFound(targetArn);
    const tags = checkTags(add, cur.tags);
    for (const k of remove) delete tags[k];
    return { ...cur, tags };
  });
}
