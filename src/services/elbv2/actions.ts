/**
 * Checking and normalizing listener/rule actions and rule conditions. Stored forms are the
 * normalized ones AWS describes back: a forward action carries both TargetGroupArn (when it has
 * one group) and ForwardConfig; host-header and path-pattern conditions carry both `Values` and
 * their `*Config`.
 */
import { isIP } from 'node:net';
import type * as ELB from '../../generated/elbv2.js';
import type { RequestContext } from '../types.js';
import { elbErrors } from '../../domain/elbv2/errors.js';
import { findTg } from '../../domain/elbv2/lookup.js';

const FIXED_CONTENT_TYPES = ['text/html', 'application/json', 'application/javascript', 'text/css', 'text/plain'];

/** Validates actions (forward, redirect, fixed-response) and returns their stored form. */
export async function normalizeActions(ctx: RequestContext, actions: ELB.Action[]): Promise<ELB.Action[]> {
  if (actions.length === 0) throw elbErrors.validation('At least one action must be specified');
  const out: ELB.Action[] = [];
  for (const a of actions) {
    if (a.Order !== undefined && (a.Order < 1 || a.Order > 50000)) throw elbErrors.validation(`Action order ${a.Order} must be from 1 to 50000`);
    switch (a.Type) {
      case 'forward':
        out.push(await normalizeForward(ctx, a));
        break;
      case 'redirect':
        out.push(normalizeRedirect(a));
        break;
      case 'fixed-response':
        out.push(normalizeFixed(a));
        break;
      default:
        throw elbErrors.invalidLoadBalancerAction(`Action type '${a.Type}' is not supported by Berth; use forward, redirect or fixed-response`);
    }
  }
  if (out.length > 1) {
    throw elbErrors.tooManyActions('Only one forward, redirect or fixed-response action can be specified (authentication actions are not supported by Berth)');
  }
  return out;
}

async function normalizeForward(ctx: RequestContext, a: ELB.Action): Promise<ELB.Action> {
  if (a.RedirectConfig || a.FixedResponseConfig) throw elbErrors.validation('A forward action cannot have a redirect or fixed-response configuration');
  const tuples = a.ForwardConfig?.TargetGroups ?? [];
  if (a.TargetGroupArn && tuples.length > 0) {
    if (tuples.length !== 1 || tuples[0]!.TargetGroupArn !== a.TargetGroupArn) {
      throw elbErrors.validation('TargetGroupArn and ForwardConfig both given must name the same single target group');
    }
  }
  const groups: ELB.TargetGroupTuple[] = tuples.length ? tuples : a.TargetGroupArn ? [{ TargetGroupArn: a.TargetGroupArn, Weight: 1 }] : [];
  if (groups.length === 0) throw elbErrors.validation('A forward action must specify a TargetGroupArn or ForwardConfig.TargetGroups');
  if (groups.length > 5) throw elbErrors.validation('A forward action can specify at most 5 target groups');
  const seen = new Set<string>();
  const normalized: ELB.TargetGroupTuple[] = [];
  for (const g of groups) {
    if (!g.TargetGroupArn) throw elbErrors.validation('Each target group in ForwardConfig needs a TargetGroupArn');
    if (seen.has(g.TargetGroupArn)) throw elbErrors.validation(`Target group '${g.TargetGroupArn}' is given more than once in one forward action`);
    seen.add(g.TargetGroupArn);
    const w = g.Weight ?? 1;
    if (w < 0 || w > 999) throw elbErrors.validation(`Target group weight ${w} must be from 0 to 999`);
    if (!(await findTg(ctx, g.TargetGroupArn))) throw elbErrors.targetGroupNotFound(`Target group '${g.TargetGroupArn}' not found`);
    normalized.push({ TargetGroupArn: g.TargetGroupArn, Weight: w });
  }
  const st = a.ForwardConfig?.TargetGroupStickinessConfig;
  const duration = st?.DurationSeconds;
  if (st?.Enabled && (duration === undefined || duration < 1 || duration > 604800)) {
    throw elbErrors.validation('Target group stickiness needs DurationSeconds from 1 to 604800 when enabled');
  }
  return {
    Type: 'forward',
    Order: a.Order,
    TargetGroupArn: normalized.length === 1 ? normalized[0]!.TargetGroupArn : undefined,
    ForwardConfig: {
      TargetGroups: normalized,
      TargetGroupStickinessConfig: st?.Enabled ? { Enabled: true, DurationSeconds: duration } : { Enabled: false },
    },
  };
}

