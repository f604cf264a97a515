/**
 * Rule conditions compiled into predicates over a request. Compiled once per configuration
 * snapshot; evaluation allocates nothing beyond what parsing the request needs (once per request,
 * shared by all rules through `RequestView`).
 *
 * Semantics follow ALB: values within one condition are ORed, conditions are ANDed; path
 * patterns are case-sensitive, host/header/query values case-insensitive; `*` matches any run
 * of characters and `?` exactly one (src/domain/glob.ts: linear time, whatever the request holds).
 * Paths are matched as the target will see them: normalized (see `normalizePath`).
 */
import { BlockList, isIP } from 'node:net';
import type * as ELB from '../generated/elbv2.js';
import { compileGlob, type Glob } from '../domain/glob.js';
import { normalizePath } from './paths.js';

/** The parts of a request rules look at, computed lazily once per request. */
export class RequestView {
  private _path?: string | null;
  private _query?: [string, string][];
  private _host?: string;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: Record<string, string | string[] | undefined>,
    readonly clientIp: string,
  ) {}
  /**
   * The normalized path (dot segments removed, unreserved escapes decoded, absolute-form
   * reduced), or undefined when the request target is not a path (answered with 400).
   */
  get path(): string | undefined {
    if (this._path === undefined) {
      const q = this.url.indexOf('?');
      this._path = normalizePath(q < 0 ? this.url : this.url.slice(0, q)) ?? null;
    }
    return this._path ?? undefined;
  }
  /** The query string (after `?`, without it), as received. */
  get rawQuery(): string {
    const q = this.url.indexOf('?');
    return q < 0 ? '' : this.url.slice(q + 1);
  }
  get query(): [string, string][] {
    if (this._query === undefined) this._query = [...new URLSearchParams(this.rawQuery)];
    return this._query;
  }
  /** The Host header without its port, lower case. */
  get host(): string {
    if (this._host === undefined) {
      const h = String(this.headers.host ?? '').toLowerCase();
      const m = /^(\[[^\]]*\]|[^:]*)/.exec(h);
      this._host = m ? m[1]! : h;
    }
    return this._host;
  }
}

export type Predicate = (r: RequestView) => boolean;

function anyOf(globs: Glob[], s: string): boolean {
  for (const g of globs) if (g(s)) return true;
  return false;
}

function compileOne(c: ELB.RuleCondition): Predicate {
  switch (c.Field) {
    case 'host-header': {
      const globs = (c.HostHeaderConfig?.Values ?? c.Values ?? []).map((v) => compileGlob(v, true));
      return (r) => anyOf(globs, r.host);
    }
    case 'path-pattern': {
      const globs = (c.PathPatternConfig?.Values ?? c.Values ?? []).map((v) => compileGlob(v, false));
      return (r) => {
        const path = r.path;
        return path !== undefined && anyOf(globs, path);
      };
    }
    case 'http-header': {
      const name = (c.HttpHeaderConfig?.HttpHeaderName ?? '').toLowerCase();
      const globs = (c.HttpHeaderConfig?.Values ?? []).map((v) => compileGlob(v, true));
      return (r) => {
        const v = r.headers[name];
        if (v === undefined) return false;
        if (Array.isArray(v)) return v.some((x) => anyOf(globs, x));
        return anyOf(globs, v);
      };
    }
    case 'http-request-method': {
      const methods = new Set(c.HttpRequestMethodConfig?.Values ?? []);
      return (r) => methods.has(r.method);
    }
    case 'query-string': {
      const pairs = (c.QueryStringConfig?.Values ?? []).map((kv) => ({
        key: kv.Key === undefined ? undefined : compileGlob(kv.Key, true),
        value: compileGlob(kv.Value ?? '*', true),
      }));
      return (r) => {
        for (const [k, v] of r.query) for (const p of pairs) if ((!p.key || p.key(k)) && p.value(v)) return true;
        return false;
      };
    }
    case 'source-ip': {
      const list = new BlockList();
      for (const cidr of c.SourceIpConfig?.Values ?? []) {
        const [ip, bits] = cidr.split('/');
        list.addSubnet(ip!, Number(bits), isIP(ip!) === 6 ? 'ipv6' : 'ipv4');
      }
      return (r) => {
        const ip = r.clientIp.startsWith('::ffff:') ? r.clientIp.slice(7) : r.clientIp;
        return list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
      };
    }
    default:
      return () => false;
  }
}

/** All of a rule's conditions as one predicate. */
export function compileConditions(conds: ELB.RuleCondition[]): Predicate {
  const ps = conds.map(compileOne);
  if (ps.length === 1) return ps[0]!;
  return (r) => {
    for (const p of ps) if (!p(r)) return false;
    return true;
  };
}

/** A health check Matcher HttpCode ("200", "200,302", "200-299") as a predicate on status codes. */
export function compileMatcher(code: string): (status: number) => boolean {
  const ranges = code.split(',').map((part) => {
    const [lo, hi] = part.trim().split('-');
    return [Number(lo), Number(hi ?? lo)] as const;
  });
  return (s) => ranges.some(([lo, hi]) => s >= lo && s <= hi);
}
