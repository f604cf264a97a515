/**
 * Compiling the ELBv2 records into an HAProxy configuration (the first piece of the
 * HAProxy-driven plane of issue 19): the same snapshot the embedded plane compiles, the same
 * resolved settings (./../compile.ts `compileTable`), as one `haproxy.cfg` text. Pure.
 *
 * Mapping:
 * - each HTTP listener is a `frontend` bound to its port; when every rule and the default
 *   forward to one group, rules are `use_backend <group> if <conditions>` in priority order and
 *   the default is `default_backend` (no per-request variables: see `frontendRoutes`); else
 *   rules are evaluated in priority order by setting `txn.route` to the first rule whose
 *   conditions all hold (each condition an ACL: its values ORed, as on ALB), then the route's
 *   action runs: `http-request return` (fixed response), `http-request redirect` (redirect,
 *   ALB's #{...} placeholders as sample fetches) or `use_backend` (forward; a weighted forward
 *   to several groups picks by `rand`).
 * - conditions: host-header (`req.hdr(host)` without its port, case-insensitive), path-pattern
 *   (`path`), http-header (`req.hdr(<name>)`), http-request-method (`method`), query-string
 *   (`url_param(<key>)`, or the whole query for value-only pairs) and source-ip (`src`).
 *   Wildcards: `*`/`?` become anchored regular expressions (`-m reg`); values without them are
 *   exact matches (`-m str`).
 * - each target group is a `backend`: algorithm (roundrobin, leastconn, random), ALB's health
 *   check (`option httpchk`, path, interval, timeout, thresholds as `rise`/`fall`, the matcher as
 *   `http-check expect rstatus`), `lb_cookie` stickiness as the `AWSALB` cookie, slow start;
 *   each target a `server` named by a stable hash of its identity (so the runtime API can
 *   address it); draining targets are in `drain` state (no new requests).
 * - X-Forwarded-For/-Proto/-Port are set; the idle timeout bounds client and server.
 * - a request with a streamed body (over BUFFERED_BODY_BYTES or chunked: `txn.streamed`, the
 *   frontend's only variable besides routing's) gets its answer with `Connection: close`, as on
 *   the embedded plane, so no request of the client waits behind an upload the target did not read.
 *
 * Every user-supplied string (values, paths, bodies, header names) is written inside double
 * quotes with every byte outside a small safe set as `\xHH`, so nothing a record holds can end a
 * line, open a comment or expand a variable in the configuration.
 *
 * - an HTTPS listener binds with `ssl crt-list <file>` (`tlsBindOptions`: its certificates, the
 *   default first, picked by SNI; its policy's versions and ciphers; ALPN h2 and http/1.1).
 *
 * Not yet mapped (see the report of issue 19): target group stickiness (`AWSALBTG`) of weighted forwards, `weighted_random`, WebSocket and
 * the hardening bounds of the embedded plane (path normalization, per-client limits).
 */
import { createHash } from 'node:crypto';
import type * as ELB from '../../generated/elbv2.js';
import type { Elbv2Snapshot } from '../../domain/elbv2/snapshot.js';
import { compileTable, type CompiledGroup, type CompiledTarget } from '../compile.js';
import { policyTls } from '../tls.js';
import { BUFFERED_BODY_BYTES } from '../messages.js';

/** Where HAProxy binds and keeps its sockets, and how long a health-check "second" lasts. */
export interface HaproxyConfigOptions {
  bindHost: string;
  /** The runtime API socket (stats, server state, weights). */
  adminSocket: string;
  /** Real ms in one health-check "second" (LbOptions.secondMs). */
  secondMs: number;
  /**
   * When given, health is Berth's (the control plane's checker): no HAProxy checks are compiled
   * and a target this answers false for starts `disabled` (maintenance); the HAProxy plane
   * (./plane.ts) then sets each server's state through the runtime API as health changes.
   * Without it, HAProxy checks its targets itself with ALB's settings.
   */
  serverReady?: (t: CompiledTarget) => boolean;
  /** Listener ports left out (their port could not be bound). */
  skipPorts?: ReadonlySet<number>;
  /** HTTPS listeners' crt-list files by port (./secrets.ts); an HTTPS listener without one is left out. */
  crtLists?: ReadonlyMap<number, string>;
}

/**
 * An HTTPS listener's `bind` options: its crt-list (the default certificate first, the others
 * chosen by SNI), HTTP/2 and HTTP/1.1 by ALPN (as ALB and the embedded plane offer), and its security
 * policy's versions and ciphers (TLS 1.3 suites as `ciphersuites`).
 */
