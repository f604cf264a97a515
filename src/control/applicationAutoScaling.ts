/**
 * The Application Auto Scaling controller (duty `application-autoscaling`): every
 * `APP_SCALING_INTERVAL_MS` on the platform clock it looks at every scalable target that has
 * policies, reads what its policies follow (the CloudWatch metrics Berth publishes: AWS/ECS
 * CPUUtilization and MemoryUtilization per service, AWS/ApplicationELB RequestCountPerTarget,
 * or a customized metric; for step scaling, the alarms whose AlarmActions name the policy),
 * asks `decideScaling` (pure, src/domain/applicationautoscaling/decide.ts) and applies the
 * answer: the service's desired count within min/max, the cooldown memory, the activity.
 */
import type { Platform } from '../domain/platform.js';
import type { Scope } from '../domain/platform.js';
import { statisticsOf, statisticValue } from '../domain/cloudwatch/metrics.js';
import { MAX_ALARMS_PER_REGION, describeAlarms, type AlarmRecord } from '../domain/cloudwatch/alarms.js';
import { loadService } from '../domain/ecs/services.js';
import { listTargets, parseEcsResourceId, targetRegions } from '../domain/applicationautoscaling/targets.js';
import { policiesOf, trackedMetric } from '../domain/applicationautoscaling/policies.js';
import { PERIOD_MS, SCALE_IN_PERIODS, decideScaling, type PolicyInput } from '../domain/applicationautoscaling/decide.js';
import { applyScaling } from '../domain/applicationautoscaling/scaling.js';
import type { ScalingActivityRecord } from '../domain/applicationautoscaling/records.js';
import { startLoop, type Loop } from './loop.js';

/** How often targets are evaluated by default (AWS evaluates its one-minute alarms every minute). */
export const APP_SCALING_INTERVAL_MS = 10_000;

/** The newest value of an alarm's metric (its statistic over its period), if any period has data. */
async function alarmValue(s: Scope, a: AlarmRecord, now: number): Promise<number | undefined> {
  const p = a.period * 1000;
  const end = Math.floor(now / p) * p + p;
  const stats = await statisticsOf(s, { namespace: a.namespace, metricName: a.metricName, dimensions: a.dimensions }, end - a.evaluationPeriods * p, end, p, a.unit);
  const newest = stats.reduce<(typeof stats)[number] | undefined>((x, y) => (!x || y.t > x.t ? y : x), undefined);
  return newest ? statisticValue(newest, a.statistic) : undefined;
}

/** Evaluates every target of a region once; returns the activities recorded. */
export async function scaleRegion(s: Scope): Promise<ScalingActivityRecord[]> {
  const now = s.platform.clock.now();
  const out: ScalingActivityRecord[] = [];
  let alarms: AlarmRecord[] | undefined;
  for (const { key, target } of await listTargets(s)) {
    const policies = await policiesOf(s, key);
    if (!policies.length) continue;
    const ref = parseEcsResourceId(target.resourceId);
    const svc = await loadService(s, ref.cluster, ref.service);
    if (!svc || svc.record.status !== 'ACTIVE') continue;
    const inputs: PolicyInput[] = [];
    for (const p of policies) {
      if (p.policyType === 'TargetTrackingScaling' && p.targetTracking) {
        const m = trackedMetric(target.resourceId, p.targetTracking);
        const end = Math.floor(now / PERIOD_MS) * PERIOD_MS + PERIOD_MS;
        const stats = await statisticsOf(s, { namespace: m.namespace, metricName: m.metricName, dimensions: m.dimensions }, end - (SCALE_IN_PERIODS + 1) * PERIOD_MS, end, PERIOD_MS, m.unit);
        inputs.push({ kind: 'target', name: p.policyName, config: p.targetTracking, values: new Map(stats.map((x) => [x.t, statisticValue(x, m.statistic)])), metricText: `${m.namespace} ${m.metricName} (${m.statistic})` });
      } else if (p.policyType === 'StepScaling' && p.stepScaling) {
        alarms ??= (await describeAlarms(s, { limit: MAX_ALARMS_PER_REGION })).alarms;
        const firing: Array<{ name: string; threshold: number; value: number }> = [];
        for (const a of alarms) {
          if (a.state !== 'ALARM' || !a.actionsEnabled || !a.alarmActions.includes(p.arn)) continue;
          const value = await alarmValue(s, a, now);
          if (value !== undefined) firing.push({ name: a.name, threshold: a.threshold, value });
        }
        inputs.push({ kind: 'step', name: p.policyName, config: p.stepScaling, alarms: firing });
      }
    }
    const current = svc.record.desiredCount;
    const d = decideScaling({ minCapacity: target.minCapacity, maxCapacity: target.maxCapacity, suspended: target.suspendedState, memory: target.scaling, current }, inputs, now);
    if (!d) continue;
    const activity = await applyScaling(s, key, target, current, d);
    if (activity) out.push(activity);
  }
  return out;
}

/** Evaluates every target of every region once. */
export async function scaleAll(platform: Platform): Promise<ScalingActivityRecord[]> {
  const out: ScalingActivityRecord[] = [];
  for (const region of await targetRegions({ platform })) out.push(...(await scaleRegion({ platform, region })));
  return out;
}

/** Starts the controller's loop; `onActivity` hears each scaling (for the server log). */
export function startApplicationAutoScaling(platform: Platform, opts: { intervalMs?: number; onError: (e: unknown) => void; onActivity?: (a: ScalingActivityRecord) => void }): Loop {
  return startLoop(platform.clock, opts.intervalMs ?? APP_SCALING_INTERVAL_MS, async () => {
    for (const a of await scaleAll(platform)) opts.onActivity?.(a);
  }, opts.onError);
}
