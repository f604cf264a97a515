/**
 * What every EC2 Describe call shares: filters as the aws CLI and the SDKs send them
 * (`Filter.N.Name` / `Filter.N.Value.M`, values with `*` and `?` wildcards, `tag:<key>`,
 * `tag-key`, `tag-value`), lookup by id (the first unknown one is `<Type>.NotFound`), and
 * pagination (`MaxResults` / `NextToken`, in id order).
 */
import { compileGlob } from '../../domain/glob.js';
import { decodeToken, encodeToken, type Tag } from '../../domain/common.js';
import { ec2Errors } from '../../domain/ec2/errors.js';
import type * as EC2 from '../../generated/ec2.js';

/** Most filters one call may give, and values per filter (AWS allows 200 values per filter). */
export const MAX_FILTERS = 50;
export const MAX_FILTER_VALUES = 200;

/** For one resource type: each filter name it supports and the values a record has for it. */
export type FilterTable<R> = Record<string, (r: R) => Array<string | number | boolean | undefined>>;

/** A predicate for the filters (InvalidParameterValue for a filter name the type does not have). */
export function compileFilters<R extends { tags?: Tag[] }>(filters: EC2.Filter[] | undefined, table: FilterTable<R>): (r: R) => boolean {
  const list = filters ?? [];
  if (list.length > MAX_FILTERS) throw ec2Errors.invalidParameterValue(`At most ${MAX_FILTERS} filters can be given.`);
  const tests = list.map((f) => {
    const name = f.Name ?? '';
    const values = f.Values ?? [];
    if (values.length > MAX_FILTER_VALUES) throw ec2Errors.invalidParameterValue(`The filter '${name.slice(0, 128)}' has more than ${MAX_FILTER_VALUES} values.`);
    const globs = values.map((v) => compileGlob(v, false));
    let get: (r: R) => Array<string | number | boolean | undefined>;
    if (name.startsWith('tag:')) {
      const key = name.slice(4);
      get = (r) => (r.tags ?? []).filter((t) => t.key === key).map((t) => t.value);
    } else if (name === 'tag-key') get = (r) => (r.tags ?? []).map((t) => t.key);
    else if (name === 'tag-value') get = (r) => (r.tags ?? []).map((t) => t.value);
    else if (table[name]) get = table[name]!;
    else throw ec2Errors.invalidFilter(name);
    return (r: R) => get(r).some((v) => v !== undefined && globs.some((g) => g(String(v))));
  });
  return (r) => tests.every((t) => t(r));
}

/** The records named by `ids` (all of them, or `<Type>.NotFound` for the first missing), else every record. */
export function byIds<R extends { id: string }>(all: R[], ids: string[] | undefined, notFound: (id: string) => Error): R[] {
  if (!ids?.length) return all;
  const byId = new Map(all.map((x) => [x.id, x]));
  return [...new Set(ids)].map((id) => {
    const r = byId.get(id);
    if (!r) throw notFound(id);
    return r;
  });
}

/** One page in id order after the token's id; NextToken when more follow. */
export function page<R extends { id: string }>(items: R[], maxResults: number | undefined, token: string | undefined): { items: R[]; nextToken?: string } {
  const after = decodeToken(token, ec2Errors.invalidToken);
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).filter((r) => after === undefined || r.id > after);
  if (maxResults === undefined || sorted.length <= maxResults) return { items: sorted };
  const shown = sorted.slice(0, maxResults);
  return { items: shown, nextToken: encodeToken(shown[shown.length - 1]!.id) };
}

/** Tags in the API's shape. */
export function apiTags(tags: Tag[]): EC2.Tag[] {
  return tags.map((t) => ({ Key: t.key, Value: t.value ?? '' }));
}

/** Tags in the domain's shape. */
export function domainTags(tags: EC2.Tag[] | undefined): Tag[] {
  return (tags ?? []).map((t) => ({ key: t.Key, value: t.Value ?? '' }));
}

/** The tags of a create call's TagSpecifications for its resource type (a specification for another type is refused). */
export function tagsFor(specs: EC2.TagSpecification[] | undefined, resourceType: string): Tag[] {
  const out: Tag[] = [];
  for (const s of specs ?? []) {
    if (s.ResourceType !== undefined && s.ResourceType !== resourceType) throw ec2Errors.invalidParameterValue(`'${s.ResourceType}' is not a valid taggable resource type for this operation: it creates a ${resourceType}.`);
    out.push(...domainTags(s.Tags));
  }
  return out;
}
