/**
 * Scaling policies: PutScalingPolicy (create or update by name), DescribeScalingPolicies,
 * DeleteScalingPolicy. Target tracking follows a predefined ECS or ALB metric (or a customized
 * CloudWatch metric); step scaling is run by CloudWatch alarms whose AlarmActions name the
 * policy's ARN. Both are acted on by the controller (src/control/applicationAutoScaling.ts).
 */
import type { Scope } from '../platform.js';
import { pageOf, uuid } from '../common.js';
import { mutate, retrying } from '../mutate.js';
import { findTg } from '../elbv2/lookup.js';
import { appScalingErrors, noTarget } from './errors.js';
import { checkScalable } from './targets.js';
import { KIND, MAX_POLICIES_PER_TARGET, policyKey, targetKey, type ScalableTargetRecord, type ScalingPolicyRecord, type StepScalingConfig, type TargetTrackingConfig, type TrackedMetric } from './records.js';

/** The predefined metrics Berth publishes for ECS services, by type. */
export const ECS_METRICS = ['ECSServiceAverageCPUUtilization', 'ECSServiceAverageMemoryUtilization', 'ALBRequestCountPerTarget'];
/** AWS's default cooldowns for ECS services (seconds). */
export const DEFAULT_COOLDOWN = 300;
/** AWS's bound on a cooldown (seconds). */
export const MAX_COOLDOWN = 86_400;
/** At most this many step adjustments in one policy (AWS: 20). */
export const MAX_STEPS = 20;
const LABEL = /^app\/([^/]{1,32})\/([0-9a-f]{1,32})\/targetgroup\/([^/]{1,32})\/([0-9a-f]{1,32})$/;
/** AWS's bounds on a target value. */
const MIN_TARGET = 8.515920e-109;
const MAX_TARGET = 1.174271e108;

/** The CloudWatch metric a target tracking policy of an ECS service follows. */
export function trackedMetric(resourceId: string, c: TargetTrackingConfig): TrackedMetric {
  if (c.customized) return c.customized;
  const [, cluster, service] = resourceId.split('/');
  switch (c.predefined!.type) {
    case 'ECSServiceAverageCPUUtilization':
      return { namespace: 'AWS/ECS', metricName: 'CPUUtilization', dimensions: [{ Name: 'ClusterName', Value: cluster! }, { Name: 'ServiceName', Value: service! }], statistic: 'Average' };
    case 'ECSServiceAverageMemoryUtilization':
      return { namespace: 'AWS/ECS', metricName: 'MemoryUtilization', dimensions: [{ Name: 'ClusterName', Value: cluster! }, { Name: 'ServiceName', Value: service! }], statistic: 'Average' };
    default: {
      const m = LABEL.exec(c.predefined!.resourceLabel ?? '')!;
      return {
        namespace: 'AWS/ApplicationELB',
        metricName: 'RequestCountPerTarget',
        dimensions: [{ Name: 'LoadBalancer', Value: `app/${m[1]}/${m[2]}` }, { Name: 'TargetGroup', Value: `targetgroup/${m[3]}/${m[4]}` }],
        statistic: 'Sum',
      };
    }
  }
}

function checkCooldown(v: number | undefined, name: string): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > MAX_COOLDOWN)) throw appScalingErrors.validation(`${name} must be a whole number of seconds from 0 to ${MAX_COOLDOWN}; got ${v}.`);
}

/** Checks a target tracking configuration against AWS's rules (and what Berth can follow). */
export async function checkTargetTracking(s: Scope, c: TargetTrackingConfig): Promise<void> {
  if (!Number.isFinite(c.targetValue) || c.targetValue < MIN_TARGET || c.targetValue > MAX_TARGET) {
    throw appScalingErrors.validation(`The target value ${c.targetValue} is out of range: it must be between ${MIN_TARGET} and ${MAX_TARGET}.`);
  }
  checkCooldown(c.scaleInCooldown, 'ScaleInCooldown');
  checkCooldown(c.scaleOutCooldown, 'ScaleOutCooldown');
  if ((c.predefined === undefined) === (c.customized === undefined)) {
    throw appScalingErrors.validation('Exactly one of PredefinedMetricSpecification or CustomizedMetricSpecification must be specified in TargetTrackingScalingPolicyConfiguration.');
  }
  if (c.predefined) {
    const type = c.predefined.type;
    if (!ECS_METRICS.includes(type)) throw appScalingErrors.validation(`Unsupported predefined metric type ${type} for service namespace ecs: use one of ${ECS_METRICS.join(', ')}.`);
    if (type === 'ALBRequestCountPerTarget') {
      const label = c.predefined.resourceLabel;
      if (!label) throw appScalingErrors.validation('ResourceLabel must be specified for the predefined metric type ALBRequestCountPerTarget.');
      const m = LABEL.exec(label);
      if (!m) throw appScalingErrors.validation(`Invalid ResourceLabel ${label.slice(0, 200)}: the format is app/<load-balancer-name>/<load-balancer-id>/targetgroup/<target-group-name>/<target-group-id>.`);
      const tgArn = `arn:aws:elasticloadbalancing:${s.region}:${s.platform.accountId}:targetgroup/${m[3]}/${m[4]}`;
      if (!(await findTg(s, tgArn))) throw appScalingErrors.validation(`Target group targetgroup/${m[3]}/${m[4]} of ResourceLabel does not exist.`);
    } else if (c.predefined.resourceLabel !== undefined) {
      throw appScalingErrors.validation(`ResourceLabel is only used with the predefined metric type ALBRequestCountPerTarget, not ${type}.`);
    }
  }
  if (c.customized) {
    const m = c.customized;
    if (!m.namespace || !m.metricName || !m.statistic) throw appScalingErrors.validation('A CustomizedMetricSpecification needs MetricName, Namespace and Statistic (metric math through Metrics is not supported by Berth).');
    if (m.dimensions.length > 30) throw appScalingErrors.validation('A CustomizedMetricSpecification has at most 30 dimensions.');
  }
}

