/**
 * Listeners and their rules in the store. A listener belongs to a load balancer and a rule to a
 * listener; each write re-checks its parent's revision in the same commit, so a concurrent
 * delete never leaves an orphan, and rule changes of one listener are serialized through the
 * listener's revision, so two concurrent CreateRule calls cannot both take one priority.
 * Every listener has a default rule, which is not a record: its actions are the listener's.
 */
import type { Write } from '../../store/types.js';
import type { Versioned } from '../common.js';
import { retrying } from '../mutate.js';
import type { Scope } from '../platform.js';
import { elbErrors } from './errors.js';
import { findLb, findListener, findRule, listAll } from './lookup.js';
import { KIND, listenerKey, resourceOf, ruleKey, type ListenerRecord, type RuleRecord } from './records.js';

/** Every listener of every region (they share this host's ports), in key order. */
export function listAllListeners(s: Scope): Promise<Versioned<ListenerRecord>[]> {
  return listAll<ListenerRecord>(s, KIND.listener, '');
}

/** The listeners of a load balancer, in key order. */
export async function listenersOf(s: Scope, lbName: string, lbArn: string): Promise<Versioned<ListenerRecord>[]> {
  return (await listAll<ListenerRecord>(s, KIND.listener, `${s.region}/${lbName}/`)).filter((l) => l.value.lbArn === lbArn);
}

/** The rules of a listener (not its default rule), in key order. */
export async function rulesOf(s: Scope, l: ListenerRecord): Promise<Versioned<RuleRecord>[]> {
  return (await listAll<RuleRecord>(s, KIND.rule, `${listenerKey(s.region, l.lbName, l.id)}/`)).filter((r) => r.value.listenerArn === l.arn);
}

/** Stores a new listener of the load balancer `record.lbArn`; LoadBalancerNotFound if it is gone. */
export async function createListener(s: Scope, record: ListenerRecord): Promise<void> {
  await retrying(`Load balancer ${record.lbArn}`, async () => {
    const lb = await findLb(s, record.lbArn);
    if (!lb) throw elbErrors.loadBalancerNotFound(`Load balancer '${record.lbArn}' not found`);
    await s.platform.store.commit([
      { kind: KIND.listener, key: listenerKey(s.region, record.lbName, record.id), value: record, expectRev: 0 },
      { kind: KIND.lb, key: lb.key, value: lb.value, expectRev: lb.rev },
    ]);
  });
}

/** Changes a listener (`change` may be async, e.g. to validate actions; it runs again on a retry). */
export async function changeListener(s: Scope, arn: string, change: (l: ListenerRecord) => Promise<ListenerRecord> | ListenerRecord): Promise<ListenerRecord> {
  return retrying(`Listener ${arn}`, async () => {
    const l = await findListener(s, arn);
    if (!l) throw elbErrors.listenerNotFound(`Listener '${arn}' not found`);
    const next = await change(structuredClone(l.value));
    await s.platform.store.commit([{ kind: KIND.listener, key: l.key, value: next, expectRev: l.rev }]);
    return next;
  });
}

/** Deletes a listener and its rules in one commit; ListenerNotFound if it does not exist. */
export async function deleteListener(s: Scope, arn: string): Promise<void> {
  await retrying(`Listener ${arn}`, async () => {
    const l = await findListener(s, arn);
    if (!l) throw elbErrors.listenerNotFound(`Listener '${arn}' not found`);
    const writes: Write[] = [{ kind: KIND.listener, key: l.key, value: null, expectRev: l.rev }];
    for (const r of await rulesOf(s, l.value)) writes.push({ kind: KIND.rule, key: r.key, value: null, expectRev: r.rev });
    await s.platform.store.commit(writes);
  });
}

/**
 * Adds a rule to a listener. `build` makes the record from the listener as it is now (it runs
 * again on a retry); PriorityInUse when another rule has the priority, TooManyRules past `maxRules`.
 */
export async function createRule(s: Scope, listenerArn: string, maxRules: number, build: (l: ListenerRecord) => RuleRecord): Promise<RuleRecord> {
  return retrying(`Listener ${listenerArn}`, async () => {
    const l = await findListener(s, listenerArn);
    if (!l) throw elbErrors.listenerNotFound(`Listener '${listenerArn}' not found`);
    const record = build(l.value);
    const rules = await rulesOf(s, l.value);
    if (rules.some((r) => r.value.priority === record.priority)) throw elbErrors.priorityInUse(record.priority);
    if (rules.length >= maxRules) throw elbErrors.tooManyRules(maxRules);
    await s.platform.store.commit([
      { kind: KIND.rule, key: ruleKey(s.region, l.value.lbName, l.value.id, record.id), value: record, expectRev: 0 },
      { kind: KIND.listener, key: l.key, value: l.value, expectRev: l.rev },
    ]);
    return record;
  });
}