function normalizeRedirect(a: ELB.Action): ELB.Action {
  const r = a.RedirectConfig;
  if (!r) throw elbErrors.validation('A redirect action needs a RedirectConfig');
  if (a.TargetGroupArn || a.ForwardConfig) throw elbErrors.validation('A redirect action cannot name target groups');
  const protocol = r.Protocol ?? '#{protocol}';
  if (!['HTTP', 'HTTPS', '#{protocol}'].includes(protocol)) throw elbErrors.validation(`Redirect protocol '${protocol}' must be HTTP, HTTPS or #{protocol}`);
  const port = r.Port ?? '#{port}';
  if (port !== '#{port}' && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    throw elbErrors.validation(`Redirect port '${port}' must be #{port} or a port from 1 to 65535`);
  }
  const path = r.Path ?? '/#{path}';
  if (!path.startsWith('/')) throw elbErrors.validation(`Redirect path '${path}' must start with '/'`);
  const query = r.Query ?? '#{query}';
  if (query.startsWith('?')) throw elbErrors.validation(`Redirect query '${query}' must not start with '?'`);
  const host = r.Host ?? '#{host}';
  if (host.length === 0 || host.length > 128) throw elbErrors.validation('Redirect host must be 1-128 characters');
  return { Type: 'redirect', Order: a.Order, RedirectConfig: { Protocol: protocol, Port: port, Host: host, Path: path, Query: query, StatusCode: r.StatusCode } };
}

function normalizeFixed(a: ELB.Action): ELB.Action {
  const f = a.FixedResponseConfig;
  if (!f) throw elbErrors.validation('A fixed-response action needs a FixedResponseConfig');
  if (a.TargetGroupArn || a.ForwardConfig) throw elbErrors.validation('A fixed-response action cannot name target groups');
  if (!/^[245]\d\d$/.test(f.StatusCode)) throw elbErrors.validation(`Fixed response status code '${f.StatusCode}' must be a 2XX, 4XX or 5XX code`);
  if (f.ContentType !== undefined && !FIXED_CONTENT_TYPES.includes(f.ContentType)) {
    throw elbErrors.invalidLoadBalancerAction(`The ContentType must be one of:${FIXED_CONTENT_TYPES.map((t) => `'${t}'`).join(', ')}`);
  }
  if ((f.MessageBody ?? '').length > 1024) throw elbErrors.validation('Fixed response message body must be at most 1024 characters');
  return { Type: 'fixed-response', Order: a.Order, FixedResponseConfig: { StatusCode: f.StatusCode, ContentType: f.ContentType, MessageBody: f.MessageBody } };
}

const FIELDS = ['path-pattern', 'host-header', 'http-header', 'http-request-method', 'query-string', 'source-ip'];

/** Most values of all conditions of one rule together (ALB's condition-values-per-alb-rule). */
const MAX_CONDITION_VALUES = 5;

/** A condition value longer than ALB takes: "The 'host-header' value is too long; the limit is '128'". */
function checkLength(what: string, v: string, limit: number): void {
  if (v.length > limit) throw elbErrors.validation(`The '${what}' value is too long; the limit is '${limit}'`);
}

/**
 * Validates rule conditions as ALB does, in its words (the field, where the values go, how many
 * and how long), and returns their stored form.
 */