/** Checks a step scaling configuration against AWS's rules. */
export function checkStepScaling(c: StepScalingConfig): void {
  if (!c.adjustmentType) throw appScalingErrors.validation('AdjustmentType must be specified for a step scaling policy.');
  if (!c.steps.length) throw appScalingErrors.validation('StepAdjustments must have at least one step adjustment.');
  if (c.steps.length > MAX_STEPS) throw appScalingErrors.validation(`StepAdjustments has at most ${MAX_STEPS} step adjustments.`);
  checkCooldown(c.cooldown, 'Cooldown');
  if (c.minAdjustmentMagnitude !== undefined) {
    if (c.adjustmentType !== 'PercentChangeInCapacity') throw appScalingErrors.validation('MinAdjustmentMagnitude is only valid with the adjustment type PercentChangeInCapacity.');
    if (!Number.isInteger(c.minAdjustmentMagnitude) || c.minAdjustmentMagnitude < 1) throw appScalingErrors.validation('MinAdjustmentMagnitude must be a whole number of 1 or more.');
  }
  const sorted = [...c.steps].sort((a, b) => (a.lower ?? -Infinity) - (b.lower ?? -Infinity));
  for (const [i, st] of sorted.entries()) {
    if (st.lower === undefined && st.upper === undefined) throw appScalingErrors.validation('A step adjustment needs MetricIntervalLowerBound or MetricIntervalUpperBound.');
    if (st.lower !== undefined && st.upper !== undefined && st.lower >= st.upper) throw appScalingErrors.validation(`A step adjustment's MetricIntervalLowerBound (${st.lower}) must be less than its MetricIntervalUpperBound (${st.upper}).`);
    if (!Number.isInteger(st.adjustment)) throw appScalingErrors.validation('ScalingAdjustment must be a whole number.');
    if (c.adjustmentType === 'ExactCapacity' && st.adjustment < 0) throw appScalingErrors.validation('ScalingAdjustment must not be negative with the adjustment type ExactCapacity.');
    const next = sorted[i + 1];
    if (next && (st.upper === undefined || next.lower === undefined || st.upper !== next.lower)) {
      throw appScalingErrors.validation('The step adjustments must not overlap or leave gaps: each MetricIntervalUpperBound must be the next step\'s MetricIntervalLowerBound.');
    }
  }
  if (sorted.filter((x) => x.upper === undefined).length > 1 || sorted.filter((x) => x.lower === undefined).length > 1) {
    throw appScalingErrors.validation('Only one step adjustment may have a null upper bound, and only one a null lower bound.');
  }
}

/** What PutScalingPolicy gives. */
export interface PolicySpec {
  namespace: string;
  resourceId: string;
  dimension: string;
  policyName: string;
  policyType: ScalingPolicyRecord['policyType'];
  targetTracking?: TargetTrackingConfig;
  stepScaling?: StepScalingConfig;
}

