/**
 * A statement's `Condition` block, compiled once and evaluated against a request's context
 * keys, as IAM documents it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 * and ..._condition-logic-multiple-context-keys-or-values.html):
 *
 * - operators in a block, and keys under one operator, must all hold (AND); several values for
 *   one key match when any does (OR), and for a negated operator (`StringNotEquals`...) when the
 *   request's value matches none of them;
 * - a key absent from the request makes the condition false, except with the `...IfExists`
 *   suffix, a negated operator, or `ForAllValues:` (all true); `Null` tests presence itself;
 * - `ForAnyValue:` / `ForAllValues:` compare a multivalued key (`aws:TagKeys`...) as sets;
 * - policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, `${*}`, defaults
 *   `${aws:x, 'd'}`) are replaced in String and Arn values; one that has no value in the request
 *   matches nothing.
 *
 * Keys compare case-insensitively, values by the operator's rules. Wildcards (`*`, `?`) in `Like`
 * operators run on the linear-time matcher of src/domain/glob.ts; IP ranges on node's BlockList.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { ServiceError } from '../../../errors.js';
import { compileGlob } from '../../glob.js';

/** A request's condition keys: lower-cased key -> its values (one for single-valued keys). */
export type ContextKeys = ReadonlyMap<string, readonly string[]>;

/** A compiled condition block: true when the request meets it. */
export type CompiledCondition = (keys: ContextKeys) => boolean;

type Family = 'String' | 'Numeric' | 'Date' | 'Bool' | 'Binary' | 'Ip' | 'Arn' | 'Null';

interface OperatorSpec {
  family: Family;
  negated: boolean;
  /** For the positive form: does request value `r` match policy value `v`? */
  match: (r: string, v: string) => boolean;
}

const num = (s: string): number => (s.trim() === '' ? NaN : Number(s));
function date(s: string): number {
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  return Date.parse(s);
}
function cmp(a: number, b: number, test: (d: number) => boolean): boolean {
  return !Number.isNaN(a) && !Number.isNaN(b) && test(a - b);
}

function ipMatch(r: string, v: string): boolean {
  const [addr, bits] = v.split('/');
  const type = isIPv4(addr ?? '') ? 'ipv4' : isIPv6(addr ?? '') ? 'ipv6' : undefined;
  const rType = isIPv4(r) ? 'ipv4' : isIPv6(r) ? 'ipv6' : undefined;
  if (!type || type !== rType) return false; // IPv4 addresses never fall in IPv6 ranges, nor the reverse
  const prefix = bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) return false;
  const list = new BlockList();
  list.addSubnet(addr!, prefix, type);
  return list.check(r, rType);
}

const likeCache = new Map<string, (s: string) => boolean>();
function like(pattern: string, text: string, foldCase = false): boolean {
  const key = `${foldCase ? 1 : 0}${pattern}`;
  let g = likeCache.get(key);
  if (!g) {
    if (likeCache.size > 10_000) likeCache.clear();
    g = compileGlob(pattern, foldCase);
    likeCache.set(key, g);
  }
  return g(text);
}

const POSITIVE: Record<string, Omit<OperatorSpec, 'negated'>> = {
  StringEquals: { family: 'String', match: (r, v) => r === v },
  StringEqualsIgnoreCase: { family: 'String', match: (r, v) => r.toLowerCase() === v.toLowerCase() },
  StringLike: { family: 'String', match: (r, v) => like(v, r) },
  NumericEquals: { family: 'Numeric', match: (r, v) => cmp(num(r), num(v), (d) => d === 0) },
  NumericLessThan: { family: 'Numeric', match: (r, v) => cmp(num(r), num(v), (d) => d < 0) },
  NumericLessThanEquals: { family: 'Numeric', match: (r, v) => cmp(num(r), num(v), (d) => d <= 0) },
  NumericGreaterThan: { family: 'Numeric', match: (r, v) => cmp(num(r), num(v), (d) => d > 0) },
  NumericGreaterThanEquals: { family: 'Numeric', match: (r, v) => cmp(num(r), num(v), (d) => d >= 0) },
  DateEquals: { family: 'Date', match: (r, v) => cmp(date(r), date(v), (d) => d === 0) },
  DateLessThan: { family: 'Date', match: (r, v) => cmp(date(r), date(v), (d) => d < 0) },
  DateLessThanEquals: { family: 'Date', match: (r, v) => cmp(date(r), date(v), (d) => d <= 0) },
  DateGreaterThan: { family: 'Date', match: (r, v) => cmp(date(r), date(v), (d) => d > 0) },
  DateGreaterThanEquals: { family: 'Date', match: (r, v) => cmp(date(r), date(v), (d) => d >= 0) },
  Bool: { family: 'Bool', match: (r, v) => r.toLowerCase() === v.toLowerCase() },
  BinaryEquals: { family: 'Binary', match: (r, v) => r === v },
  IpAddress: { family: 'Ip', match: ipMatch },
  ArnEquals: { family: 'Arn', match: (r, v) => like(v, r) },
  ArnLike: { family: 'Arn', match: (r, v) => like(v, r) },
  Null: { family: 'Null', match: () => false },
};
const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
  ArnNotEquals: 'ArnEquals',
  ArnNotLike: 'ArnLike',
};

