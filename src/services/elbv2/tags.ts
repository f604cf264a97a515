/** AddTags, RemoveTags and DescribeTags over load balancers, target groups, listeners and rules. */
import type * as ELB from '../../generated/elbv2.js';
import type { StoredRecord } from '../../store/types.js';
import type { Handlers, RequestContext } from '../types.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { findLb, findListener, findRule, findTg } from '../../domain/elbv2/lookup.js';
import { mergeElbTags } from './attributes.js';
import { KIND, arnType } from '../../domain/elbv2/records.js';

type Tagged = { tags: ELB.Tag[] };

async function resolve(ctx: RequestContext, a: string): Promise<{ kind: string; rec: StoredRecord<Tagged> }> {
  switch (arnType(a)) {
    case 'loadbalancer': {
      const rec = await findLb(ctx, a);
      if (rec) return { kind: KIND.lb, rec };
      throw elbErrors.loadBalancerNotFound(`Load balancer '${a}' not found`);
    }
    case 'targetgroup': {
      const rec = await findTg(ctx, a);
      if (rec) return { kind: KIND.tg, rec };
      throw elbErrors.targetGroupNotFound(`Target group '${a}' not found`);
    }
    case 'listener': {
      const rec = await findListener(ctx, a);
      if (rec) return { kind: KIND.listener, rec };
      throw elbErrors.listenerNotFound(`Listener '${a}' not found`);
    }
    case 'listener-rule': {
      const rec = await findRule(ctx, a);
      if (rec) return { kind: KIND.rule, rec };
      throw elbErrors.ruleNotFound(`Rule '${a}' not found (default rules cannot be tagged)`);
    }
    default:
      throw elbErrors.validation(`'${a}' is not the ARN of a load balancer, target group, listener or rule`);
  }
}

export const tagHandlers: Handlers<ELB.Operations> = {
  async AddTags(input, ctx) {
    const targets = [];
    for (const a of input.ResourceArns) targets.push(await resolve(ctx, a));
    // Check every resource before writing any, so a bad tag leaves nothing half-applied.
    const writes = targets.map(({ kind, rec }) => ({
      kind,
      key: rec.key,
      value: { ...rec.value, tags: mergeElbTags(rec.value.tags, input.Tags) },
      expectRev: rec.rev,
    }));
    await ctx.platform.store.commit(writes);
    return {};
  },

  async RemoveTags(input, ctx) {
    const targets = [];
    for (const a of input.ResourceArns) targets.push(await resolve(ctx, a));
    const drop = new Set(input.TagKeys);
    await ctx.platform.store.commit(
      targets.map(({ kind, rec }) => ({ kind, key: rec.key, value: { ...rec.value, tags: rec.value.tags.filter((t) => !drop.has(t.Key)) }, expectRev: rec.rev })),
    );
    return {};
  },

  async DescribeTags(input, ctx) {
    if (input.ResourceArns.length > 20) throw elbErrors.validation('At most 20 resource ARNs can be described at once');
    const out: ELB.TagDescription[] = [];
    for (const a of input.ResourceArns) {
      const { rec } = await resolve(ctx, a);
      out.push({ ResourceArn: a, Tags: rec.value.tags });
    }
    return { TagDescriptions: out };
  },
};
