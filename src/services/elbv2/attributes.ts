/**
 * What the ELBv2 handlers share: tag validation, the attribute catalogs of load balancers and
 * target groups with their defaults and checks, and marker pagination.
 */
import type * as ELB from '../../generated/elbv2.js';
import { decodeToken, encodeToken, type Versioned } from '../../domain/common.js';
import { elbErrors } from '../../domain/elbv2/errors.js';

/**
 * Checks a load balancer or target group name as ELB does, in its words: at most 32 characters,
 * letters, digits and hyphens only, not beginning or ending with a hyphen (and a load balancer's
 * not beginning with `internal-`).
 */
export function checkElbName(kind: 'Load balancer' | 'Target group', name: string): void {
  if (name.length > 32) throw elbErrors.validation(`${kind} name '${name.slice(0, 256)}' cannot be longer than '32' characters`);
  if (!/^[A-Za-z0-9-]+$/.test(name)) throw elbErrors.validation(`${kind} name '${name}' can only contain characters that are alphanumeric characters or hyphens(-)`);
  if (name.startsWith('-') || name.endsWith('-')) throw elbErrors.validation(`${kind} name '${name}' cannot begin or end with '-'`);
  if (kind === 'Load balancer' && name.toLowerCase().startsWith('internal-')) throw elbErrors.validation(`${kind} name '${name}' cannot begin with 'internal-'`);
}

/** Validates tags as ELBv2 does and merges `added` into `existing` by key. */
export function mergeElbTags(existing: ELB.Tag[], added: ELB.Tag[]): ELB.Tag[] {
  const seen = new Set<string>();
  const byKey = new Map(existing.map((t) => [t.Key, t]));
  for (const t of added) {
    if (seen.has(t.Key)) throw elbErrors.duplicateTagKeys(t.Key);
    seen.add(t.Key);
    if (!t.Key || t.Key.length > 128) throw elbErrors.validation(`Tag keys must be 1-128 characters: got '${t.Key ?? ''}'`);
    if ((t.Value ?? '').length > 256) throw elbErrors.validation(`The value of tag '${t.Key}' is longer than 256 characters`);
    if (t.Key.toLowerCase().startsWith('aws:')) throw elbErrors.validation(`Tag keys starting with 'aws:' are reserved: '${t.Key}'`);
    byKey.set(t.Key, { Key: t.Key, Value: t.Value ?? '' });
  }
  if (byKey.size > 50) throw elbErrors.tooManyTags(byKey.size);
  return [...byKey.values()];
}

type AttrCheck = (v: string) => boolean;
const bool: AttrCheck = (v) => v === 'true' || v === 'false';
const intIn = (lo: number, hi: number): AttrCheck => (v) => /^\d+$/.test(v) && Number(v) >= lo && Number(v) <= hi;
const oneOf = (...xs: string[]): AttrCheck => (v) => xs.includes(v);
const any: AttrCheck = () => true;

/** Application load balancer attributes: default value and the check a new value must pass. */
export const LB_ATTRIBUTES: Record<string, [string, AttrCheck, string]> = {
  'deletion_protection.enabled': ['false', bool, 'true or false'],
  'idle_timeout.timeout_seconds': ['60', intIn(1, 4000), 'an integer from 1 to 4000'],
  'client_keep_alive.seconds': ['3600', intIn(60, 604800), 'an integer from 60 to 604800'],
  'routing.http2.enabled': ['true', bool, 'true or false'],
  'routing.http.drop_invalid_header_fields.enabled': ['false', bool, 'true or false'],
  'routing.http.preserve_host_header.enabled': ['false', bool, 'true or false'],
  'routing.http.x_amzn_tls_version_and_cipher_suite.enabled': ['false', bool, 'true or false'],
  'routing.http.xff_client_port.enabled': ['false', bool, 'true or false'],
  'routing.http.xff_header_processing.mode': ['append', oneOf('append', 'preserve', 'remove'), 'append, preserve or remove'],
  'routing.http.desync_mitigation_mode': ['defensive', oneOf('monitor', 'defensive', 'strictest'), 'monitor, defensive or strictest'],
  'access_logs.s3.enabled': ['false', bool, 'true or false'],
  'access_logs.s3.bucket': ['', any, 'a bucket name'],
  'access_logs.s3.prefix': ['', any, 'a prefix'],
  'connection_logs.s3.enabled': ['false', bool, 'true or false'],
  'connection_logs.s3.bucket': ['', any, 'a bucket name'],
  'connection_logs.s3.prefix': ['', any, 'a prefix'],
  'waf.fail_open.enabled': ['false', bool, 'true or false'],
  'load_balancing.cross_zone.enabled': ['true', bool, 'true or false'],
  'zonal_shift.config.enabled': ['false', bool, 'true or false'],
};