function operator(name: string): OperatorSpec | undefined {
  const pos = POSITIVE[name];
  if (pos) return { ...pos, negated: false };
  const base = NEGATED[name];
  return base ? { ...POSITIVE[base]!, negated: true } : undefined;
}

/**
 * Replaces policy variables in `text` from the request's keys; undefined when one has no value
 * and no default (the value then matches nothing).
 */
export function substituteVariables(text: string, keys: ContextKeys): string | undefined {
  if (!text.includes('${')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('${', i);
    if (start < 0) break;
    const end = text.indexOf('}', start);
    if (end < 0) break;
    out += text.slice(i, start);
    const inner = text.slice(start + 2, end);
    if (inner === '*' || inner === '?' || inner === '$') out += inner;
    else {
      const comma = inner.indexOf(',');
      const name = (comma < 0 ? inner : inner.slice(0, comma)).trim().toLowerCase();
      const fallback = comma < 0 ? undefined : /^\s*'([^']*)'\s*$/.exec(inner.slice(comma + 1))?.[1];
      const value = keys.get(name)?.[0] ?? fallback;
      if (value === undefined) return undefined;
      out += value;
    }
    i = end + 1;
  }
  return out + text.slice(i);
}

/** Compiles a statement's Condition element (undefined: always true). */
export function compileCondition(block: unknown, where: string, malformed: (m: string) => ServiceError): CompiledCondition {
  if (block === undefined) return () => true;
  if (typeof block !== 'object' || block === null || Array.isArray(block)) throw malformed(`${where}: Condition must be an object of operators.`);
  const tests: Array<(keys: ContextKeys) => boolean> = [];
  for (const [rawOp, entries] of Object.entries(block)) {
    let op = rawOp;
    let set: 'any' | 'all' | undefined;
    if (op.startsWith('ForAnyValue:')) [set, op] = ['any', op.slice('ForAnyValue:'.length)];
    else if (op.startsWith('ForAllValues:')) [set, op] = ['all', op.slice('ForAllValues:'.length)];
    const ifExists = op.endsWith('IfExists');
    if (ifExists) op = op.slice(0, -'IfExists'.length);
    const spec = operator(op);
    if (!spec || (ifExists && spec.family === 'Null')) throw malformed(`${where}: invalid condition operator ${rawOp.slice(0, 80)}.`);
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) throw malformed(`${where}: ${rawOp} must map condition keys to values.`);
    for (const [rawKey, rawValues] of Object.entries(entries as Record<string, unknown>)) {
      const values = (Array.isArray(rawValues) ? rawValues : [rawValues]).map((v) => (typeof v === 'boolean' || typeof v === 'number' ? String(v) : v));
      if (values.length === 0 || values.length > 1000 || values.some((v) => typeof v !== 'string')) throw malformed(`${where}: the values of ${rawOp} ${rawKey.slice(0, 80)} must be strings, numbers or booleans.`);
      tests.push(keyTest(spec, set, ifExists, rawKey.toLowerCase(), values as string[]));
    }
  }
  return (keys) => tests.every((t) => t(keys));
}

function keyTest(spec: OperatorSpec, set: 'any' | 'all' | undefined, ifExists: boolean, key: string, values: string[]): (keys: ContextKeys) => boolean {
  const substitutes = spec.family === 'String' || spec.family === 'Arn';
  return (keys) => {
    const request = keys.get(key);
    const present = request !== undefined && request.length > 0;
    if (spec.family === 'Null') return values.some((v) => (v.toLowerCase() === 'true' ? !present : present));
    if (!present) return ifExists || spec.negated || set === 'all';
    const policyValues = substitutes ? values.map((v) => substituteVariables(v, keys)).filter((v): v is string => v !== undefined) : values;
    // Does one request value match the (positive) operator against any policy value?
    const hits = (r: string): boolean => policyValues.some((v) => spec.match(r, v));
    const ok = (r: string): boolean => (spec.negated ? !hits(r) : hits(r));
    if (set === 'all') return request.every(ok);
    if (set === 'any') return request.some(ok);
    return spec.negated ? request.every(ok) : request.some(ok);
  };
}
