/**
 * CloudWatch Logs subscription filters and destinations: the records, their rules, and where a
 * subscription's events go. Delivery itself (reading new events, sending them, retrying) is the
 * subscription deliverer's (src/control/logSubscriptions.ts).
 *
 * Where Berth can deliver (it has no Kinesis, Firehose or Lambda):
 * - a log group of this account and region: `arn:aws:logs:<region>:<account>:log-group:<name>`
 *   (with or without `:*`); events are ingested there as PutLogEvents would, in a stream of the
 *   source stream's name (a Berth extension: AWS has no log-group destination);
 * - a CloudWatch Logs destination, `arn:aws:logs:<region>:<account>:destination:<name>`
 *   (PutDestination), whose `targetArn` is such a log group ARN or an `http://` / `https://` URL
 *   under one of the prefixes the operator allows (`SubscriptionEndpoints`; none by default: the
 *   control plane makes these requests, so a caller allowed `logs:PutDestination` must not be
 *   able to aim them at internal addresses). A Berth extension, e.g. a task's endpoint: each batch is POSTed as the subscription payload
 *   AWS sends Kinesis and Lambda (gzipped JSON `{messageType: "DATA_MESSAGE", owner, logGroup,
 *   logStream, subscriptionFilters, logEvents: [{id, timestamp, message}]}`,
 *   `Content-Encoding: gzip`), and a 2xx answer acknowledges it.
 *
 * To keep delivery from looping, a log group that receives a subscription's events cannot have
 * subscription filters delivering to log groups itself, and the other way round.
 *
 * Records, in the state store: `logs.subscriptionFilter` `<region>/<URI-encoded group>/<filter
 * name>`; `logs.destination` `<region>/<name>`.
 */
import type { Scope } from '../platform.js';
import { arn, parseArn, pageOf } from '../common.js';
import { mutate, retrying } from '../mutate.js';
import { compileForApi } from './metricFilters.js';
import { logsErrors } from './errors.js';

export const SUBSCRIPTION_FILTER_KIND = 'logs.subscriptionFilter';
export const DESTINATION_KIND = 'logs.destination';
/** Most subscription filters a log group may have (AWS's quota). */
export const MAX_SUBSCRIPTION_FILTERS_PER_GROUP = 2;
/** Most destinations a region keeps. */
export const MAX_DESTINATIONS = 1000;
/** Largest access policy (AWS: 5,120 characters). */
export const MAX_ACCESS_POLICY = 5120;

/** A subscription filter as stored. */
export interface SubscriptionFilterRecord {
  filterName: string;
  logGroupName: string;
  filterPattern: string;
  destinationArn: string;
  roleArn?: string;
  distribution: 'Random' | 'ByLogStream';
  creationTime: number;
}

/** A destination as stored. */
export interface DestinationRecord {
  destinationName: string;
  targetArn: string;
  roleArn: string;
  accessPolicy?: string;
  arn: string;
  creationTime: number;
  tags?: Record<string, string>;
}

/** Where a subscription's events end up. */
export type DeliveryTarget = { kind: 'log-group'; region: string; logGroupName: string } | { kind: 'http'; url: string };

const enc = encodeURIComponent;
const groupPrefix = (region: string, group: string) => `${region}/${enc(group)}/`;

/** The log group a log-group ARN of this account names, or undefined when `ref` is not one. */
function logGroupOfArn(s: Scope, ref: string): { region: string; logGroupName: string } | undefined {
  const p = parseArn(ref);
  if (!p || p.service !== 'logs' || !p.resource.startsWith('log-group:')) return undefined;
  if (p.accountId !== s.platform.accountId) throw logsErrors.invalidParameter(`The log group ${ref} belongs to another account; Berth serves one account (${s.platform.accountId}).`);
  let name = p.resource.slice('log-group:'.length);
  if (name.endsWith(':*')) name = name.slice(0, -2);
  if (!name || name.includes(':')) throw logsErrors.invalidParameter(`'${ref.slice(0, 300)}' is not a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>).`);
  return { region: p.region, logGroupName: name };
}

/**
 * The http(s) endpoints destinations may deliver to: URL prefixes an operator configures
 * (BerthOptions.logs.subscriptionUrls, env BERTH_LOGS_SUBSCRIPTION_URLS, comma-separated). A URL
 * is allowed when its normalized form starts with a normalized prefix (so `http://a.example`
 * allows `http://a.example/x` but not `http://a.example.evil/`). Empty: no http(s) target at all.
 */
