/** Tags of ELBv2 resources (load balancers, target groups, listeners, rules), found from their ARNs. */
import type * as ELB from '../../generated/elbv2.js';
import type { Versioned } from '../common.js';
import { retrying } from '../mutate.js';
import type { Scope } from '../platform.js';
import { elbErrors } from './errors.js';
import { findLb, findListener, findRule, findTg } from './lookup.js';
import { KIND, arnType } from './records.js';

type Tagged = { tags: ELB.Tag[] };

async function resolve(s: Scope, a: string): Promise<{ kind: string; rec: Versioned<Tagged> }> {
  switch (arnType(a)) {
    case 'loadbalancer': {
      const rec = await findLb(s, a);
      if (rec) return { kind: KIND.lb, rec };
      throw elbErrors.loadBalancerNotFound(`Load balancer '${a}' not found`);
    }
    case 'targetgroup': {
      const rec = await findTg(s, a);
      if (rec) return { kind: KIND.tg, rec };
      throw elbErrors.targetGroupNotFound(`Target group '${a}' not found`);
    }
    case 'listener': {
      const rec = await findListener(s, a);
      if (rec) return { kind: KIND.listener, rec };
      throw elbErrors.listenerNotFound(`Listener '${a}' not found`);
    }
    case 'listener-rule': {
      const rec = await findRule(s, a);
      if (rec) return { kind: KIND.rule, rec };
      throw elbErrors.ruleNotFound(`Rule '${a}' not found (default rules cannot be tagged)`);
    }
    default:
      throw elbErrors.validation(`'${a}' is not the ARN of a load balancer, target group, listener or rule`);
  }
}

/** The tags of the resource an ARN names (its kind's not-found error if it does not exist). */
export async function resourceTags(s: Scope, arn: string): Promise<ELB.Tag[]> {
  return (await resolve(s, arn)).rec.value.tags;
}

/**
 * Replaces the tags of every resource named with what `fn` makes of them, in one commit: every
 * resource is found and `fn` (which may throw to refuse) applied before anything is written.
 */
export async function changeResourceTags(s: Scope, arns: readonly string[], fn: (tags: ELB.Tag[]) => ELB.Tag[]): Promise<void> {
  await retrying('Tags', async () => {
    const targets = [];
    for (const a of arns) targets.push(await resolve(s, a));
    await s.platform.store.commit(targets.map(({ kind, rec }) => ({ kind, key: rec.key, value: { ...rec.value, tags: fn(rec.value.tags) }, expectRev: rec.rev })));
  });
}
