/**
 * Application Auto Scaling (awsJson1_1, target prefix AnyScaleFrontendService, signing name
 * application-autoscaling), the part Berth serves: scalable targets that are ECS services'
 * desired counts, their target tracking and step scaling policies, and the scaling activities
 * the controller (src/control/applicationAutoScaling.ts) records. Handlers map the API's
 * shapes to the domain (src/domain/applicationautoscaling/) and back.
 */
import type * as AAS from '../../generated/applicationautoscaling.js';
import { ServiceModel } from '../../protocol/model.js';
import { appScalingErrors, noTarget } from '../../domain/applicationautoscaling/errors.js';
import { changeTargetTags, checkScalable, deregisterTarget, describeTargets, findTargetByArn, getTarget, registerTarget } from '../../domain/applicationautoscaling/targets.js';
import { DEFAULT_COOLDOWN, deletePolicy, describePolicies, putPolicy } from '../../domain/applicationautoscaling/policies.js';
import { describeActivities } from '../../domain/applicationautoscaling/activities.js';
import type { ScalableTargetRecord, ScalingActivityRecord, ScalingPolicyRecord, StepScalingConfig, TargetTrackingConfig } from '../../domain/applicationautoscaling/records.js';
import type { Handlers, ServiceDefinition } from '../types.js';

/** AWS's page bound for the Describe operations. */
const MAX_RESULTS = 50;

function pageSize(v: number | undefined): number {
  if (v === undefined) return MAX_RESULTS;
  if (!Number.isInteger(v) || v < 1 || v > MAX_RESULTS) throw appScalingErrors.validation(`1 validation error detected: Value '${v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_RESULTS} and greater than or equal to 1`);
  return v;
}

const describeTarget = (t: ScalableTargetRecord): AAS.ScalableTarget => ({
  ServiceNamespace: t.serviceNamespace as AAS.ServiceNamespace,
  ResourceId: t.resourceId,
  ScalableDimension: t.scalableDimension as AAS.ScalableDimension,
  MinCapacity: t.minCapacity,
  MaxCapacity: t.maxCapacity,
  RoleARN: t.roleArn,
  CreationTime: new Date(t.createdAt),
  SuspendedState: {
    DynamicScalingInSuspended: t.suspendedState.dynamicScalingInSuspended,
    DynamicScalingOutSuspended: t.suspendedState.dynamicScalingOutSuspended,
    ScheduledScalingSuspended: t.suspendedState.scheduledScalingSuspended,
  },
  ScalableTargetARN: t.arn,
});

function targetTrackingOf(c: AAS.TargetTrackingScalingPolicyConfiguration): TargetTrackingConfig {
  const m = c.CustomizedMetricSpecification;
  if (m?.Metrics?.length) throw appScalingErrors.validation('Metric math (CustomizedMetricSpecification.Metrics) is not supported by Berth: give MetricName, Namespace, Dimensions and Statistic.');
  return {
    targetValue: c.TargetValue,
    predefined: c.PredefinedMetricSpecification ? { type: c.PredefinedMetricSpecification.PredefinedMetricType, resourceLabel: c.PredefinedMetricSpecification.ResourceLabel } : undefined,
    customized: m ? { namespace: m.Namespace ?? '', metricName: m.MetricName ?? '', dimensions: (m.Dimensions ?? []).map((d) => ({ Name: d.Name, Value: d.Value })), statistic: m.Statistic ?? '', unit: m.Unit } : undefined,
    scaleInCooldown: c.ScaleInCooldown ?? DEFAULT_COOLDOWN,
    scaleOutCooldown: c.ScaleOutCooldown ?? DEFAULT_COOLDOWN,
    disableScaleIn: c.DisableScaleIn ?? false,
  };
}

const stepScalingOf = (c: AAS.StepScalingPolicyConfiguration): StepScalingConfig => ({
  adjustmentType: c.AdjustmentType,
  steps: (c.StepAdjustments ?? []).map((x) => ({ lower: x.MetricIntervalLowerBound, upper: x.MetricIntervalUpperBound, adjustment: x.ScalingAdjustment })),
  minAdjustmentMagnitude: c.MinAdjustmentMagnitude,
  cooldown: c.Cooldown,
  metricAggregationType: c.MetricAggregationType,
});

function describePolicy(p: ScalingPolicyRecord): AAS.ScalingPolicy {
  const t = p.targetTracking;
  const st = p.stepScaling;
  return {
    PolicyARN: p.arn,
    PolicyName: p.policyName,
    ServiceNamespace: p.serviceNamespace as AAS.ServiceNamespace,
    ResourceId: p.resourceId,
    ScalableDimension: p.scalableDimension as AAS.ScalableDimension,
    PolicyType: p.policyType,
    CreationTime: new Date(p.createdAt),
    Alarms: [],
    TargetTrackingScalingPolicyConfiguration: t && {
      TargetValue: t.targetValue,
      PredefinedMetricSpecification: t.predefined && { PredefinedMetricType: t.predefined.type as AAS.MetricType, ResourceLabel: t.predefined.resourceLabel },
      CustomizedMetricSpecification: t.customized && { Namespace: t.customized.namespace, MetricName: t.customized.metricName, Dimensions: t.customized.dimensions, Statistic: t.customized.statistic as AAS.MetricStatistic, Unit: t.customized.unit },
      ScaleInCooldown: t.scaleInCooldown,
      ScaleOutCooldown: t.scaleOutCooldown,
      DisableScaleIn: t.disableScaleIn,
    },
    StepScalingPolicyConfiguration: st && {
      AdjustmentType: st.adjustmentType,
      StepAdjustments: st.steps.map((x) => ({ MetricIntervalLowerBound: x.lower, MetricIntervalUpperBound: x.upper, ScalingAdjustment: x.adjustment })),
      MinAdjustmentMagnitude: st.minAdjustmentMagnitude,
      Cooldown: st.cooldown,
      MetricAggregationType: st.metricAggregationType,
    },
  };
}