export class SubscriptionEndpoints {
  /** Normalized prefixes (each a URL's href: scheme, host, port and path). */
  readonly prefixes: readonly string[];

  /** Throws (a plain Error naming the bad entry, for the operator) when a prefix is not an http(s) URL. */
  constructor(prefixes: readonly string[]) {
    if (prefixes.length > 100) throw new Error(`At most 100 subscription endpoint prefixes, not ${prefixes.length}.`);
    this.prefixes = prefixes.map((p) => {
      let u: URL;
      try {
        u = new URL(p);
      } catch {
        throw new Error(`Subscription endpoint prefix '${p.slice(0, 300)}' is not a URL.`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`Subscription endpoint prefix '${p.slice(0, 300)}' is not an http(s) URL.`);
      if (u.username || u.password || u.search || u.hash) throw new Error(`Subscription endpoint prefix '${p.slice(0, 300)}' must be scheme, host, port and path only.`);
      return u.href;
    });
  }

  /** The allow-list from a comma-separated setting (blank entries ignored). */
  static parse(setting: string | undefined): SubscriptionEndpoints {
    return new SubscriptionEndpoints((setting ?? '').split(',').map((p) => p.trim()).filter(Boolean));
  }

  /** Whether a (normalized) URL may receive deliveries. */
  allows(url: URL): boolean {
    return this.prefixes.some((p) => url.href.startsWith(p));
  }
}

/** No http(s) destination allowed. */
export const NO_SUBSCRIPTION_ENDPOINTS = new SubscriptionEndpoints([]);

/**
 * A destination's target: a log group ARN or an allowed http(s) URL; anything else is
 * InvalidParameterException.
 */
export function parseTarget(s: Scope, target: string, endpoints: SubscriptionEndpoints): DeliveryTarget {
  const g = logGroupOfArn(s, target);
  if (g) return { kind: 'log-group', ...g };
  if (/^https?:\/\//i.test(target)) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw logsErrors.invalidParameter(`targetArn '${target.slice(0, 300)}' is not a valid URL.`);
    }
    if (url.username || url.password) throw logsErrors.invalidParameter('targetArn must not carry credentials in its URL.');
    if (!endpoints.allows(url)) {
      throw logsErrors.invalidParameter(
        `targetArn '${target.slice(0, 300)}' is not under an endpoint this Berth's operator allows for subscriptions (BERTH_LOGS_SUBSCRIPTION_URLS: ${endpoints.prefixes.length ? endpoints.prefixes.join(', ') : 'none set'}).`,
      );
    }
    return { kind: 'http', url: url.toString() };
  }
  throw logsErrors.invalidParameter(
    `targetArn '${target.slice(0, 300)}' is not a target Berth can deliver to: use a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>) or an http(s):// URL; Kinesis, Firehose and Lambda are not available.`,
  );
}

/** The destination ARN `arn:aws:logs:<region>:<account>:destination:<name>`. */
export function destinationArn(s: Scope, name: string): string {
  return arn('logs', s.region, s.platform.accountId, `destination:${name}`);
}

/**
 * Resolves a subscription's destinationArn to where its events go (a destination is looked up;
 * its URL must still be allowed).
 */
export async function resolveDestination(s: Scope, destArn: string, endpoints: SubscriptionEndpoints): Promise<DeliveryTarget> {
  const g = logGroupOfArn(s, destArn);
  if (g) return { kind: 'log-group', ...g };
  const p = parseArn(destArn);
  if (p && p.service === 'logs' && p.resource.startsWith('destination:')) {
    if (p.accountId !== s.platform.accountId) throw logsErrors.invalidParameter(`The destination ${destArn} belongs to another account; Berth serves one account.`);
    const d = await s.platform.store.get<DestinationRecord>(DESTINATION_KIND, `${p.region}/${p.resource.slice('destination:'.length)}`);
    if (!d) throw logsErrors.invalidParameter(`The destination ${destArn} does not exist: create it with PutDestination first.`);
    return parseTarget({ platform: s.platform, region: p.region }, d.value.targetArn, endpoints);
  }
  throw logsErrors.invalidParameter(
    `destinationArn '${destArn.slice(0, 300)}' is not a destination Berth can deliver to: use a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>) or a CloudWatch Logs destination ARN (arn:aws:logs:<region>:<account>:destination:<name>); Kinesis, Firehose and Lambda are not available.`,
  );
}