/** Creates or updates a policy of a registered target; returns it. */
export async function putPolicy(s: Scope, p: PolicySpec): Promise<ScalingPolicyRecord> {
  checkScalable(p.namespace, p.resourceId, p.dimension);
  if (p.policyType === 'TargetTrackingScaling') {
    if (!p.targetTracking) throw appScalingErrors.validation('TargetTrackingScalingPolicyConfiguration is required for a policy of type TargetTrackingScaling.');
    if (p.stepScaling) throw appScalingErrors.validation('StepScalingPolicyConfiguration cannot be given for a policy of type TargetTrackingScaling.');
    await checkTargetTracking(s, p.targetTracking);
  } else {
    if (!p.stepScaling) throw appScalingErrors.validation('StepScalingPolicyConfiguration is required for a policy of type StepScaling.');
    if (p.targetTracking) throw appScalingErrors.validation('TargetTrackingScalingPolicyConfiguration cannot be given for a policy of type StepScaling.');
    checkStepScaling(p.stepScaling);
  }
  const tKey = targetKey(s.region, p.namespace, p.resourceId, p.dimension);
  const key = policyKey(tKey, p.policyName);
  const now = s.platform.clock.now();
  return retrying(`Scaling policy ${p.policyName}`, async () => {
    const target = await s.platform.store.get<ScalableTargetRecord>(KIND.target, tKey);
    if (!target) throw noTarget(p.namespace, p.resourceId, p.dimension);
    const cur = await s.platform.store.get<ScalingPolicyRecord>(KIND.policy, key);
    if (!cur) {
      const have = await s.platform.store.list(KIND.policy, { prefix: `${tKey}/`, limit: MAX_POLICIES_PER_TARGET });
      if (have.length >= MAX_POLICIES_PER_TARGET) throw appScalingErrors.limitExceeded(`A scalable target has at most ${MAX_POLICIES_PER_TARGET} scaling policies; delete one first.`);
    } else if (cur.value.policyType !== p.policyType) {
      throw appScalingErrors.validation(`Policy ${p.policyName} is of type ${cur.value.policyType}: delete it to make a ${p.policyType} policy of that name.`);
    }
    const rec: ScalingPolicyRecord = {
      policyName: p.policyName,
      arn: cur?.value.arn ?? `arn:aws:autoscaling:${s.region}:${s.platform.accountId}:scalingPolicy:${uuid()}:resource/${p.namespace}/${p.resourceId}:policyName/${p.policyName}`,
      serviceNamespace: p.namespace,
      resourceId: p.resourceId,
      scalableDimension: p.dimension,
      policyType: p.policyType,
      targetTracking: p.targetTracking,
      stepScaling: p.stepScaling,
      createdAt: cur?.value.createdAt ?? now,
    };
    // The target must still be there (and unchanged) when the policy is written.
    await s.platform.store.commit([
      { kind: KIND.target, key: tKey, value: target.value, expectRev: target.rev },
      { kind: KIND.policy, key, value: rec, expectRev: cur?.rev ?? 0 },
    ]);
    return rec;
  });
}

/** DescribeScalingPolicies' filters. */
export interface PolicyQuery {
  namespace: string;
  resourceId?: string;
  dimension?: string;
  policyNames?: string[];
  token?: string;
  maxResults: number;
}

export async function describePolicies(s: Scope, q: PolicyQuery): Promise<{ policies: ScalingPolicyRecord[]; nextToken?: string }> {
  const names = q.policyNames?.length ? new Set(q.policyNames) : undefined;
  const prefix = q.resourceId !== undefined ? `${s.region}/${encodeURIComponent(q.namespace)}/${encodeURIComponent(q.resourceId)}/` : `${s.region}/${encodeURIComponent(q.namespace)}/`;
  const { items, nextToken } = await pageOf<ScalingPolicyRecord>(s.platform.store, KIND.policy, prefix, {
    token: q.token,
    maxResults: q.maxResults,
    invalidToken: appScalingErrors.invalidNextToken,
    filter: (r) => (!names || names.has(r.value.policyName)) && (q.dimension === undefined || r.value.scalableDimension === q.dimension) && (q.resourceId === undefined || r.value.resourceId === q.resourceId),
  });
  return { policies: items.map((r) => r.value), nextToken };
}

export async function deletePolicy(s: Scope, namespace: string, resourceId: string, dimension: string, policyName: string): Promise<void> {
  checkScalable(namespace, resourceId, dimension);
  const key = policyKey(targetKey(s.region, namespace, resourceId, dimension), policyName);
  const out = await mutate<ScalingPolicyRecord>(s.platform.store, KIND.policy, key, (cur) => (cur ? null : undefined));
  if (!out.before) throw appScalingErrors.notFound(`No scaling policy found for service namespace: ${namespace}, resource ID: ${resourceId.slice(0, 200)}, scalable dimension: ${dimension}, policy name: ${policyName.slice(0, 256)}`);
}

/** The policies of one target (by its key). */
export async function policiesOf(s: Scope, tKey: string): Promise<ScalingPolicyRecord[]> {
  return (await s.platform.store.list<ScalingPolicyRecord>(KIND.policy, { prefix: `${tKey}/` })).map((r) => r.value);
}