const describeActivity = (a: ScalingActivityRecord): AAS.ScalingActivity => ({
  ActivityId: a.activityId,
  ServiceNamespace: a.serviceNamespace as AAS.ServiceNamespace,
  ResourceId: a.resourceId,
  ScalableDimension: a.scalableDimension as AAS.ScalableDimension,
  Description: a.description,
  Cause: a.cause,
  StartTime: new Date(a.startTime),
  EndTime: a.endTime === undefined ? undefined : new Date(a.endTime),
  StatusCode: a.statusCode,
  StatusMessage: a.statusMessage,
});

export const applicationAutoScalingHandlers: Handlers<AAS.Operations> = {
  async RegisterScalableTarget(input, ctx) {
    const t = await registerTarget(ctx, {
      namespace: input.ServiceNamespace,
      resourceId: input.ResourceId,
      dimension: input.ScalableDimension,
      minCapacity: input.MinCapacity,
      maxCapacity: input.MaxCapacity,
      roleArn: input.RoleARN,
      suspendedState: input.SuspendedState && {
        dynamicScalingInSuspended: input.SuspendedState.DynamicScalingInSuspended,
        dynamicScalingOutSuspended: input.SuspendedState.DynamicScalingOutSuspended,
        scheduledScalingSuspended: input.SuspendedState.ScheduledScalingSuspended,
      },
      tags: input.Tags,
    });
    return { ScalableTargetARN: t.arn };
  },
  async DescribeScalableTargets(input, ctx) {
    if ((input.ResourceIds?.length ?? 0) > 50) throw appScalingErrors.validation('ResourceIds names at most 50 resources.');
    const { targets, nextToken } = await describeTargets(ctx, { namespace: input.ServiceNamespace, resourceIds: input.ResourceIds, dimension: input.ScalableDimension, token: input.NextToken, maxResults: pageSize(input.MaxResults) });
    return { ScalableTargets: targets.map(describeTarget), NextToken: nextToken };
  },
  async DeregisterScalableTarget(input, ctx) {
    checkScalable(input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    await deregisterTarget(ctx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    return {};
  },
  async PutScalingPolicy(input, ctx) {
    const type = input.PolicyType ?? 'StepScaling';
    if (type === 'PredictiveScaling' || input.PredictiveScalingPolicyConfiguration) throw appScalingErrors.validation('Predictive scaling is not supported by Berth: use TargetTrackingScaling or StepScaling.');
    checkScalable(input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    if (!(await getTarget(ctx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension))) throw noTarget(input.ServiceNamespace, input.ResourceId, input.ScalableDimension);
    const p = await putPolicy(ctx, {
      namespace: input.ServiceNamespace,
      resourceId: input.ResourceId,
      dimension: input.ScalableDimension,
      policyName: input.PolicyName,
      policyType: type,
      targetTracking: input.TargetTrackingScalingPolicyConfiguration && targetTrackingOf(input.TargetTrackingScalingPolicyConfiguration),
      stepScaling: input.StepScalingPolicyConfiguration && stepScalingOf(input.StepScalingPolicyConfiguration),
    });
    return { PolicyARN: p.arn, Alarms: [] };
  },
  async DescribeScalingPolicies(input, ctx) {
    if ((input.PolicyNames?.length ?? 0) > 50) throw appScalingErrors.validation('PolicyNames names at most 50 policies.');
    const { policies, nextToken } = await describePolicies(ctx, { namespace: input.ServiceNamespace, resourceId: input.ResourceId, dimension: input.ScalableDimension, policyNames: input.PolicyNames, token: input.NextToken, maxResults: pageSize(input.MaxResults) });
    return { ScalingPolicies: policies.map(describePolicy), NextToken: nextToken };
  },
  async DeleteScalingPolicy(input, ctx) {
    await deletePolicy(ctx, input.ServiceNamespace, input.ResourceId, input.ScalableDimension, input.PolicyName);
    return {};
  },
  async DescribeScalingActivities(input, ctx) {
    const { activities, nextToken } = await describeActivities(ctx, { namespace: input.ServiceNamespace, resourceId: input.ResourceId, dimension: input.ScalableDimension, token: input.NextToken, maxResults: pageSize(input.MaxResults) });
    return { ScalingActivities: activities.map(describeActivity), NextToken: nextToken };
  },
  async TagResource(input, ctx) {
    await changeTargetTags(ctx, input.ResourceARN, input.Tags, []);
    return {};
  },
  async UntagResource(input, ctx) {
    if (input.TagKeys.length > 50) throw appScalingErrors.validation('TagKeys names at most 50 keys.');
    await changeTargetTags(ctx, input.ResourceARN, {}, input.TagKeys);
    return {};
  },
  async ListTagsForResource(input, ctx) {
    const found = await findTargetByArn(ctx, input.ResourceARN);
    if (!found) throw appScalingErrors.resourceNotFound(input.ResourceARN);
    return { Tags: found.target.tags };
  },
};

/** The Application Auto Scaling service definition for the registry. */
export function applicationAutoScalingService(): ServiceDefinition {
  return {
    name: 'applicationautoscaling',
    model: ServiceModel.load('applicationautoscaling'),
    protocol: 'json',
    signingNames: ['application-autoscaling'],
    servedPart: 'scalable targets of ECS services with target tracking and step scaling policies',
    validationErrorCode: 'ValidationException',
    handlers: { ...applicationAutoScalingHandlers },
  };
}
