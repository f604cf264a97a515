/**
 * CloudWatch Logs resource policies (account-level, by name: stored and listed; Berth serves one
 * account and does not evaluate them) and saved Logs Insights query definitions.
 *
 * Records, in the state store: `logs.resourcePolicy` `<region>/<policy name>`;
 * `logs.queryDefinition` `<region>/<id>`.
 */
import type { Scope } from '../platform.js';
import { pageOf, uuid } from '../common.js';
import { mutate, retrying } from '../mutate.js';
import { logsErrors } from './errors.js';

export const RESOURCE_POLICY_KIND = 'logs.resourcePolicy';
export const QUERY_DEFINITION_KIND = 'logs.queryDefinition';
/** Most resource policies a region may have (AWS's quota). */
export const MAX_RESOURCE_POLICIES = 10;
/** Largest policy document (AWS: 5,120 characters). */
export const MAX_POLICY_DOCUMENT = 5120;
/** Most query definitions a region keeps. */
export const MAX_QUERY_DEFINITIONS = 1000;

/** A resource policy as stored. */
export interface ResourcePolicyRecord {
  policyName: string;
  policyDocument: string;
  lastUpdatedTime: number;
  revisionId: string;
}

/** A saved query as stored. */
export interface QueryDefinitionRecord {
  queryDefinitionId: string;
  name: string;
  queryString: string;
  logGroupNames?: string[];
  queryLanguage: string;
  lastModified: number;
}

/** PutResourcePolicy: creates or replaces a named policy; the document must be a JSON policy. */
export async function putResourcePolicy(s: Scope, name: string, document: string, expectedRevisionId?: string): Promise<ResourcePolicyRecord> {
  if (document.length > MAX_POLICY_DOCUMENT) throw logsErrors.invalidParameter(`policyDocument is ${document.length} characters; the most is ${MAX_POLICY_DOCUMENT}.`);
  let doc: unknown;
  try {
    doc = JSON.parse(document);
  } catch {
    throw logsErrors.invalidParameter('policyDocument is not valid JSON.');
  }
  if (!doc || typeof doc !== 'object' || !('Statement' in doc)) throw logsErrors.invalidParameter('policyDocument must be a policy document with a Statement.');
  const key = `${s.region}/${name}`;
  return retrying(`Resource policy ${name}`, async () => {
    const cur = await s.platform.store.get<ResourcePolicyRecord>(RESOURCE_POLICY_KIND, key);
    if (expectedRevisionId !== undefined && cur?.value.revisionId !== expectedRevisionId) {
      throw logsErrors.operationAborted(`The policy's revision is ${cur?.value.revisionId ?? 'none (it does not exist)'}, not the expected ${expectedRevisionId}.`);
    }
    if (!cur) {
      const have = await s.platform.store.list(RESOURCE_POLICY_KIND, { prefix: `${s.region}/`, limit: MAX_RESOURCE_POLICIES });
      if (have.length >= MAX_RESOURCE_POLICIES) throw logsErrors.limitExceeded('Resource limit exceeded.');
    }
    const value: ResourcePolicyRecord = { policyName: name, policyDocument: document, lastUpdatedTime: s.platform.clock.now(), revisionId: uuid() };
    await s.platform.store.commit([{ kind: RESOURCE_POLICY_KIND, key, value, expectRev: cur?.rev ?? 0 }]);
    return value;
  });
}

/** DescribeResourcePolicies: one page. */
export async function describeResourcePolicies(s: Scope, q: { token?: string; limit: number }): Promise<{ policies: ResourcePolicyRecord[]; nextToken?: string }> {
  const page = await pageOf<ResourcePolicyRecord>(s.platform.store, RESOURCE_POLICY_KIND, `${s.region}/`, { token: q.token, maxResults: q.limit, invalidToken: logsErrors.invalidToken });
  return { policies: page.items.map((r) => r.value), nextToken: page.nextToken };
}

/** DeleteResourcePolicy: ResourceNotFoundException when there is none of that name. */
export async function deleteResourcePolicy(s: Scope, name: string, expectedRevisionId?: string): Promise<void> {
  const { changed } = await mutate<ResourcePolicyRecord>(s.platform.store, RESOURCE_POLICY_KIND, `${s.region}/${name}`, (cur) => {
    if (!cur) return undefined;
    if (expectedRevisionId !== undefined && cur.revisionId !== expectedRevisionId) throw logsErrors.operationAborted(`The policy's revision is ${cur.revisionId}, not the expected ${expectedRevisionId}.`);
    return null;
  });
  if (!changed) throw logsErrors.resourceNotFound('Policy with name [' + name + '] does not exist');
}

/** PutQueryDefinition: a new definition, or an update of `id`'s (ResourceNotFoundException if none). */
export async function putQueryDefinition(s: Scope, spec: Omit<QueryDefinitionRecord, 'queryDefinitionId' | 'lastModified'>, id?: string): Promise<string> {
  const now = s.platform.clock.now();
  if (id !== undefined) {
    const { value } = await mutate<QueryDefinitionRecord>(s.platform.store, QUERY_DEFINITION_KIND, `${s.region}/${id}`, (cur) => (cur ? { ...spec, queryDefinitionId: id, lastModified: now } : undefined));
    if (!value) throw logsErrors.resourceNotFound(`The query definition ${id} does not exist.`);
    return id;
  }
  const have = await s.platform.store.list(QUERY_DEFINITION_KIND, { prefix: `${s.region}/`, limit: MAX_QUERY_DEFINITIONS });
  if (have.length >= MAX_QUERY_DEFINITIONS) throw logsErrors.limitExceeded(`This region already has ${MAX_QUERY_DEFINITIONS} query definitions, the most Berth keeps.`);
  const newId = uuid();
  await s.platform.store.commit([{ kind: QUERY_DEFINITION_KIND, key: `${s.region}/${newId}`, value: { ...spec, queryDefinitionId: newId, lastModified: now }, expectRev: 0 }]);
  return newId;
}

/** DescribeQueryDefinitions: by name prefix (and language), sorted by name as AWS lists them. */
export async function describeQueryDefinitions(s: Scope, q: { prefix?: string; language?: string; token?: string; limit: number }): Promise<{ definitions: QueryDefinitionRecord[]; nextToken?: string }> {
  const all = (await s.platform.store.list<QueryDefinitionRecord>(QUERY_DEFINITION_KIND, { prefix: `${s.region}/`, limit: MAX_QUERY_DEFINITIONS + 1 }))
    .map((r) => r.value)
    .filter((d) => (q.prefix === undefined || d.name.startsWith(q.prefix)) && (q.language === undefined || d.queryLanguage === q.language))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.queryDefinitionId < b.queryDefinitionId ? -1 : 1));
  let start = 0;
  if (q.token !== undefined) {
    const m = /^(\d{1,6})$/.exec(Buffer.from(q.token, 'base64url').toString('utf8'));
    if (!m) throw logsErrors.invalidToken();
    start = Number(m[1]);
  }
  const page = all.slice(start, start + q.limit);
  return { definitions: page, nextToken: start + q.limit < all.length ? Buffer.from(String(start + q.limit)).toString('base64url') : undefined };
}

/** DeleteQueryDefinition: ResourceNotFoundException when there is none with that id. */
export async function deleteQueryDefinition(s: Scope, id: string): Promise<void> {
  const { changed } = await mutate<QueryDefinitionRecord>(s.platform.store, QUERY_DEFINITION_KIND, `${s.region}/${id}`, (cur) => (cur ? null : undefined));
  if (!changed) throw logsErrors.resourceNotFound(`The query definition ${id} does not exist.`);
}
