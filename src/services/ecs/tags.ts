/** ECS tagging operations (TagResource, UntagResource, ListTagsForResource) over src/domain/ecs/tags.ts. */
import type * as ECS from '../../generated/ecs.js';
import { mergeTags } from '../../domain/common.js';
import { ecsErrors } from '../../domain/ecs/errors.js';
import { changeResourceTags, resourceTags } from '../../domain/ecs/tags.js';
import type { Handlers } from '../types.js';

export const tagHandlers: Handlers<ECS.Operations> = {
  async TagResource(input, ctx) {
    await changeResourceTags(ctx, input.resourceArn, (tags) => mergeTags(tags, input.tags, ecsErrors.invalidParameter));
    return {};
  },
  async UntagResource(input, ctx) {
    const drop = new Set(input.tagKeys);
    await changeResourceTags(ctx, input.resourceArn, (tags) => tags.filter((t) => !drop.has(t.key!)));
    return {};
  },
  async ListTagsForResource(input, ctx) {
    return { tags: await resourceTags(ctx, input.resourceArn) };
  },
};