/** A rule ARN resolved: a stored rule and its listener, or a listener whose default rule it names. */
export interface ResolvedRule {
  rule?: Versioned<RuleRecord>;
  listener: Versioned<ListenerRecord>;
}

/** Resolves a rule ARN (RuleNotFound if it names neither a rule nor a default rule). */
export async function resolveRule(s: Scope, ruleArn: string): Promise<ResolvedRule> {
  const rule = await findRule(s, ruleArn);
  if (rule) {
    const listener = await findListener(s, rule.value.listenerArn);
    if (listener) return { rule, listener };
  }
  const r = resourceOf(s, ruleArn, 'listener-rule');
  if (r && r.length === 5) {
    const l = await s.platform.store.get<ListenerRecord>(KIND.listener, listenerKey(s.region, r[1]!, r[3]!));
    if (l && l.value.defaultRuleArn === ruleArn) return { listener: l };
  }
  throw elbErrors.ruleNotFound(`Rule '${ruleArn}' not found`);
}

/**
 * Changes a rule, or the default rule of a listener (its actions are the listener's): `change`
 * gets the rule record, or undefined and the listener for a default rule, and returns the
 * new record (it may be async; it runs again on a retry).
 */
export async function changeRule(
  s: Scope,
  ruleArn: string,
  change: (target: { rule: RuleRecord } | { listener: ListenerRecord }) => Promise<RuleRecord | ListenerRecord> | RuleRecord | ListenerRecord,
): Promise<{ rule: RuleRecord } | { listener: ListenerRecord }> {
  return retrying(`Rule ${ruleArn}`, async () => {
    const { rule, listener } = await resolveRule(s, ruleArn);
    if (rule) {
      const next = (await change({ rule: structuredClone(rule.value) })) as RuleRecord;
      await s.platform.store.commit([{ kind: KIND.rule, key: rule.key, value: next, expectRev: rule.rev }]);
      return { rule: next };
    }
    const next = (await change({ listener: structuredClone(listener.value) })) as ListenerRecord;
    await s.platform.store.commit([{ kind: KIND.listener, key: listener.key, value: next, expectRev: listener.rev }]);
    return { listener: next };
  });
}

/** Deletes a rule; the default rule cannot be deleted (OperationNotPermitted). */
export async function deleteRule(s: Scope, ruleArn: string): Promise<void> {
  await retrying(`Rule ${ruleArn}`, async () => {
    const { rule } = await resolveRule(s, ruleArn);
    if (!rule) throw elbErrors.operationNotPermitted('The default rule of a listener cannot be deleted');
    await s.platform.store.commit([{ kind: KIND.rule, key: rule.key, value: null, expectRev: rule.rev }]);
  });
}

/**
 * Gives rules of one listener new priorities in one commit; PriorityInUse when two rules of the
 * listener would share one. Returns the changed rules.
 */
export async function setRulePriorities(s: Scope, changes: ReadonlyMap<string, number>): Promise<RuleRecord[]> {
  return retrying('Rule priorities', async () => {
    const resolved: Versioned<RuleRecord>[] = [];
    let listenerArn: string | undefined;
    for (const a of changes.keys()) {
      const { rule } = await resolveRule(s, a);
      if (!rule) throw elbErrors.operationNotPermitted('The priority of a default rule cannot be changed');
      if (listenerArn && rule.value.listenerArn !== listenerArn) throw elbErrors.validation('All rules must belong to the same listener');
      listenerArn = rule.value.listenerArn;
      resolved.push(rule);
    }
    const l = await findListener(s, listenerArn!);
    if (!l) throw elbErrors.listenerNotFound(`Listener '${listenerArn}' not found`);
    const final = new Map((await rulesOf(s, l.value)).map((r) => [r.value.arn, changes.get(r.value.arn) ?? r.value.priority]));
    const used = new Set<number>();
    for (const p of final.values()) {
      if (used.has(p)) throw elbErrors.priorityInUse(p);
      used.add(p);
    }
    const next = resolved.map((r) => ({ ...r.value, priority: changes.get(r.value.arn)! }));
    const writes: Write[] = resolved.map((r, i) => ({ kind: KIND.rule, key: r.key, value: next[i], expectRev: r.rev }));
    writes.push({ kind: KIND.listener, key: l.key, value: l.value, expectRev: l.rev });
    await s.platform.store.commit(writes);
    return next;
  });
}