export function tlsBindOptions(crtList: string, sslPolicy: string): string {
  const p = policyTls(sslPolicy);
  const names = p.ciphers.split(':').filter((c) => /^[A-Za-z0-9_-]+$/.test(c));
  const tls13 = names.filter((c) => c.startsWith('TLS_'));
  const tls12 = names.filter((c) => !c.startsWith('TLS_'));
  const parts = [`ssl crt-list ${quote(crtList)}`, 'alpn h2,http/1.1', `ssl-min-ver ${p.minVersion}`, `ssl-max-ver ${p.maxVersion}`];
  if (tls12.length) parts.push(`ciphers ${tls12.join(':')}`);
  if (tls13.length) parts.push(`ciphersuites ${tls13.join(':')}`);
  return parts.join(' ');
}

/** A quoted configuration word: every byte outside [A-Za-z0-9 ._/:,=-] as `\xHH`. */
export function quote(s: string): string {
  let out = '"';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._/:,=-]/.test(c) ? c : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out + '"';
}

/** An ALB wildcard value (`*`, `?`) as an anchored regular expression; undefined when it has none. */
export function wildcardRegex(v: string): string | undefined {
  if (!/[*?]/.test(v)) return undefined;
  let re = '^';
  for (const ch of v) re += ch === '*' ? '.*' : ch === '?' ? '.' : /[A-Za-z0-9]/.test(ch) ? ch : `\\${ch}`;
  return re + '$';
}

/** An ACL matching `fetch` against ALB values (ORed): exact words and/or wildcard regexes. */
function matchAcl(name: string, fetch: string, values: readonly string[], caseless: boolean): string[] {
  const i = caseless ? ' -i' : '';
  const exact = values.filter((v) => !wildcardRegex(v));
  const regs = values.map(wildcardRegex).filter((r): r is string => r !== undefined);
  const lines: string[] = [];
  if (exact.length) lines.push(`  acl ${name} ${fetch}${i} -m str ${exact.map(quote).join(' ')}`);
  if (regs.length) lines.push(`  acl ${name} ${fetch}${i} -m reg ${regs.map(quote).join(' ')}`);
  // No value can match: an ACL that never holds.
  if (!lines.length) lines.push(`  acl ${name} always_false`);
  return lines;
}

/** The ACL lines of one condition (named `name`). */
function conditionAcl(name: string, c: ELB.RuleCondition): string[] {
  switch (c.Field) {
    case 'host-header':
      return matchAcl(name, 'req.hdr(host),field(1,:)', c.HostHeaderConfig?.Values ?? c.Values ?? [], true);
    case 'path-pattern':
      return matchAcl(name, 'path', c.PathPatternConfig?.Values ?? c.Values ?? [], false);
    case 'http-header': {
      const header = (c.HttpHeaderConfig?.HttpHeaderName ?? '').toLowerCase();
      if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(header)) return [`  acl ${name} always_false`];
      return matchAcl(name, `req.hdr(${header})`, c.HttpHeaderConfig?.Values ?? [], true);
    }
    case 'http-request-method': {
      const methods = (c.HttpRequestMethodConfig?.Values ?? []).filter((m) => /^[A-Z_-]+$/.test(m));
      return methods.length ? [`  acl ${name} method ${methods.join(' ')}`] : [`  acl ${name} always_false`];
    }
    case 'query-string': {
      const lines: string[] = [];
      for (const kv of c.QueryStringConfig?.Values ?? []) {
        const value = kv.Value ?? '*';
        if (kv.Key !== undefined && /^[A-Za-z0-9._~-]+$/.test(kv.Key)) {
          lines.push(...matchAcl(name, `url_param(${kv.Key})`, [value], true).filter((l) => !l.includes('always_false')));
        } else {
          // Any key: the value as one of the query's `k=v` parts.
          const re = (wildcardRegex(value) ?? `^${value.replace(/[^A-Za-z0-9]/g, (ch) => `\\${ch}`)}$`).slice(1, -1);
          lines.push(`  acl ${name} query -i -m reg ${quote(`(^|&)[^=&]*=${re}(&|$)`)}`);
        }
      }
      return lines.length ? lines : [`  acl ${name} always_false`];
    }
    case 'source-ip': {
      const cidrs = (c.SourceIpConfig?.Values ?? []).filter((v) => /^[0-9a-fA-F.:]+\/\d{1,3}$/.test(v));
      return cidrs.length ? [`  acl ${name} src ${cidrs.join(' ')}`] : [`  acl ${name} always_false`];
    }
    default:
      return [`  acl ${name} always_false`];
  }
}