/** Every subscription filter of every region, with its region (the deliverer's view). */
export async function allSubscriptionFilters(s: { platform: Scope['platform'] }): Promise<{ region: string; filter: SubscriptionFilterRecord }[]> {
  return (await s.platform.store.list<SubscriptionFilterRecord>(SUBSCRIPTION_FILTER_KIND, {})).map((r) => ({ region: r.key.slice(0, r.key.indexOf('/')), filter: r.value }));
}

/**
 * PutSubscriptionFilter: creates or replaces a group's filter (the group must exist; see the
 * handler). The pattern must compile and the destination resolve; a log group destination must
 * exist (`groupExists`), differ from the source, and not itself deliver to log groups.
 */
export async function putSubscriptionFilter(
  s: Scope,
  spec: Omit<SubscriptionFilterRecord, 'creationTime'>,
  groupExists: (region: string, name: string) => boolean,
  endpoints: SubscriptionEndpoints,
): Promise<void> {
  compileForApi(spec.filterPattern);
  const target = await resolveDestination(s, spec.destinationArn, endpoints);
  if (target.kind === 'log-group') {
    if (!groupExists(target.region, target.logGroupName)) throw logsErrors.invalidParameter(`The destination log group ${target.logGroupName} does not exist in ${target.region}.`);
    if (target.region === s.region && target.logGroupName === spec.logGroupName) throw logsErrors.invalidParameter('A subscription filter cannot deliver a log group to itself.');
    // No chains of log-group deliveries, so delivery cannot loop.
    for (const { region, filter } of await allSubscriptionFilters(s)) {
      if (region === s.region && filter.logGroupName === spec.logGroupName && filter.filterName === spec.filterName) continue;
      const t = await resolveDestination({ platform: s.platform, region }, filter.destinationArn, endpoints).catch(() => undefined);
      if (t?.kind !== 'log-group') continue;
      if (region === target.region && filter.logGroupName === target.logGroupName) {
        throw logsErrors.invalidParameter(`The log group ${target.logGroupName} delivers to a log group itself (filter ${filter.filterName}); chains of log group subscriptions are refused so delivery cannot loop.`);
      }
      if (t.region === s.region && t.logGroupName === spec.logGroupName) {
        throw logsErrors.invalidParameter(`The log group ${spec.logGroupName} receives the events of ${filter.logGroupName} (filter ${filter.filterName}); it cannot deliver to a log group itself, so delivery cannot loop.`);
      }
    }
  }
  const prefix = groupPrefix(s.region, spec.logGroupName);
  const key = prefix + spec.filterName;
  const now = s.platform.clock.now();
  await retrying(`Subscription filter ${spec.filterName}`, async () => {
    const cur = await s.platform.store.get<SubscriptionFilterRecord>(SUBSCRIPTION_FILTER_KIND, key);
    if (!cur) {
      const have = await s.platform.store.list(SUBSCRIPTION_FILTER_KIND, { prefix, limit: MAX_SUBSCRIPTION_FILTERS_PER_GROUP });
      if (have.length >= MAX_SUBSCRIPTION_FILTERS_PER_GROUP) throw logsErrors.limitExceeded('Resource limit exceeded.');
    }
    // A replaced filter keeps its creation time, so delivery carries on from where it was.
    await s.platform.store.commit([{ kind: SUBSCRIPTION_FILTER_KIND, key, value: { ...spec, creationTime: cur?.value.creationTime ?? now }, expectRev: cur?.rev ?? 0 }]);
  });
}

/** DescribeSubscriptionFilters: one page of a group's filters. */
export async function describeSubscriptionFilters(s: Scope, group: string, q: { prefix?: string; token?: string; limit: number }): Promise<{ filters: SubscriptionFilterRecord[]; nextToken?: string }> {
  const page = await pageOf<SubscriptionFilterRecord>(s.platform.store, SUBSCRIPTION_FILTER_KIND, groupPrefix(s.region, group) + (q.prefix ?? ''), {
    token: q.token,
    maxResults: q.limit,
    invalidToken: logsErrors.invalidToken,
  });
  return { filters: page.items.map((r) => r.value), nextToken: page.nextToken };
}

