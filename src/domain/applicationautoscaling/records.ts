/**
 * Application Auto Scaling records: scalable targets, their scaling policies and the scaling
 * activities the controller (src/control/applicationAutoScaling.ts) records.
 *
 * Keys (every part URI-encoded, since resource ids hold `/`):
 * - `appscaling.target`   `<region>/<namespace>/<resource id>/<dimension>`
 * - `appscaling.policy`   `<target key>/<policy name>`
 * - `appscaling.activity` `<target key>/<inverted start time>-<id>` (newest first in key order)
 */

export const KIND = { target: 'appscaling.target', policy: 'appscaling.policy', activity: 'appscaling.activity' } as const;

/** The one namespace and dimension Berth scales: an ECS service's desired count. */
export const ECS_NAMESPACE = 'ecs';
export const ECS_DIMENSION = 'ecs:service:DesiredCount';

/** AWS's quotas: scalable targets per namespace and region, policies per target. */
export const MAX_TARGETS = 3000;
export const MAX_POLICIES_PER_TARGET = 50;
/** Activities kept per target (the newest; AWS keeps six weeks). */
export const MAX_ACTIVITIES_PER_TARGET = 100;
/** Largest capacity a target may have (ECS's own cap on a service's desired count is far above what one host runs). */
export const MAX_CAPACITY = 10_000;
/** Tags on a target (AWS: 50). */
export const MAX_TAGS = 50;

/** Which kinds of scaling are suspended on a target. */
export interface SuspendedState {
  dynamicScalingInSuspended: boolean;
  dynamicScalingOutSuspended: boolean;
  scheduledScalingSuspended: boolean;
}

/** What the controller remembers of a target's last scalings (for cooldowns). */
export interface ScalingMemory {
  /** The last scale-out: when, from what capacity to what. */
  lastScaleOut?: { at: number; from: number; to: number };
  /** The last scale-in: when. */
  lastScaleInAt?: number;
  /** Per step-scaling policy name, when it last acted. */
  stepActedAt?: Record<string, number>;
}

export interface ScalableTargetRecord {
  serviceNamespace: string;
  resourceId: string;
  scalableDimension: string;
  arn: string;
  minCapacity: number;
  maxCapacity: number;
  roleArn: string;
  suspendedState: SuspendedState;
  tags: Record<string, string>;
  createdAt: number;
  scaling: ScalingMemory;
}

export interface PredefinedMetric {
  type: string;
  resourceLabel?: string;
}

/** A CloudWatch metric a target tracking policy follows (predefined ones resolved to this). */
export interface TrackedMetric {
  namespace: string;
  metricName: string;
  dimensions: Array<{ Name: string; Value: string }>;
  statistic: string;
  unit?: string;
}

export interface TargetTrackingConfig {
  targetValue: number;
  predefined?: PredefinedMetric;
  customized?: TrackedMetric;
  scaleInCooldown: number;
  scaleOutCooldown: number;
  disableScaleIn: boolean;
}

export interface StepAdjustmentRecord {
  lower?: number;
  upper?: number;
  adjustment: number;
}

export interface StepScalingConfig {
  adjustmentType?: 'ChangeInCapacity' | 'PercentChangeInCapacity' | 'ExactCapacity';
  steps: StepAdjustmentRecord[];
  minAdjustmentMagnitude?: number;
  cooldown?: number;
  metricAggregationType?: 'Average' | 'Minimum' | 'Maximum';
}

export interface ScalingPolicyRecord {
  policyName: string;
  arn: string;
  serviceNamespace: string;
  resourceId: string;
  scalableDimension: string;
  policyType: 'TargetTrackingScaling' | 'StepScaling';
  targetTracking?: TargetTrackingConfig;
  stepScaling?: StepScalingConfig;
  createdAt: number;
}

export interface ScalingActivityRecord {
  activityId: string;
  serviceNamespace: string;
  resourceId: string;
  scalableDimension: string;
  description: string;
  cause: string;
  startTime: number;
  endTime?: number;
  statusCode: 'Successful' | 'Failed' | 'InProgress';
  statusMessage?: string;
}

const enc = encodeURIComponent;

/** Store key of a scalable target. */
export function targetKey(region: string, namespace: string, resourceId: string, dimension: string): string {
  return `${region}/${enc(namespace)}/${enc(resourceId)}/${enc(dimension)}`;
}

/** Store key of a policy of a target. */
export function policyKey(target: string, policyName: string): string {
  return `${target}/${enc(policyName)}`;
}

/** Store key of an activity: newest first in key order. */
export function activityKey(target: string, startTime: number, id: string): string {
  return `${target}/${String(9_999_999_999_999 - startTime).padStart(13, '0')}-${id}`;
}
