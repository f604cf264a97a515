/**
 * What the load balancer writes besides the target's answer, as pure helpers of the proxy
 * (./proxy.ts): the hop-by-hop header sets, ALB's error pages, the forwarded headers
 * (X-Forwarded-For/-Proto), the `Connection` tokens of a request, cookies, rule matching order
 * and redirect locations.
 */
import type { IncomingMessage } from 'node:http';
import type * as ELB from '../generated/elbv2.js';
import type { CompiledListener, RouteAction } from './compile.js';
import type { RequestView } from './match.js';

/** Response headers that belong to one hop (their lengths, 10 and 17, are pre-checked on the hot path). */
export const SKIP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding']);
/** Request headers that belong to one hop (not forwarded to the target). */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'expect', 'proxy-authorization']);

/** ALB's HTML error page for a status. */
function elbPage(status: number, text: string): string {
  return `<html>\r\n<head><title>${status} ${text}</title></head>\r\n<body>\r\n<center><h1>${status} ${text}</h1></center>\r\n</body>\r\n</html>\r\n`;
}
/** Reason phrases of the client errors the load balancer answers itself. */
export const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };
/** The error pages the load balancer answers with, by status. */
export const ELB_PAGES: Record<number, Buffer> = {
  400: Buffer.from(elbPage(400, 'Bad Request')),
  408: Buffer.from(elbPage(408, 'Request Timeout')),
  431: Buffer.from(elbPage(431, 'Request Header Fields Too Large')),
  502: Buffer.from(elbPage(502, 'Bad Gateway')),
  503: Buffer.from(elbPage(503, 'Service Temporarily Unavailable')),
  504: Buffer.from(elbPage(504, 'Gateway Time-out')),
};

/** Request bodies up to this size are read whole before the request is forwarded. */
export const BUFFERED_BODY_BYTES = 256 * 1024;

/** The action of the first rule that matches (rules in priority order), else the default. */
export function route(l: CompiledListener, view: RequestView): RouteAction {
  for (const r of l.rules) if (r.match(view)) return r.action;
  return l.defaultAction;
}

/** The header names a client lists in `Connection` (hop-by-hop for this one request), lower case. */
export function connectionTokens(v: string | string[] | undefined): Set<string> | undefined {
  if (v === undefined) return undefined;
  const out = new Set<string>();
  for (const part of (Array.isArray(v) ? v.join(',') : v).split(',')) {
    const t = part.trim().toLowerCase();
    if (t && t !== 'keep-alive' && t !== 'close') out.add(t);
  }
  return out.size ? out : undefined;
}

/** X-Forwarded-For as the target sees it: the client's chain, then the client's address. */
export function forwardedFor(req: IncomingMessage): string {
  const addr = req.socket.remoteAddress ?? '';
  const client = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  const xff = req.headers['x-forwarded-for'];
  return xff ? `${xff}, ${client}` : client;
}

/** X-Forwarded-Proto: the listener's scheme. */
export function forwardedProto(l: CompiledListener): string {
  return l.protocol === 'HTTPS' ? 'https' : 'http';
}

/** A cookie's value in a Cookie header (at a cookie boundary), if present. */
export function cookieValue(header: string, name: string): string | undefined {
  const i = header.indexOf(`${name}=`);
  if (i < 0 || (i > 0 && header[i - 1] !== ' ' && header[i - 1] !== ';')) {
    // Not at a cookie boundary (e.g. AWSALBTG when looking for AWSALB): search on.
    const j = header.indexOf(`; ${name}=`);
    if (j < 0) return undefined;
    return header.slice(j + name.length + 3).split(';')[0];
  }
  const rest = header.slice(i + name.length + 1);
  const end = rest.indexOf(';');
  return end < 0 ? rest : rest.slice(0, end);
}

/** Fills ALB's `#{name}` placeholders in a redirect template (values taken literally). */
function fill(template: string, values: Record<string, string>): string {
  return template.replace(/#\{(protocol|host|port|path|query)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The Location of a redirect action for this request (ALB's placeholders filled, default ports left out). */
export function redirectLocation(cfg: ELB.RedirectActionConfig, l: CompiledListener, view: RequestView, path: string): string {
  const values = { protocol: l.protocol, host: view.host, port: String(l.port), path: path.slice(1), query: view.rawQuery };
  const proto = fill(cfg.Protocol ?? '#{protocol}', values).toLowerCase();
  const host = fill(cfg.Host ?? '#{host}', values);
  const port = fill(cfg.Port ?? '#{port}', values);
  const target = fill(cfg.Path ?? '/#{path}', values);
  const query = fill(cfg.Query ?? '#{query}', values);
  const defaultPort = (proto === 'https' && port === '443') || (proto === 'http' && port === '80');
  return `${proto}://${host}${defaultPort ? '' : `:${port}`}${target}${query ? `?${query}` : ''}`;
}