/** Target group attributes (instance and ip targets over HTTP/HTTPS). */
export const TG_ATTRIBUTES: Record<string, [string, AttrCheck, string]> = {
  'deregistration_delay.timeout_seconds': ['300', intIn(0, 3600), 'an integer from 0 to 3600'],
  'stickiness.enabled': ['false', bool, 'true or false'],
  'stickiness.type': ['lb_cookie', oneOf('lb_cookie', 'app_cookie'), 'lb_cookie or app_cookie'],
  'stickiness.lb_cookie.duration_seconds': ['86400', intIn(1, 604800), 'an integer from 1 to 604800'],
  'stickiness.app_cookie.cookie_name': ['', any, 'a cookie name'],
  'stickiness.app_cookie.duration_seconds': ['86400', intIn(1, 604800), 'an integer from 1 to 604800'],
  'load_balancing.algorithm.type': [
    'round_robin',
    oneOf('round_robin', 'least_outstanding_requests', 'weighted_random'),
    'round_robin, least_outstanding_requests or weighted_random',
  ],
  'load_balancing.algorithm.anomaly_mitigation': ['off', oneOf('on', 'off'), 'on or off'],
  'slow_start.duration_seconds': ['0', (v) => v === '0' || intIn(30, 900)(v), '0 or an integer from 30 to 900'],
  'load_balancing.cross_zone.enabled': ['use_load_balancer_configuration', oneOf('true', 'false', 'use_load_balancer_configuration'), 'true, false or use_load_balancer_configuration'],
  'target_group_health.dns_failover.minimum_healthy_targets.count': ['1', (v) => v === 'off' || intIn(1, 1000)(v), 'off or a positive integer'],
  'target_group_health.dns_failover.minimum_healthy_targets.percentage': ['off', (v) => v === 'off' || intIn(1, 100)(v), 'off or 1-100'],
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.count': ['1', intIn(1, 1000), 'a positive integer'],
  'target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage': ['off', (v) => v === 'off' || intIn(1, 100)(v), 'off or 1-100'],
};

export function defaultAttributes(catalog: Record<string, [string, AttrCheck, string]>): Record<string, string> {
  return Object.fromEntries(Object.entries(catalog).map(([k, [d]]) => [k, d]));
}

/** Applies attribute changes after checking every key and value; throws ValidationError on the first bad one. */
export function applyAttributes(
  catalog: Record<string, [string, AttrCheck, string]>,
  current: Record<string, string>,
  changes: { Key?: string; Value?: string }[],
  what: string,
): Record<string, string> {
  const next = { ...current };
  for (const a of changes) {
    const key = a.Key ?? '';
    const spec = catalog[key];
    if (!spec) throw elbErrors.validation(`${what} attribute key '${key}' is not recognized`);
    const v = a.Value ?? '';
    if (!spec[1](v)) throw elbErrors.validation(`${what} attribute '${key}' must be ${spec[2]}: got '${v}'`);
    next[key] = v;
  }
  return next;
}

export function attributeList(attrs: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(attrs).map(([Key, Value]) => ({ Key, Value }));
}

/**
 * One page of `items` (already in key order) after the marker's key. Markers are opaque tokens
 * naming the last key returned, so pages stay stable while records come and go.
 */
export function paginate<T>(items: Versioned<T>[], marker: string | undefined, pageSize: number | undefined): { page: T[]; nextMarker?: string } {
  const after = decodeToken(marker, elbErrors.invalidMarker);
  const rest = after === undefined ? items : items.filter((r) => r.key > after);
  const size = pageSize ?? 400;
  const page = rest.slice(0, size);
  return { page: page.map((r) => r.value), nextMarker: rest.length > size ? encodeToken(page[page.length - 1]!.key) : undefined };
}

