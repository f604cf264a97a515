/**
 * The ECS List* operations' reads: one page of records of a kind, in key order, after an opaque
 * token (the last key handed out), so pages stay stable while records come and go. A token
 * from another listing (another cluster, another prefix) is rejected with ECS's invalid-token
 * error.
 */
import { decodeToken, encodeToken, pageOf } from '../common.js';
import { ecsErrors } from './errors.js';
import { KIND, type Scope } from './keys.js';
import type { ClusterRecord, ContainerInstanceRecord, FamilyRecord, ServiceRecord, TaskDefinitionRecord, TaskRecord } from './records.js';

/** Which records one page holds. */
export interface PageRequest<T> {
  token?: string;
  /** 1..100, checked by the caller. */
  maxResults: number;
  filter?: (v: T) => boolean;
}

/** One page, and the token of the next (absent on the last page). */
export interface Page<T> {
  items: T[];
  nextToken?: string;
}

async function page<T>(s: Scope, kind: string, prefix: string, req: PageRequest<T>): Promise<Page<T>> {
  const filter = req.filter;
  const r = await pageOf<T>(s.platform.store, kind, prefix, {
    token: req.token,
    maxResults: req.maxResults,
    invalidToken: ecsErrors.invalidToken,
    filter: filter && ((rec) => filter(rec.value)),
  });
  return { items: r.items.map((x) => x.value), nextToken: r.nextToken };
}

export function listClusters(s: Scope, req: PageRequest<ClusterRecord>): Promise<Page<ClusterRecord>> {
  return page(s, KIND.cluster, `${s.region}/`, req);
}

export function listContainerInstances(s: Scope, clusterName: string, req: PageRequest<ContainerInstanceRecord>): Promise<Page<ContainerInstanceRecord>> {
  return page(s, KIND.containerInstance, `${s.region}/${clusterName}/`, req);
}

export function listServices(s: Scope, clusterName: string, req: PageRequest<ServiceRecord>): Promise<Page<ServiceRecord>> {
  return page(s, KIND.service, `${s.region}/${clusterName}/`, req);
}

export function listTasks(s: Scope, clusterName: string, req: PageRequest<TaskRecord>): Promise<Page<TaskRecord>> {
  return page(s, KIND.task, `${s.region}/${clusterName}/`, req);
}

/**
 * Task definition revisions of one family (`family` given; despite its name, ListTaskDefinitions'
 * familyPrefix names one whole family, as ECS documents it) or of every family, oldest or newest
 * first. A descending page continues below the last key handed out.
 */
export async function listTaskDefinitions(s: Scope, opts: PageRequest<TaskDefinitionRecord> & { family?: string; descending?: boolean }): Promise<Page<TaskDefinitionRecord>> {
  const prefix = opts.family !== undefined ? `${s.region}/${opts.family}/` : `${s.region}/`;
  if (!opts.descending) return page(s, KIND.taskDefinition, prefix, opts);
  const before = decodeToken(opts.token, ecsErrors.invalidToken);
  if (before !== undefined && !before.startsWith(prefix)) throw ecsErrors.invalidToken();
  const all = (await s.platform.store.list<TaskDefinitionRecord>(KIND.taskDefinition, { prefix })).filter((r) => !opts.filter || opts.filter(r.value)).reverse();
  const rest = before === undefined ? all : all.filter((r) => r.key < before);
  const items = rest.slice(0, opts.maxResults);
  return { items: items.map((r) => r.value), nextToken: rest.length > opts.maxResults ? encodeToken(items[items.length - 1]!.key) : undefined };
}

/**
 * Families whose names start with `familyPrefix`, chosen by the status of their revisions:
 * ACTIVE (some revision is ACTIVE), INACTIVE (revisions, none ACTIVE) or ALL.
 */
export async function listTaskDefinitionFamilies(s: Scope, opts: { familyPrefix?: string; status: 'ACTIVE' | 'INACTIVE' | 'ALL'; token?: string; maxResults: number }): Promise<Page<string>> {
  const after = decodeToken(opts.token, ecsErrors.invalidToken);
  const families: string[] = [];
  const famRecords = await s.platform.store.list<FamilyRecord>(KIND.taskDefinitionFamily, { prefix: `${s.region}/${opts.familyPrefix ?? ''}` });
  let lastKey: string | undefined;
  for (const f of famRecords) {
    if (after !== undefined && f.key <= after) continue;
    const revs = await s.platform.store.list<TaskDefinitionRecord>(KIND.taskDefinition, { prefix: `${f.key}/` });
    const active = revs.some((r) => r.value.taskDefinition.status === 'ACTIVE');
    const ok = opts.status === 'ALL' ? revs.length > 0 : opts.status === 'ACTIVE' ? active : revs.length > 0 && !active;
    if (!ok) continue;
    if (families.length === opts.maxResults) return { items: families, nextToken: encodeToken(lastKey!) };
    families.push(f.value.family);
    lastKey = f.key;
  }
  return { items: families };
}