/** DeleteSubscriptionFilter: ResourceNotFoundException when there is none of that name. */
export async function deleteSubscriptionFilter(s: Scope, group: string, name: string): Promise<void> {
  const { changed } = await mutate<SubscriptionFilterRecord>(s.platform.store, SUBSCRIPTION_FILTER_KIND, groupPrefix(s.region, group) + name, (cur) => (cur ? null : undefined));
  if (!changed) throw logsErrors.resourceNotFound('The specified subscription filter does not exist.');
}

/** Deletes every subscription filter of a group (with the group). */
export async function deleteGroupSubscriptionFilters(s: Scope, group: string): Promise<void> {
  const all = await s.platform.store.list(SUBSCRIPTION_FILTER_KIND, { prefix: groupPrefix(s.region, group) });
  if (all.length) await s.platform.store.commit(all.map((r) => ({ kind: SUBSCRIPTION_FILTER_KIND, key: r.key, value: null })));
}

/** PutDestination: creates or updates (target and role) a destination; returns it. */
export async function putDestination(
  s: Scope,
  spec: { destinationName: string; targetArn: string; roleArn: string; tags?: Record<string, string> },
  endpoints: SubscriptionEndpoints,
): Promise<DestinationRecord> {
  parseTarget(s, spec.targetArn, endpoints);
  const key = `${s.region}/${spec.destinationName}`;
  return retrying(`Destination ${spec.destinationName}`, async () => {
    const cur = await s.platform.store.get<DestinationRecord>(DESTINATION_KIND, key);
    if (!cur) {
      const have = await s.platform.store.list(DESTINATION_KIND, { prefix: `${s.region}/`, limit: MAX_DESTINATIONS });
      if (have.length >= MAX_DESTINATIONS) throw logsErrors.limitExceeded(`This region already has ${MAX_DESTINATIONS} destinations, the most Berth keeps.`);
    }
    const value: DestinationRecord = cur
      ? { ...cur.value, targetArn: spec.targetArn, roleArn: spec.roleArn }
      : { destinationName: spec.destinationName, targetArn: spec.targetArn, roleArn: spec.roleArn, arn: destinationArn(s, spec.destinationName), creationTime: s.platform.clock.now(), tags: spec.tags };
    await s.platform.store.commit([{ kind: DESTINATION_KIND, key, value, expectRev: cur?.rev ?? 0 }]);
    return value;
  });
}

/** Checks an access policy as AWS does: JSON with a Statement, at most 5,120 characters. */
function checkAccessPolicy(policy: string): void {
  if (policy.length > MAX_ACCESS_POLICY) throw logsErrors.invalidParameter(`accessPolicy is ${policy.length} characters; the most is ${MAX_ACCESS_POLICY}.`);
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    throw logsErrors.invalidParameter('accessPolicy is not valid JSON.');
  }
  if (!doc || typeof doc !== 'object' || !('Statement' in doc)) throw logsErrors.invalidParameter('accessPolicy must be a policy document with a Statement.');
}

/** PutDestinationPolicy: sets a destination's access policy (stored; Berth serves one account). */
export async function putDestinationPolicy(s: Scope, name: string, policy: string): Promise<void> {
  checkAccessPolicy(policy);
  const { value } = await mutate<DestinationRecord>(s.platform.store, DESTINATION_KIND, `${s.region}/${name}`, (cur) => (cur ? { ...cur, accessPolicy: policy } : undefined));
  if (!value) throw logsErrors.resourceNotFound('The specified destination does not exist.');
}

/** DescribeDestinations: one page, by name prefix. */
export async function describeDestinations(s: Scope, q: { prefix?: string; token?: string; limit: number }): Promise<{ destinations: DestinationRecord[]; nextToken?: string }> {
  const page = await pageOf<DestinationRecord>(s.platform.store, DESTINATION_KIND, `${s.region}/${q.prefix ?? ''}`, { token: q.token, maxResults: q.limit, invalidToken: logsErrors.invalidToken });
  return { destinations: page.items.map((r) => r.value), nextToken: page.nextToken };
}

/** DeleteDestination: ResourceNotFoundException when there is none of that name. */
export async function deleteDestination(s: Scope, name: string): Promise<void> {
  const { changed } = await mutate<DestinationRecord>(s.platform.store, DESTINATION_KIND, `${s.region}/${name}`, (cur) => (cur ? null : undefined));
  if (!changed) throw logsErrors.resourceNotFound('The specified destination does not exist.');
}
