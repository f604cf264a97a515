/**
 * What a scalable target's policies ask for, now (pure; the controller gathers the inputs and
 * applies the answer).
 *
 * Target tracking, as AWS's two alarms per policy behave: scale out when the metric was above
 * the target in each of the last 3 one-minute periods (the current minute counts once it has
 * data, else the 3 before it), to `ceil(capacity × metric / target)`; scale in when it was
 * below 90% of the target in each of the last 15, to the same formula (never below the
 * minimum), unless the policy disables scale-in. With several policies, any one may scale out
 * (the largest wins); scale-in happens only when every policy that may scale in asks for it
 * (the largest of their capacities wins).
 *
 * Step scaling: a policy whose alarm is in ALARM picks the step whose interval holds the breach
 * (metric − threshold; lower bound inclusive, upper exclusive) and adjusts by it
 * (ChangeInCapacity, PercentChangeInCapacity with MinAdjustmentMagnitude, ExactCapacity).
 *
 * Cooldowns: within a scale-out cooldown, another scale-out happens only if the capacity
 * computed from the capacity before the last scale-out exceeds the current one (the capacity
 * that scale-out added counts); scale-in waits for the scale-in cooldown since the last
 * scale-in and for the scale-out cooldown since the last scale-out. A step policy acts at most
 * once per its Cooldown. Suspended directions do nothing. Results stay within min and max.
 */
import type { ScalingMemory, StepScalingConfig, SuspendedState, TargetTrackingConfig } from './records.js';

/** Periods target tracking looks at to scale out and to scale in (AWS's alarms: 3 and 15 minutes). */
export const SCALE_OUT_PERIODS = 3;
export const SCALE_IN_PERIODS = 15;
/** Target tracking scales in below this share of the target (AWS's low alarm: 90%). */
export const SCALE_IN_RATIO = 0.9;
/** The period target tracking evaluates (one minute). */
export const PERIOD_MS = 60_000;

/** One policy's view for the decision. */
export type PolicyInput =
  | {
      kind: 'target';
      name: string;
      config: TargetTrackingConfig;
      /** The metric's value per period start (ms), the policy's statistic already applied. */
      values: ReadonlyMap<number, number>;
      /** How the metric is described in the activity's cause. */
      metricText: string;
    }
  | {
      kind: 'step';
      name: string;
      config: StepScalingConfig;
      /** Alarms naming the policy that are in ALARM, each with its threshold and latest value. */
      alarms: Array<{ name: string; threshold: number; value: number }>;
    };

export interface TargetState {
  minCapacity: number;
  maxCapacity: number;
  suspended: SuspendedState;
  memory: ScalingMemory;
  current: number;
}

/** A scaling the controller should make. */
export interface ScalingDecision {
  capacity: number;
  direction: 'out' | 'in';
  /** The activity's cause. */
  cause: string;
  /** The step policies that acted (their cooldown starts now). */
  stepPolicies: string[];
}

const fmt = (v: number) => String(Number(v.toPrecision(6)));

