/**
 * Application load balancers in the store: creation (idempotent for the same settings, as on
 * AWS), changes, and deletion together with their listeners and rules in one commit.
 */
import type { Write } from '../../store/types.js';
import type { Versioned } from '../common.js';
import { retrying } from '../mutate.js';
import { changeFound, createNamed } from './named.js';
import type { Scope } from '../platform.js';
import { elbErrors } from './errors.js';
import { findLb, listAll } from './lookup.js';
import { KIND, lbKey, type LoadBalancerRecord } from './records.js';

/** Every load balancer of the region, in key (name) order. */
export function listLoadBalancers(s: Scope): Promise<Versioned<LoadBalancerRecord>[]> {
  return listAll<LoadBalancerRecord>(s, KIND.lb, `${s.region}/`);
}

/**
 * Stores `record` unless a load balancer of that name exists: the same settings (`same` says)
 * return the existing one, as AWS treats the call as idempotent; others are a
 * DuplicateLoadBalancerName. Returns the load balancer and whether it is new.
 */
export async function createLoadBalancer(s: Scope, record: LoadBalancerRecord, same: (existing: LoadBalancerRecord) => boolean): Promise<{ lb: LoadBalancerRecord; created: boolean }> {
  const r = await createNamed(s, KIND.lb, lbKey(s.region, record.name), record, same, elbErrors.duplicateLoadBalancerName);
  return { lb: r.value, created: r.created };
}

/** Changes a load balancer (`change` returns the new record); LoadBalancerNotFound if it is gone. */
export function changeLoadBalancer(s: Scope, arn: string, change: (lb: LoadBalancerRecord) => LoadBalancerRecord): Promise<LoadBalancerRecord> {
  return changeFound(s, KIND.lb, arn, findLb, () => elbErrors.loadBalancerNotFound(`Load balancer '${arn}' not found`), change);
}

/**
 * Deletes a load balancer with its listeners and rules in one commit. One that does not exist
 * is no error (as on AWS); deletion protection refuses with OperationNotPermitted.
 */
export async function deleteLoadBalancer(s: Scope, arn: string): Promise<void> {
  await retrying(`Load balancer ${arn}`, async () => {
    const lb = await findLb(s, arn);
    if (!lb) return;
    if (lb.value.attributes['deletion_protection.enabled'] === 'true') {
      throw elbErrors.operationNotPermitted(`Load balancer '${lb.value.arn}' cannot be deleted because deletion protection is enabled`);
    }
    const writes: Write[] = [{ kind: KIND.lb, key: lb.key, value: null, expectRev: lb.rev }];
    for (const l of await listAll<{ lbArn: string }>(s, KIND.listener, `${s.region}/${lb.value.name}/`)) {
      if (l.value.lbArn === lb.value.arn) writes.push({ kind: KIND.listener, key: l.key, value: null, expectRev: l.rev });
    }
    const listenerKeys = new Set(writes.filter((w) => w.kind === KIND.listener).map((w) => w.key));
    for (const r of await listAll<unknown>(s, KIND.rule, `${s.region}/${lb.value.name}/`)) {
      const parent = r.key.split('/').slice(0, 3).join('/');
      if (listenerKeys.has(parent)) writes.push({ kind: KIND.rule, key: r.key, value: null, expectRev: r.rev });
    }
    await s.platform.store.commit(writes);
  });
}
