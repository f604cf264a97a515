/**
 * Carrying out a scaling decision (src/domain/applicationautoscaling/decide.ts): the ECS
 * service's desired count is set through the ECS domain (as UpdateService would), the target
 * remembers the scaling for its cooldowns, and the activity is recorded, failed with the reason
 * when the service refused.
 */
import type { Scope } from '../platform.js';
import { ServiceError } from '../../errors.js';
import { mutate } from '../mutate.js';
import { updateService } from '../ecs/services.js';
import { recordActivity } from './activities.js';
import type { ScalingDecision } from './decide.js';
import { parseEcsResourceId } from './targets.js';
import { KIND, type ScalableTargetRecord, type ScalingActivityRecord } from './records.js';

/** Sets the target's capacity as decided; returns the activity recorded (undefined when the target changed meanwhile). */
export async function applyScaling(s: Scope, key: string, seen: ScalableTargetRecord, from: number, d: ScalingDecision): Promise<ScalingActivityRecord | undefined> {
  const now = s.platform.clock.now();
  // Remember the scaling first, conditionally on the target being as read: a target updated or
  // deregistered meanwhile is judged again on the next pass instead.
  const { changed } = await mutate<ScalableTargetRecord>(s.platform.store, KIND.target, key, (cur) => {
    if (!cur || cur.arn !== seen.arn || cur.minCapacity !== seen.minCapacity || cur.maxCapacity !== seen.maxCapacity || JSON.stringify(cur.scaling) !== JSON.stringify(seen.scaling)) return undefined;
    const scaling = { ...cur.scaling };
    if (d.direction === 'out') scaling.lastScaleOut = { at: now, from, to: d.capacity };
    else scaling.lastScaleInAt = now;
    if (d.stepPolicies.length) scaling.stepActedAt = { ...scaling.stepActedAt, ...Object.fromEntries(d.stepPolicies.map((p) => [p, now])) };
    return { ...cur, scaling };
  });
  if (!changed) return undefined;
  const ref = parseEcsResourceId(seen.resourceId);
  const base = { serviceNamespace: seen.serviceNamespace, resourceId: seen.resourceId, scalableDimension: seen.scalableDimension, description: `Setting desired count to ${d.capacity}.`, cause: d.cause, startTime: now };
  try {
    await updateService(s, ref.cluster, ref.service, { desiredCount: d.capacity });
  } catch (e) {
    if (!(e instanceof ServiceError)) throw e;
    return recordActivity(s, { ...base, endTime: s.platform.clock.now(), statusCode: 'Failed', statusMessage: `Failed to set desired count to ${d.capacity}. Reason: ${e.message}` });
  }
  return recordActivity(s, { ...base, endTime: s.platform.clock.now(), statusCode: 'Successful', statusMessage: `Successfully set desired count to ${d.capacity}. Change successfully fulfilled by ecs.` });
}