export function normalizeConditions(conds: ELB.RuleCondition[]): ELB.RuleCondition[] {
  if (conds.length === 0) throw elbErrors.validation('A rule must have at least one condition');
  let total = 0;
  const fieldsSeen = new Set<string>();
  const out: ELB.RuleCondition[] = [];
  for (const c of conds) {
    const field = c.Field ?? '';
    if (!FIELDS.includes(field)) throw elbErrors.validation(`Condition field '${field}' must be one of '[${FIELDS.join(', ')}]'`);
    if (c.RegexValues?.length || c.HostHeaderConfig?.RegexValues?.length || c.PathPatternConfig?.RegexValues?.length || c.HttpHeaderConfig?.RegexValues?.length) {
      throw elbErrors.validation('Regular-expression condition values are not supported by Berth; use wildcard Values');
    }
    if (c.Values?.length && field !== 'host-header' && field !== 'path-pattern') throw elbErrors.validation(`The 'Values' field is not compatible with '${field}'`);
    if (field !== 'http-header' && fieldsSeen.has(field)) throw elbErrors.validation(`A rule can have only one '${field}' condition`);
    fieldsSeen.add(field);
    /** host-header and path-pattern: one value in Values (the older form), or several in their config. */
    const pick = (cfg: { Values?: string[] } | undefined, configName: string): string[] => {
      if (c.Values?.length && cfg) throw elbErrors.validation(`You cannot provide both Values and '${configName}' for a condition of type '${field}'`);
      if (!cfg && (c.Values?.length ?? 0) > 1) throw elbErrors.validation(`The '${field}' field contains too many values; the limit is '1'`);
      const v = cfg ? (cfg.Values ?? []) : (c.Values ?? []);
      if (v.length === 0) throw elbErrors.validation('A condition value must be specified');
      for (const x of v) checkLength(field, x, 128);
      return v;
    };
    const config = <T>(cfg: T | undefined, name: string): T => {
      if (!cfg) throw elbErrors.validation(`A '${name}' must be specified with '${field}'`);
      return cfg;
    };
    switch (field) {
      case 'host-header': {
        const v = pick(c.HostHeaderConfig, 'HostHeaderConfig');
        for (const h of v) if (!/^[A-Za-z0-9.*?-]+$/.test(h)) throw elbErrors.validation(`Host header condition value '${h}' is not valid`);
        total += v.length;
        out.push({ Field: field, Values: v, HostHeaderConfig: { Values: v } });
        break;
      }
      case 'path-pattern': {
        const v = pick(c.PathPatternConfig, 'PathPatternConfig');
        for (const p of v) if (!/^[A-Za-z0-9_\-.$/~"'@:+&()!,;=*?%]+$/.test(p)) throw elbErrors.validation(`Path pattern condition value '${p}' is not valid`);
        total += v.length;
        out.push({ Field: field, Values: v, PathPatternConfig: { Values: v } });
        break;
      }
      case 'http-header': {
        const cfg = config(c.HttpHeaderConfig, 'HttpHeaderConfig');
        const name = cfg.HttpHeaderName ?? '';
        checkLength('HttpHeaderName', name, 40);
        if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)) throw elbErrors.validation(`HTTP header condition needs a valid HttpHeaderName: got '${name}'`);
        const v = cfg.Values ?? [];
        if (v.length === 0) throw elbErrors.validation('A condition value must be specified');
        for (const x of v) checkLength('http-header', x, 128);
        total += v.length;
        out.push({ Field: field, HttpHeaderConfig: { HttpHeaderName: name, Values: v } });
        break;
      }
      case 'http-request-method': {
        const v = config(c.HttpRequestMethodConfig, 'HttpRequestMethodConfig').Values ?? [];
        if (v.length === 0) throw elbErrors.validation('A condition value must be specified');
        for (const m of v) {
          checkLength('http-request-method', m, 40);
          if (!/^[A-Z_-]+$/.test(m)) throw elbErrors.validation("The 'http-request-method' value is invalid; the allowed characters are A-Z, hyphen and underscore");
        }
        total += v.length;
        out.push({ Field: field, HttpRequestMethodConfig: { Values: v } });
        break;
      }
      case 'query-string': {
        const v = config(c.QueryStringConfig, 'QueryStringConfig').Values ?? [];
        if (v.length === 0) throw elbErrors.validation('A condition value must be specified');
        for (const kv of v) {
          if (kv.Value === undefined || kv.Value === '') throw elbErrors.validation("A 'Value' must be specified in 'QueryStringKeyValuePair'");
          if (kv.Key !== undefined) checkLength('Key', kv.Key, 128);
          checkLength('Value', kv.Value, 128);
        }
        total += v.length;
        out.push({ Field: field, QueryStringConfig: { Values: v.map((kv) => ({ Key: kv.Key, Value: kv.Value })) } });
        break;
      }
      case 'source-ip': {
        const v = config(c.SourceIpConfig, 'SourceIpConfig').Values ?? [];
        if (v.length === 0) throw elbErrors.validation("A 'source-ip' value must be specified");
        for (const cidr of v) if (!validCidr(cidr)) throw elbErrors.validation(`Source IP '${cidr}' is not a valid CIDR block`);
        total += v.length;
        out.push({ Field: field, SourceIpConfig: { Values: v } });
        break;
      }
    }
  }
  if (total > MAX_CONDITION_VALUES) throw elbErrors.tooManyConditionValues();
  return out;
}

export function validCidr(s: string): boolean {
  const [ip, bits, extra] = s.split('/');
  if (extra !== undefined || ip === undefined || bits === undefined || !/^\d+$/.test(bits)) return false;
  const v = isIP(ip);
  return v !== 0 && Number(bits) <= (v === 4 ? 32 : 128);
}
