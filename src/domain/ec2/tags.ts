/** Tags on any EC2 resource, by id: CreateTags merges, DeleteTags removes (by key, or key and value). */
import { mergeTags, type Tag } from '../common.js';
import type { Scope } from '../platform.js';
import { ec2Errors } from './errors.js';
import { prefixOf } from './records.js';
import { ec2Transaction } from './tx.js';

/** Most resources one CreateTags or DeleteTags call names (bounded as on AWS). */
export const MAX_TAGGED_RESOURCES = 1000;

/** Validates tags as EC2 does and merges them into a resource's. */
export function mergeEc2Tags(existing: Tag[], added: Tag[]): Tag[] {
  return mergeTags(existing, added, ec2Errors.tagError);
}

function checkIds(ids: string[]): void {
  if (ids.length > MAX_TAGGED_RESOURCES) throw ec2Errors.invalidParameterValue(`At most ${MAX_TAGGED_RESOURCES} resources can be tagged at once.`);
  for (const id of ids) if (!prefixOf(id)) throw ec2Errors.invalidParameterValue(`Invalid id: "${id.slice(0, 64)}" (Berth tags VPCs, subnets, gateways, route tables, security groups, addresses and instances)`);
}

/** Adds (or overwrites) tags on each resource; all of them or none. */
export async function createTags(scope: Scope, ids: string[], tags: Tag[]): Promise<void> {
  checkIds(ids);
  await ec2Transaction(scope, 'The tagged resources', async (tx) => {
    for (const id of ids) {
      const r = await tx.get(prefixOf(id)!, id);
      tx.put({ ...r, tags: mergeEc2Tags(r.tags, tags) });
    }
  });
}

/** Removes tags from each resource: every tag when none is named, else the keys named (only where the value matches, if given). */
export async function deleteTags(scope: Scope, ids: string[], tags: Tag[] | undefined): Promise<void> {
  checkIds(ids);
  await ec2Transaction(scope, 'The tagged resources', async (tx) => {
    for (const id of ids) {
      const r = await tx.get(prefixOf(id)!, id);
      const keep = tags === undefined ? [] : r.tags.filter((t) => !tags.some((d) => d.key === t.key && (d.value === undefined || d.value === t.value)));
      if (keep.length !== r.tags.length) tx.put({ ...r, tags: keep });
    }
  });
}