/** A stable server name for a target registration (the runtime API addresses servers by it). */
export function serverName(t: Pick<CompiledTarget, 'identity'>): string {
  return 't' + createHash('sha256').update(t.identity).digest('hex').slice(0, 16);
}

/** A stable backend name for a target group. */
export function backendName(tgArn: string): string {
  return 'tg_' + createHash('sha256').update(tgArn).digest('hex').slice(0, 16);
}

/**
 * ALB's redirect (#{protocol}, #{host}, #{port}, #{path} without its leading slash, #{query}) as
 * an HAProxy log-format location. A `?` with nothing after it is left when the query is empty.
 */
function redirectLocation(cfg: ELB.RedirectActionConfig, listenerPort: number, scheme: 'http' | 'https'): string {
  const sub = (s: string) =>
    s
      .replace(/%/g, '%%')
      .replace(/#\{protocol\}/g, scheme)
      .replace(/#\{host\}/g, '%[req.hdr(host),field(1,:)]')
      .replace(/#\{port\}/g, String(listenerPort))
      .replace(/#\{path\}/g, '%[path,regsub(^/,)]')
      .replace(/#\{query\}/g, '%[query]');
  const protocol = cfg.Protocol ?? '#{protocol}';
  const proto = protocol === '#{protocol}' ? scheme : protocol.toLowerCase();
  const port = cfg.Port ?? '#{port}';
  const effectivePort = port === '#{port}' ? String(listenerPort) : port;
  const portPart = (proto === 'http' && effectivePort === '80') || (proto === 'https' && effectivePort === '443') ? '' : `:${sub(port)}`;
  const query = cfg.Query ?? '#{query}';
  return `${proto}://${sub(cfg.Host ?? '#{host}')}${portPart}${sub(cfg.Path ?? '/#{path}')}${query ? `?${sub(query)}` : ''}`;
}

function backendLines(g: CompiledGroup, opts: HaproxyConfigOptions, idleMs: number): string[] {
  const lines = [`backend ${backendName(g.arn)}`, `  # ${g.arn.replace(/[^\x20-\x7e]/g, '?')}`];
  lines.push(`  balance ${g.algorithm === 'least_outstanding_requests' ? 'leastconn' : g.algorithm === 'weighted_random' ? 'random' : 'roundrobin'}`);
  lines.push(`  timeout server ${Math.max(1, idleMs)}ms`);
  const hc = opts.serverReady ? undefined : g.healthCheck;
  if (hc && g.inUse) {
    lines.push('  option httpchk');
    lines.push(`  http-check send meth GET uri ${quote(hc.path)} ver HTTP/1.1 hdr Host elb-healthchecker hdr User-Agent ELB-HealthChecker/2.0`);
    // Matchers are "200", "200,302" or "200-299" (validated by the API).
    const alternatives: string[] = [];
    for (let s = 100; s <= 599; s++) if (hc.matches(s)) alternatives.push(String(s));
    lines.push(`  http-check expect rstatus ${quote(`^(${alternatives.join('|') || '000'})$`)}`);
    lines.push(`  timeout check ${Math.max(1, hc.timeoutSeconds * opts.secondMs)}ms`);
  }
  if (g.stickinessMs > 0) lines.push(`  cookie AWSALB insert indirect nocache maxlife ${Math.max(1, Math.round(g.stickinessMs / 1000))}s`);
  for (const t of g.targets) {
    const line = serverLine(g, t, opts);
    if (line) lines.push(`  server ${line}`);
  }
  return lines;
}

/**
 * A target's `server` line without the keyword (`<name> <addr>:<port> <options>`), as the
 * configuration and the runtime API's `add server` take it; undefined for an address HAProxy
 * cannot take.
 */
export function serverLine(g: CompiledGroup, t: CompiledTarget, opts: HaproxyConfigOptions): string | undefined {
  const hc = opts.serverReady ? undefined : g.healthCheck;
  {
    const address = t.id.includes(':') ? `[${t.id}]` : t.id;
    if (!/^[A-Za-z0-9.:[\]-]+$/.test(address)) return undefined;
    const parts = [`${serverName(t)} ${address}:${t.port}`];
    if (hc && g.inUse && !t.draining) {
      parts.push('check', `inter ${Math.max(1, hc.intervalSeconds * opts.secondMs)}ms`, `rise ${hc.healthyThreshold}`, `fall ${hc.unhealthyThreshold}`);
      if (hc.port) parts.push(`port ${hc.port}`);
      if (hc.protocol === 'HTTPS') parts.push('check-ssl', 'verify none');
    }
    if (g.tls) parts.push('ssl', 'verify none');
    if (g.slowStartMs > 0) parts.push(`slowstart ${g.slowStartMs}ms`);
    if (g.stickinessMs > 0) parts.push(`cookie ${serverName(t)}`);
    if (t.draining || (opts.serverReady && !opts.serverReady(t))) parts.push('disabled');
    return parts.join(' ');
  }
}

/** What a route (a rule, or the listener's default) does, resolved against the table. */
type RouteAction =
  | { kind: 'backend'; groups: string[] }
  | { kind: 'weighted'; groups: string[]; weights: number[] }
  | { kind: 'return'; groups: []; line: string }
  | { kind: 'redirect'; groups: []; cfg: ELB.RedirectActionConfig };

interface Route {
  name: string;
  conditions: readonly ELB.RuleCondition[];
  action: RouteAction;
}

/** The first action of a rule or default as a `RouteAction` (503 for a forward with no usable group). */
function routeAction(actions: readonly ELB.Action[] | undefined, table: ReturnType<typeof compileTable>): RouteAction {
  const a = actions?.[0];
  if (a?.Type === 'fixed-response' && a.FixedResponseConfig) {
    const f = a.FixedResponseConfig;
    const status = Number(f.StatusCode);
    const body = f.MessageBody ?? '';
    return { kind: 'return', groups: [], line: `http-request return status ${status >= 200 && status <= 599 ? status : 503} content-type ${quote(f.ContentType ?? 'text/plain')}${body ? ` string ${quote(body)}` : ''} hdr Server awselb/2.0` };
  }
  if (a?.Type === 'redirect' && a.RedirectConfig) return { kind: 'redirect', groups: [], cfg: a.RedirectConfig };
  const tuples = a?.Type === 'forward' ? (a.ForwardConfig?.TargetGroups ?? (a.TargetGroupArn ? [{ TargetGroupArn: a.TargetGroupArn, Weight: 1 }] : [])) : [];
  const usable = tuples.filter((t) => t.TargetGroupArn && table.groups.has(t.TargetGroupArn) && (t.Weight ?? 1) > 0);
  if (usable.length === 0) return { kind: 'return', groups: [], line: 'http-request return status 503 content-type text/html hdr Server awselb/2.0' };
  const groups = usable.map((t) => t.TargetGroupArn!);
  return usable.length === 1 ? { kind: 'backend', groups } : { kind: 'weighted', groups, weights: usable.map((t) => t.Weight ?? 1) };
}

/**
 * A frontend's routing lines. When every rule forwards to one target group and so does the
 * default, routing is plain `use_backend <b> if <conditions>` in priority order and a
 * `default_backend`: no per-request work beyond the conditions of the rules before the match
 * (the common case, and the only one with no rules at all). Otherwise (fixed responses,
 * redirects and weighted forwards run as `http-request` actions, which HAProxy evaluates before
 * any `use_backend`) the first matching rule is recorded in `txn.route` and each action runs
 * only for its own route; a default forward is still the `default_backend`.
 */
function frontendRoutes(routes: Route[], defaultRoute: Route, port: number, scheme: 'http' | 'https'): string[] {
  const out: string[] = [];
  const aclsOf = (route: Route): string => {
    const names = route.conditions.map((c, j) => {
      const acl = `${route.name}_c${j}`;
      out.push(...conditionAcl(acl, c));
      return acl;
    });
    return names.join(' ') || 'TRUE';
  };
  const lean = defaultRoute.action.kind === 'backend' && routes.every((r) => r.action.kind === 'backend');
  if (lean) {
    for (const route of routes) {
      const acls = aclsOf(route);
      out.push(`  use_backend ${backendName(route.action.groups[0]!)} if ${acls}`);
    }
    out.push(`  default_backend ${backendName(defaultRoute.action.groups[0]!)}`);
    return out;
  }
  for (const route of routes) out.push(`  http-request set-var(txn.route) str(${route.name}) if ${aclsOf(route)} !{ var(txn.route) -m found }`);
  for (const route of [...routes, defaultRoute]) {
    const when = route === defaultRoute ? 'if !{ var(txn.route) -m found }' : `if { var(txn.route) -m str ${route.name} }`;
    const a = route.action;
    if (a.kind === 'return') out.push(`  ${a.line} ${when}`);
    else if (a.kind === 'redirect') out.push(`  http-request redirect location ${quote(redirectLocation(a.cfg, port, scheme))} code ${a.cfg.StatusCode === 'HTTP_301' ? 301 : 302} ${when}`);
    else if (a.kind === 'backend') {
      if (route === defaultRoute) out.push(`  default_backend ${backendName(a.groups[0]!)}`);
      else out.push(`  use_backend ${backendName(a.groups[0]!)} ${when}`);
    } else {
      // Weighted: one draw per request, ranges by weight.
      const total = a.weights.reduce((n, w) => n + w, 0);
      out.push(`  http-request set-var(txn.draw) rand(${total}) ${when}`);
      let low = 0;
      a.groups.forEach((g, i) => {
        const high = low + a.weights[i]!;
        out.push(`  use_backend ${backendName(g)} ${when} { var(txn.draw) -m int ge ${low} } { var(txn.draw) -m int lt ${high} }`);
        low = high;
      });
    }
  }
  return out;
}

/** The HAProxy configuration of one snapshot (see the module doc). */
export function haproxyConfig(snapshot: Elbv2Snapshot, opts: HaproxyConfigOptions): string {
  const table = compileTable(snapshot, 0);
  const rulesByListener = new Map<string, Array<(typeof snapshot.rules)[number]>>();
  for (const r of snapshot.rules) (rulesByListener.get(r.listenerArn) ?? rulesByListener.set(r.listenerArn, []).get(r.listenerArn)!).push(r);
  const out: string[] = [
    'global',
    `  stats socket ${quote(opts.adminSocket)} mode 600 level admin expose-fd listeners`,
    '  maxconn 4000',
    '',
    'defaults',
    '  mode http',
    '  option http-keep-alive',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 60s',
    '',
  ];
  const idleOfGroup = new Map<string, number>();
  for (const l of table.listeners.values()) {
    if (opts.skipPorts?.has(l.port)) {
      out.push(`# listener ${l.port}: its port could not be bound`, '');
      continue;
    }
    const crtList = opts.crtLists?.get(l.port);
    if (l.protocol === 'HTTPS' && !crtList) {
      out.push(`# listener ${l.port}: its certificates are not available`, '');
      continue;
    }
    const host = opts.bindHost.includes(':') ? `[${opts.bindHost}]` : opts.bindHost;
    const scheme = l.protocol === 'HTTPS' ? 'https' : 'http';
    out.push(`frontend l_${l.port}`, `  bind ${host}:${l.port}${crtList ? ` ${tlsBindOptions(crtList, l.sslPolicy)}` : ''}`, `  timeout client ${l.idleMs}ms`, `  timeout http-request ${l.idleMs}ms`);
    out.push('  option forwardfor', `  http-request set-header X-Forwarded-Proto ${scheme}`, `  http-request set-header X-Forwarded-Port ${l.port}`);
    // A streamed upload (a body the embedded plane would not read whole first) ends its client
    // connection with the answer, as on the embedded plane: a target that answers without reading
    // the body (413 to an upload) would otherwise keep the connection, and a client that reuses it
    // waits behind the unread rest of the body (HAProxy still forwards it to the target).
    out.push(`  http-request set-var(txn.streamed) bool(true) if { req.hdr_val(content-length) gt ${BUFFERED_BODY_BYTES} } || { req.hdr(transfer-encoding) -m found }`);
    out.push('  http-response set-header Connection close if { var(txn.streamed) -m bool }');
    const rules = [...(rulesByListener.get(l.arn) ?? [])].sort((a, b) => a.priority - b.priority);
    const defaultActions = snapshot.listeners.find((x) => x.arn === l.arn)?.defaultActions;
    const routes: Route[] = rules.map((r, i) => ({ name: `r${i}`, conditions: r.conditions ?? [], action: routeAction(r.actions, table) }));
    const defaultRoute: Route = { name: 'default', conditions: [], action: routeAction(defaultActions, table) };
    for (const route of [...routes, defaultRoute]) for (const g of route.action.groups) idleOfGroup.set(g, Math.max(idleOfGroup.get(g) ?? 0, l.idleMs));
    out.push(...frontendRoutes(routes, defaultRoute, l.port, scheme));
    out.push('');
  }
  for (const g of table.groups.values()) out.push(...backendLines(g, opts, idleOfGroup.get(g.arn) ?? 60_000), '');
  return out.join('\n');
}
