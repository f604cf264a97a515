/**
 * Resolving ELBv2 ARNs to stored records: `find*` answers undefined for an ARN that names no
 * record of this account and region (or a record re-created since under the same name),
 * `require*` throws the AWS "not found" error of its kind.
 */
import type { StoredRecord } from '../../store/types.js';
import type { Scope } from '../platform.js';
import { elbErrors } from './errors.js';
import {
  KIND,
  lbKey,
  listenerKey,
  resourceOf,
  ruleKey,
  tgKey,
  type ListenerRecord,
  type LoadBalancerRecord,
  type RuleRecord,
  type TargetGroupRecord,
} from './records.js';

export async function findLb(ctx: Scope, a: string): Promise<StoredRecord<LoadBalancerRecord> | undefined> {
  const r = resourceOf(ctx, a, 'loadbalancer');
  if (!r || r.length !== 3 || r[0] !== 'app') return undefined;
  const rec = await ctx.platform.store.get<LoadBalancerRecord>(KIND.lb, lbKey(ctx.region, r[1]!));
  return rec && rec.value.arn === a ? rec : undefined;
}

export async function requireLb(ctx: Scope, a: string): Promise<StoredRecord<LoadBalancerRecord>> {
  const rec = await findLb(ctx, a);
  if (!rec) throw elbErrors.loadBalancerNotFound(`Load balancer '${a}' not found`);
  return rec;
}

export async function findTg(ctx: Scope, a: string): Promise<StoredRecord<TargetGroupRecord> | undefined> {
  const r = resourceOf(ctx, a, 'targetgroup');
  if (!r || r.length !== 2) return undefined;
  const rec = await ctx.platform.store.get<TargetGroupRecord>(KIND.tg, tgKey(ctx.region, r[0]!));
  return rec && rec.value.arn === a ? rec : undefined;
}

export async function requireTg(ctx: Scope, a: string): Promise<StoredRecord<TargetGroupRecord>> {
  const rec = await findTg(ctx, a);
  if (!rec) throw elbErrors.targetGroupNotFound(`Target group '${a}' not found`);
  return rec;
}

export async function findListener(ctx: Scope, a: string): Promise<StoredRecord<ListenerRecord> | undefined> {
  const r = resourceOf(ctx, a, 'listener');
  if (!r || r.length !== 4 || r[0] !== 'app') return undefined;
  const rec = await ctx.platform.store.get<ListenerRecord>(KIND.listener, listenerKey(ctx.region, r[1]!, r[3]!));
  return rec && rec.value.arn === a ? rec : undefined;
}

export async function requireListener(ctx: Scope, a: string): Promise<StoredRecord<ListenerRecord>> {
  const rec = await findListener(ctx, a);
  if (!rec) throw elbErrors.listenerNotFound(`Listener '${a}' not found`);
  return rec;
}

export async function findRule(ctx: Scope, a: string): Promise<StoredRecord<RuleRecord> | undefined> {
  const r = resourceOf(ctx, a, 'listener-rule');
  if (!r || r.length !== 5 || r[0] !== 'app') return undefined;
  const rec = await ctx.platform.store.get<RuleRecord>(KIND.rule, ruleKey(ctx.region, r[1]!, r[3]!, r[4]!));
  return rec && rec.value.arn === a ? rec : undefined;
}

/** All records of a kind under a key prefix. */
export async function listAll<T>(ctx: Scope, kind: string, prefix: string): Promise<StoredRecord<T>[]> {
  const out: StoredRecord<T>[] = [];
  let after: string | undefined;
  for (;;) {
    const batch = await ctx.platform.store.list<T>(kind, { prefix, after, limit: 1000 });
    out.push(...batch);
    if (batch.length < 1000) return out;
    after = batch[batch.length - 1]!.key;
  }
}
