/**
 * The whole ELBv2 configuration of every region, read at once: what the load balancer's data
 * plane compiles into its routing table (src/lb/compile.ts). The data plane reads records only
 * through this; it never writes any.
 *
 * The five lists are read concurrently, not in one transaction: a snapshot may straddle a
 * commit, and the data plane reads a fresh one after every `elbv2.*` change it is told of, so
 * it always converges on the latest configuration.
 */
import type { Platform } from '../platform.js';
import { KIND, type ListenerRecord, type LoadBalancerRecord, type RuleRecord, type TargetGroupRecord, type TargetRecord } from './records.js';

/** Every ELBv2 record of every region, by kind (no order promised). */
export interface Elbv2Snapshot {
  readonly loadBalancers: readonly LoadBalancerRecord[];
  readonly targetGroups: readonly TargetGroupRecord[];
  readonly listeners: readonly ListenerRecord[];
  readonly rules: readonly RuleRecord[];
  readonly targets: readonly TargetRecord[];
}

/** Whether a store change is one the snapshot depends on (an ELBv2 record's). */
export function changesElbv2Snapshot(kind: string): boolean {
  return kind.startsWith('elbv2.');
}

/** Reads the current snapshot from the store. */
export async function readElbv2Snapshot(platform: Platform): Promise<Elbv2Snapshot> {
  const store = platform.store;
  const values = async <T>(kind: string) => (await store.list<T>(kind)).map((r) => r.value);
  const [loadBalancers, targetGroups, listeners, rules, targets] = await Promise.all([
    values<LoadBalancerRecord>(KIND.lb),
    values<TargetGroupRecord>(KIND.tg),
    values<ListenerRecord>(KIND.listener),
    values<RuleRecord>(KIND.rule),
    values<TargetRecord>(KIND.target),
  ]);
  return { loadBalancers, targetGroups, listeners, rules, targets };
}