/** The consecutive values of `n` periods ending at the newest period with data (the current minute if it has data), or undefined when one is missing. */
export function recentValues(values: ReadonlyMap<number, number>, now: number, n: number): number[] | undefined {
  let t = Math.floor(now / PERIOD_MS) * PERIOD_MS;
  if (!values.has(t)) t -= PERIOD_MS;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = values.get(t - i * PERIOD_MS);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

interface Proposal {
  capacity: number;
  cause: string;
  step?: string;
}

function targetProposals(p: Extract<PolicyInput, { kind: 'target' }>, st: TargetState, now: number): { out?: Proposal; in?: Proposal } {
  const target = p.config.targetValue;
  const high = recentValues(p.values, now, SCALE_OUT_PERIODS);
  if (high && high.every((v) => v > target)) {
    const metric = high[0]!;
    const last = st.memory.lastScaleOut;
    const cooling = last !== undefined && now - last.at < p.config.scaleOutCooldown * 1000;
    const base = cooling ? last.from : st.current;
    const capacity = Math.max(Math.ceil((base * metric) / target), cooling ? 0 : st.current + 1);
    return { out: { capacity, cause: `monitor metric ${p.metricText} above the target ${fmt(target)} for ${SCALE_OUT_PERIODS} minutes (latest ${fmt(metric)}) triggered policy ${p.name}` } };
  }
  if (p.config.disableScaleIn) return {};
  const low = recentValues(p.values, now, SCALE_IN_PERIODS);
  if (low && low.every((v) => v < target * SCALE_IN_RATIO)) {
    const metric = low[0]!;
    return { in: { capacity: Math.ceil((st.current * metric) / target), cause: `monitor metric ${p.metricText} below ${fmt(target * SCALE_IN_RATIO)} (90% of the target ${fmt(target)}) for ${SCALE_IN_PERIODS} minutes (latest ${fmt(metric)}) triggered policy ${p.name}` } };
  }
  return {};
}

function stepProposal(p: Extract<PolicyInput, { kind: 'step' }>, st: TargetState, now: number): Proposal | undefined {
  const acted = st.memory.stepActedAt?.[p.name];
  if (acted !== undefined && now - acted < (p.config.cooldown ?? 0) * 1000) return undefined;
  for (const a of p.alarms) {
    const breach = a.value - a.threshold;
    const step = p.config.steps.find((x) => (x.lower === undefined || breach >= x.lower) && (x.upper === undefined || breach < x.upper));
    if (!step) continue;
    let capacity: number;
    if (p.config.adjustmentType === 'ExactCapacity') capacity = step.adjustment;
    else if (p.config.adjustmentType === 'PercentChangeInCapacity') {
      const raw = (st.current * step.adjustment) / 100;
      // AWS: a change between -1 and 1 counts as 1 (in its direction), larger ones round toward 0.
      let delta = Math.abs(raw) < 1 ? Math.sign(raw) : Math.trunc(raw);
      const least = p.config.minAdjustmentMagnitude;
      if (least !== undefined && delta !== 0 && Math.abs(delta) < least) delta = Math.sign(delta) * least;
      capacity = st.current + delta;
    } else capacity = st.current + step.adjustment;
    return { capacity, cause: `monitor alarm ${a.name} in state ALARM triggered policy ${p.name}`, step: p.name };
  }
  return undefined;
}

/** The scaling the policies ask for now, or undefined for none. */
export function decideScaling(st: TargetState, policies: readonly PolicyInput[], now: number): ScalingDecision | undefined {
  const clamp = (n: number) => Math.min(st.maxCapacity, Math.max(st.minCapacity, n));
  const outs: Proposal[] = [];
  const ins: Proposal[] = [];
  let inVoters = 0;
  let inVotes = 0;
  for (const p of policies) {
    if (p.kind === 'target') {
      const r = targetProposals(p, st, now);
      if (r.out) outs.push(r.out);
      if (!p.config.disableScaleIn) {
        inVoters++;
        if (r.in) {
          inVotes++;
          ins.push(r.in);
        }
      }
    } else {
      const r = stepProposal(p, st, now);
      if (r && r.capacity > st.current) outs.push(r);
      else if (r && r.capacity < st.current) ins.push(r);
    }
  }
  const best = (xs: Proposal[]) => xs.reduce((a, b) => (b.capacity > a.capacity ? b : a));
  if (outs.length && !st.suspended.dynamicScalingOutSuspended) {
    const pick = best(outs);
    const capacity = clamp(pick.capacity);
    if (capacity > st.current) return { capacity, direction: 'out', cause: pick.cause, stepPolicies: outs.filter((o) => o.step && clamp(o.capacity) > st.current).map((o) => o.step!) };
  }
  if (outs.length || st.suspended.dynamicScalingInSuspended) return undefined;
  const stepIns = ins.filter((x) => x.step);
  const targetIns = ins.filter((x) => !x.step);
  const candidates = [...stepIns, ...(inVoters > 0 && inVotes === inVoters ? targetIns : [])];
  if (!candidates.length) return undefined;
  const sinceIn = st.memory.lastScaleInAt === undefined ? Infinity : now - st.memory.lastScaleInAt;
  const sinceOut = st.memory.lastScaleOut === undefined ? Infinity : now - st.memory.lastScaleOut.at;
  const trackers = policies.filter((p): p is Extract<PolicyInput, { kind: 'target' }> => p.kind === 'target');
  const inCooldown = Math.max(0, ...trackers.map((p) => p.config.scaleInCooldown)) * 1000;
  const outCooldown = Math.max(0, ...trackers.map((p) => p.config.scaleOutCooldown)) * 1000;
  if (targetIns.length && stepIns.length === 0 && (sinceIn < inCooldown || sinceOut < outCooldown)) return undefined;
  const pick = best(candidates);
  const capacity = clamp(pick.capacity);
  if (capacity >= st.current) return undefined;
  return { capacity, direction: 'in', cause: pick.cause, stepPolicies: stepIns.filter((x) => x.capacity === pick.capacity).map((x) => x.step!) };
}
