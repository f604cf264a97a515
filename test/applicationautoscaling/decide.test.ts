// The pure scaling decision of Application Auto Scaling (src/domain/applicationautoscaling/decide.ts):
// target tracking's formula, windows, consensus and cooldowns; step scaling's steps; bounds and suspension.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideScaling, PERIOD_MS, recentValues, type PolicyInput, type TargetState } from '../../src/domain/applicationautoscaling/decide.js';
import type { TargetTrackingConfig } from '../../src/domain/applicationautoscaling/records.js';

const NOW = 1_000 * PERIOD_MS + 30_000; // half way through a minute
const minute = (ago: number) => Math.floor(NOW / PERIOD_MS) * PERIOD_MS - ago * PERIOD_MS;
/** Values for the minutes `ago` = 0 (the current one) .. n-1. */
const series = (...vs: number[]) => new Map(vs.map((v, ago) => [minute(ago), v]));
const config = (over: Partial<TargetTrackingConfig> = {}): TargetTrackingConfig => ({ targetValue: 50, predefined: { type: 'ECSServiceAverageCPUUtilization' }, scaleInCooldown: 300, scaleOutCooldown: 300, disableScaleIn: false, ...over });
const tracking = (values: Map<number, number>, over: Partial<TargetTrackingConfig> = {}, name = 'cpu'): PolicyInput => ({ kind: 'target', name, config: config(over), values, metricText: 'AWS/ECS CPUUtilization (Average)' });
const state = (over: Partial<TargetState> = {}): TargetState => ({ minCapacity: 1, maxCapacity: 10, suspended: { dynamicScalingInSuspended: false, dynamicScalingOutSuspended: false, scheduledScalingSuspended: false }, memory: {}, current: 2, ...over });

test('recentValues: the current minute counts once it has data, else the minutes before it', () => {
  assert.deepEqual(recentValues(series(1, 2, 3), NOW, 3), [1, 2, 3]);
  const noCurrent = new Map([[minute(1), 2], [minute(2), 3], [minute(3), 4]]);
  assert.deepEqual(recentValues(noCurrent, NOW, 3), [2, 3, 4]);
  assert.equal(recentValues(new Map([[minute(0), 1], [minute(2), 3]]), NOW, 3), undefined, 'a gap is not data');
});

test('target tracking scales out to ceil(capacity x metric / target) after 3 breaching minutes', () => {
  const d = decideScaling(state({ current: 2 }), [tracking(series(90, 80, 75))], NOW);
  assert.equal(d?.direction, 'out');
  assert.equal(d?.capacity, 4); // ceil(2 * 90 / 50)
  assert.match(d!.cause, /above the target 50 .*triggered policy cpu/);
  assert.equal(decideScaling(state(), [tracking(series(90, 80))], NOW), undefined, 'two minutes are not enough');
  assert.equal(decideScaling(state(), [tracking(series(90, 40, 90))], NOW), undefined, 'one minute under the target breaks the run');
  assert.equal(decideScaling(state({ maxCapacity: 3 }), [tracking(series(200, 200, 200))], NOW)?.capacity, 3, 'never above the maximum');
  assert.equal(decideScaling(state({ current: 3, maxCapacity: 3 }), [tracking(series(200, 200, 200))], NOW), undefined, 'nothing to do at the maximum');
  // Just over the target still adds one.
  assert.equal(decideScaling(state({ current: 4 }), [tracking(series(50.1, 51, 52))], NOW)?.capacity, 5);
});

test('target tracking scales in after 15 minutes under 90% of the target, within the minimum', () => {
  const low = series(...Array(15).fill(10));
  const d = decideScaling(state({ current: 6 }), [tracking(low)], NOW);
  assert.deepEqual([d?.direction, d?.capacity], ['in', 2]); // ceil(6 * 10 / 50)
  assert.equal(decideScaling(state({ current: 6, minCapacity: 3 }), [tracking(low)], NOW)?.capacity, 3);
  assert.equal(decideScaling(state({ current: 6 }), [tracking(series(...Array(14).fill(10)))], NOW), undefined, '14 minutes are not enough');
  assert.equal(decideScaling(state({ current: 6 }), [tracking(series(...Array(15).fill(46)))], NOW), undefined, '92% of the target is not low');
  assert.equal(decideScaling(state({ current: 6 }), [tracking(low, { disableScaleIn: true })], NOW), undefined, 'DisableScaleIn');
});

