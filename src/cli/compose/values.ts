/**
 * The scalar and list values of a compose file as the Compose Specification reads them: ports
 * (short and long syntax, ranges), whole numbers, cpus, durations (`1m30s`), byte sizes (`512m`)
 * and commands (a string split as a shell would, without expansion). Each throws ComposeError
 * naming the key path.
 */
import { ComposeError } from './interpolate.js';

type Obj = Record<string, unknown>;

/** A published or exposed port of a service (long syntax). */
export interface ComposePort {
  target: number;
  published?: number;
  protocol: 'tcp' | 'udp';
  host_ip?: string;
  app_protocol?: string;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A list value (absent: empty). */
export function listOf(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ComposeError(`validating compose file: ${path} must be a list`);
  return v;
}

/** `"8080:80"`, `"127.0.0.1:8080:80/udp"`, `"80"`, `"9000-9001:9000-9001"`, or the long syntax. */
export function parsePort(p: unknown, path: string): ComposePort[] {
  if (isObj(p)) {
    const target = portNumber(p.target, `${path}.target`);
    const published = p.published === undefined || p.published === '' ? undefined : portNumber(p.published, `${path}.published`);
    const protocol = String(p.protocol ?? 'tcp');
    if (protocol !== 'tcp' && protocol !== 'udp') throw new ComposeError(`${path}.protocol must be tcp or udp`);
    return [{ target, published, protocol, host_ip: p.host_ip === undefined ? undefined : String(p.host_ip), app_protocol: p.app_protocol === undefined ? undefined : String(p.app_protocol) }];
  }
  if (typeof p !== 'string' && typeof p !== 'number') throw new ComposeError(`validating compose file: ${path} must be a string, number or mapping`);
  let s = String(p);
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    const proto = s.slice(slash + 1);
    if (proto !== 'tcp' && proto !== 'udp') throw new ComposeError(`invalid proto: ${proto}`);
    protocol = proto;
    s = s.slice(0, slash);
  }
  const parts = s.split(':');
  if (parts.length > 3) throw new ComposeError(`invalid port "${String(p)}" (${path}): expected [[ip:]published:]target`);
  const targetPart = parts[parts.length - 1]!;
  const publishedPart = parts.length >= 2 ? parts[parts.length - 2]! : '';
  const host_ip = parts.length === 3 ? parts[0] : undefined;
  const range = (r: string): [number, number] => {
    const [a, b] = r.split('-');
    const lo = portNumber(a, path);
    const hi = b === undefined ? lo : portNumber(b, path);
    if (hi < lo || hi - lo > 1000) throw new ComposeError(`invalid port range: ${r}`);
    return [lo, hi];
  };
  const [tLo, tHi] = range(targetPart);
  const pub = publishedPart ? range(publishedPart) : undefined;
  if (pub && pub[1] - pub[0] !== tHi - tLo && pub[0] !== pub[1]) throw new ComposeError(`invalid port range: ${publishedPart}:${targetPart} (the ranges must have the same size)`);
  const out: ComposePort[] = [];
  for (let t = tLo; t <= tHi; t++) out.push({ target: t, published: pub ? (pub[0] === pub[1] ? pub[0] : pub[0] + (t - tLo)) : undefined, protocol, ...(host_ip ? { host_ip } : {}) });
  return out;
}

/** A port number 1-65535. */
export function portNumber(v: unknown, path: string): number {
  const n = Number(v);
  if (v === undefined || v === '' || !Number.isInteger(n) || n < 1 || n > 65535) throw new ComposeError(`${path}: invalid port "${String(v)}"`);
  return n;
}

/** A whole number from 0 to 1,000,000. */
export function wholeNumber(v: unknown, path: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new ComposeError(`validating compose file: ${path} must be a whole number`);
  return n;
}

/** A positive number of cpus (at most 1024). */
export function positive(v: unknown, path: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1024) throw new ComposeError(`${path}: invalid number of cpus "${String(v)}"`);
  return n;
}

/** A compose duration (`1m30s`, `500ms`, `2h`; a number is seconds) in seconds. */
export function durationS(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  const s = String(v).trim();
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let i = 0;
  let total = 0;
  if (!s || s.length > 64) throw new ComposeError(`${path}: invalid duration "${s}"`);
  while (i < s.length) {
    let j = i;
    while (j < s.length && /[0-9.]/.test(s[j]!)) j++;
    let k = j;
    while (k < s.length && !/[0-9.]/.test(s[k]!)) k++;
    const n = Number(s.slice(i, j));
    const unit = units[s.slice(j, k)];
    if (j === i || !Number.isFinite(n) || unit === undefined) throw new ComposeError(`${path}: invalid duration "${s}": use a number with a unit (ms, s, m, h), e.g. 1m30s`);
    total += n * unit;
    i = k;
  }
  return total;
}

/** A byte size (`512m`, `1g`, `1024k`, `1gb`, a number of bytes) in MiB, rounded up. */
export function bytesMiB(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim().toLowerCase();
  let j = 0;
  while (j < s.length && /[0-9.]/.test(s[j]!)) j++;
  const n = Number(s.slice(0, j));
  const unit = s.slice(j).replace(/b$/, '').replace(/i$/, '');
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  if (j === 0 || !Number.isFinite(n) || mult[unit] === undefined) throw new ComposeError(`${path}: invalid size "${String(v)}": use bytes or a number with b, k, m or g`);
  return Math.ceil((n * mult[unit]!) / 1024 ** 2);
}

/** A command: a list as is, a string split as a shell would (quotes and backslashes, no expansion). */
export function commandOf(v: unknown, path: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(String);
  if (typeof v !== 'string') throw new ComposeError(`validating compose file: ${path} must be a string or a list`);
  const out: string[] = [];
  let cur = '';
  let started = false;
  let quote: string | undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < v.length && '"\\$`'.includes(v[i + 1]!)) cur += v[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      started = true;
    } else if (c === '\\' && i + 1 < v.length) {
      cur += v[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(cur);
      cur = '';
      started = false;
    } else {
      cur += c;
      started = true;
    }
  }
  if (quote) throw new ComposeError(`${path}: unterminated quote in "${v}"`);
  if (started) out.push(cur);
  return out;
}
