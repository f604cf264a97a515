/**
 * Scaling activities: what Application Auto Scaling did to a target's capacity, and why. The
 * controller (and RegisterScalableTarget, when it brings a capacity within new bounds) records
 * them; DescribeScalingActivities reads them, newest first. Each target keeps its newest
 * `MAX_ACTIVITIES_PER_TARGET`.
 */
import type { Scope } from '../platform.js';
import { decodeToken, encodeToken, uuid } from '../common.js';
import { appScalingErrors } from './errors.js';
import { KIND, MAX_ACTIVITIES_PER_TARGET, activityKey, targetKey, type ScalingActivityRecord } from './records.js';

/** Records one activity of a target and drops the target's oldest past the bound. */
export async function recordActivity(s: Scope, a: Omit<ScalingActivityRecord, 'activityId'>): Promise<ScalingActivityRecord> {
  const rec: ScalingActivityRecord = { activityId: uuid(), ...a };
  const target = targetKey(s.region, a.serviceNamespace, a.resourceId, a.scalableDimension);
  await s.platform.store.commit([{ kind: KIND.activity, key: activityKey(target, a.startTime, rec.activityId), value: rec, expectRev: 0 }]);
  const kept = await s.platform.store.list<ScalingActivityRecord>(KIND.activity, { prefix: `${target}/`, limit: MAX_ACTIVITIES_PER_TARGET + 50 });
  const extra = kept.slice(MAX_ACTIVITIES_PER_TARGET);
  if (extra.length) await s.platform.store.commit(extra.map((r) => ({ kind: KIND.activity, key: r.key, value: null })));
  return rec;
}

/** Removes every activity of a target (it was deregistered). */
export async function dropActivities(s: Scope, target: string): Promise<void> {
  for (;;) {
    const batch = await s.platform.store.list(KIND.activity, { prefix: `${target}/`, limit: 500 });
    if (!batch.length) return;
    await s.platform.store.commit(batch.map((r) => ({ kind: KIND.activity, key: r.key, value: null })));
  }
}

/** DescribeScalingActivities' filters. */
export interface ActivityQuery {
  namespace: string;
  resourceId?: string;
  dimension?: string;
  token?: string;
  maxResults: number;
}

/** Most activity records one call reads when it lists a whole namespace. */
const MAX_SCANNED = 20_000;

/** One page of activities, newest first. */
export async function describeActivities(s: Scope, q: ActivityQuery): Promise<{ activities: ScalingActivityRecord[]; nextToken?: string }> {
  const prefix = q.resourceId !== undefined ? `${s.region}/${encodeURIComponent(q.namespace)}/${encodeURIComponent(q.resourceId)}/` : `${s.region}/${encodeURIComponent(q.namespace)}/`;
  const rows = await s.platform.store.list<ScalingActivityRecord>(KIND.activity, { prefix, limit: MAX_SCANNED });
  const all = rows
    .filter((r) => (q.resourceId === undefined || r.value.resourceId === q.resourceId) && (q.dimension === undefined || r.value.scalableDimension === q.dimension))
    .sort((a, b) => b.value.startTime - a.value.startTime || (a.key < b.key ? -1 : 1));
  const after = decodeToken(q.token, appScalingErrors.invalidNextToken);
  let start = 0;
  if (after !== undefined) {
    const i = all.findIndex((r) => r.key === after);
    if (i < 0) throw appScalingErrors.invalidNextToken();
    start = i + 1;
  }
  const page = all.slice(start, start + q.maxResults);
  const more = start + q.maxResults < all.length;
  return { activities: page.map((r) => r.value), nextToken: more ? encodeToken(page[page.length - 1]!.key) : undefined };
}