test('several policies: any one scales out, scale-in needs every one that may scale in', () => {
  const low = series(...Array(15).fill(10));
  const mid = series(...Array(15).fill(40));
  const high = series(90, 90, 90);
  assert.equal(decideScaling(state({ current: 4 }), [tracking(low, {}, 'cpu'), tracking(high, {}, 'mem')], NOW)?.capacity, 8);
  assert.equal(decideScaling(state({ current: 4 }), [tracking(low, {}, 'cpu'), tracking(mid, {}, 'mem')], NOW), undefined, 'mem is not ready to scale in');
  assert.equal(decideScaling(state({ current: 4 }), [tracking(low, {}, 'cpu'), tracking(mid, { disableScaleIn: true }, 'mem')], NOW)?.capacity, 1, 'a policy that never scales in has no say');
  const both = decideScaling(state({ current: 10 }), [tracking(low, {}, 'cpu'), tracking(series(...Array(15).fill(20)), {}, 'mem')], NOW);
  assert.equal(both?.capacity, 4, 'the larger capacity of the two wins (ceil(10 * 20 / 50))');
});

test('cooldowns: a scale-out in cooldown counts what it added; scale-in waits for both cooldowns', () => {
  const high = series(90, 90, 90);
  // Scaled out 2 -> 4 a minute ago: ceil(2 * 90 / 50) = 4 is not more than 4, nothing more.
  const cooling = { lastScaleOut: { at: NOW - 60_000, from: 2, to: 4 } };
  assert.equal(decideScaling(state({ current: 4, memory: cooling }), [tracking(high)], NOW), undefined);
  // A higher metric asks for more than the last scale-out gave: it goes on.
  assert.equal(decideScaling(state({ current: 4, memory: cooling }), [tracking(series(150, 150, 150))], NOW)?.capacity, 6);
  // After the cooldown, from the current capacity.
  assert.equal(decideScaling(state({ current: 4, memory: { lastScaleOut: { at: NOW - 301_000, from: 2, to: 4 } } }), [tracking(high)], NOW)?.capacity, 8);
  const low = series(...Array(15).fill(10));
  assert.equal(decideScaling(state({ current: 6, memory: { lastScaleInAt: NOW - 100_000 } }), [tracking(low)], NOW), undefined, 'scale-in cooldown');
  assert.equal(decideScaling(state({ current: 6, memory: { lastScaleOut: { at: NOW - 100_000, from: 3, to: 6 } } }), [tracking(low)], NOW), undefined, 'scale-out cooldown blocks scale-in');
  assert.equal(decideScaling(state({ current: 6, memory: { lastScaleInAt: NOW - 301_000 } }), [tracking(low)], NOW)?.capacity, 2);
});

test('suspended directions do nothing', () => {
  const suspended = { dynamicScalingInSuspended: true, dynamicScalingOutSuspended: true, scheduledScalingSuspended: false };
  assert.equal(decideScaling(state({ suspended }), [tracking(series(90, 90, 90))], NOW), undefined);
  assert.equal(decideScaling(state({ current: 6, suspended }), [tracking(series(...Array(15).fill(10)))], NOW), undefined);
});

test('step scaling: the step holding the breach, by change, percent and exact capacity, once per cooldown', () => {
  const step = (adjustmentType: 'ChangeInCapacity' | 'PercentChangeInCapacity' | 'ExactCapacity', value: number, extra: object = {}): PolicyInput => ({
    kind: 'step',
    name: 'steps',
    config: { adjustmentType, cooldown: 60, steps: [{ upper: 0, adjustment: -1 }, { lower: 0, upper: 10, adjustment: 1 }, { lower: 10, adjustment: adjustmentType === 'ExactCapacity' ? 7 : 3 }], ...extra },
    alarms: [{ name: 'queue-high', threshold: 100, value }],
  });
  assert.equal(decideScaling(state({ current: 2 }), [step('ChangeInCapacity', 105)], NOW)?.capacity, 3);
  const big = decideScaling(state({ current: 2 }), [step('ChangeInCapacity', 110)], NOW);
  assert.deepEqual([big?.capacity, big?.stepPolicies], [5, ['steps']]);
  assert.match(big!.cause, /monitor alarm queue-high in state ALARM triggered policy steps/);
  assert.equal(decideScaling(state({ current: 2 }), [step('ChangeInCapacity', 95)], NOW)?.capacity, 1);
  assert.equal(decideScaling(state({ current: 2 }), [step('ExactCapacity', 150)], NOW)?.capacity, 7);
  // 3% of 10 is under one task: it counts as one; MinAdjustmentMagnitude raises it.
  assert.equal(decideScaling(state({ current: 10, maxCapacity: 20 }), [step('PercentChangeInCapacity', 120)], NOW)?.capacity, 11);
  assert.equal(decideScaling(state({ current: 10, maxCapacity: 20 }), [step('PercentChangeInCapacity', 120, { minAdjustmentMagnitude: 2 })], NOW)?.capacity, 12);
  assert.equal(decideScaling(state({ current: 2, memory: { stepActedAt: { steps: NOW - 30_000 } } }), [step('ChangeInCapacity', 110)], NOW), undefined, 'in cooldown');
  assert.equal(decideScaling(state({ current: 2 }), [{ ...step('ChangeInCapacity', 110), alarms: [] } as PolicyInput], NOW), undefined, 'no alarm in ALARM');
});
