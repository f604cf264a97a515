/** AddTags, RemoveTags and DescribeTags over load balancers, target groups, listeners and rules. */
import type * as ELB from '../../generated/elbv2.js';
import type { Handlers } from '../types.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { changeResourceTags, resourceTags } from '../../domain/elbv2/tags.js';
import { mergeElbTags } from './attributes.js';

export const tagHandlers: Handlers<ELB.Operations> = {
  async AddTags(input, ctx) {
    // Every resource is checked before any is written, so a bad tag leaves nothing half-applied.
    await changeResourceTags(ctx, input.ResourceArns, (tags) => mergeElbTags(tags, input.Tags));
    return {};
  },

  async RemoveTags(input, ctx) {
    const drop = new Set(input.TagKeys);
    await changeResourceTags(ctx, input.ResourceArns, (tags) => tags.filter((t) => !drop.has(t.Key)));
    return {};
  },

  async DescribeTags(input, ctx) {
    if (input.ResourceArns.length > 20) throw elbErrors.validation('At most 20 resource ARNs can be described at once');
    const out: ELB.TagDescription[] = [];
    for (const a of input.ResourceArns) {
      out.push({ ResourceArn: a, Tags: await resourceTags(ctx, a) });
    }
    return { TagDescriptions: out };
  },
};
