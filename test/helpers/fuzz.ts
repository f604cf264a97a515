/**
 * A seeded fuzzer for Berth's edges, shared by the test suite (a few thousand cases, fixed seed)
 * and bench/fuzz.ts (tens of thousands). It generates requests from the services' own models
 * (every operation Berth handles, every member typed as the model says), then breaks them: a
 * member of the wrong type, an out-of-range number, a string too long or full of path and
 * pattern metacharacters, a required member gone, an unknown one added, the body truncated or
 * not JSON at all, the wrong content type or target. Each request is signed (so it reaches the
 * decoders and handlers, not just the signature check) and sent over loopback HTTP, one at a
 * time, and judged:
 *
 * - 5xx: a client mistake must be a 4xx (any 5xx is counted, with an example);
 * - hang: no answer within the deadline;
 * - state change: the store's revision moved although the request was refused;
 * - crash: an uncaught exception or unhandled rejection in the process while the run lasted;
 * - malformed error: a 4xx whose body is not an AWS error of the protocol (JSON `__type`, XML `<Code>`).
 *
 * The load balancer's HTTP parser gets raw bytes on a socket: valid requests cut, spliced and
 * sprinkled with control characters, conflicting lengths, broken chunking, odd request targets.
 */
import { connect } from 'node:net';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, RegisterContainerInstanceCommand } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateListenerCommand, RegisterTargetsCommand, ModifyLoadBalancerAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand } from '@aws-sdk/client-cloudwatch-logs';
import { SSMClient, PutParameterCommand } from '@aws-sdk/client-ssm';
import { EC2Client, CreateVpcCommand, CreateSubnetCommand, CreateInternetGatewayCommand, CreateRouteTableCommand, CreateSecurityGroupCommand, AllocateAddressCommand } from '@aws-sdk/client-ec2';
import { startBackend, createTestTargetGroup, get, type Backend } from '../lb/backends.js';
import { freePort, eventually, type TestBerth } from './fixture.js';
import type { Berth } from '../../src/berth.js';
import { signRequest } from '../../src/protocol/sigv4.js';
import type { Shape, ShapeRef } from '../../src/protocol/modelShapes.js';
import { allServices, type ServiceDeps } from '../../src/services/index.js';
import type { ServiceDefinition } from '../../src/services/types.js';
import { REPLICA_KIND } from '../../src/domain/leases.js';

/** A small deterministic PRNG (mulberry32). */
export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** What one protocol's run found. */
export interface FuzzReport {
  protocol: string;
  tried: number;
  ok2xx: number;
  client4xx: number;
  server5xx: number;
  /** Connections the server closed without an answer (fine for unparseable HTTP, counted apart). */
  closed: number;
  hangs: number;
  crashes: number;
  stateChanges: number;
  malformedErrors: number;
  /** Up to 5 examples of each kind of finding, for a person to reproduce. */
  examples: string[];
}

function emptyReport(protocol: string): FuzzReport {
  return { protocol, tried: 0, ok2xx: 0, client4xx: 0, server5xx: 0, closed: 0, hangs: 0, crashes: 0, stateChanges: 0, malformedErrors: 0, examples: [] };
}

/** Whether a report shows no defect (the targets of issue 12: no crash, hang, 5xx or state change from a refused request). */
export function clean(r: FuzzReport): boolean {
  return r.server5xx === 0 && r.hangs === 0 && r.crashes === 0 && r.stateChanges === 0 && r.malformedErrors === 0;
}

/** Values that tend to break parsers, validators and path handling. */
const NASTY_STRINGS = [
  '',
  ' ',
  '../../etc/passwd',
  '/x/../admin',
  '%2e%2e/%2F',
  '*',
  '?*?*?*?*?*',
  '(a+)+$',
  '\\',
  '"',
  "'",
  '${jndi:x}',
  '<Error>',
  ']]>',
  '\u0000',
  '\r\nX-Injected: 1',
  '\u{1F600}',
  '\uFEFF',
  'ﬃ',
  'İ',
  'null',
  '-1',
  '1e309',
  'arn:aws:ecs:us-east-1:000000000000:cluster/x',
  'arn:aws:ecs:*:*:task/*',
  'arn:',
  'default',
];
const NASTY_NUMBERS = [0, -1, 1, 2, 7, 100, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 2 ** 63, -(2 ** 63), 1e308, -1e308, 0.5, -0.0, 1e-300];

/** Generates inputs for one service's operations from its model, salted with real names. */
export class ModelInputs {
  constructor(
    private readonly svc: ServiceDefinition,
    private readonly rng: Rng,
    /**
     * Names and ARNs that exist, so some requests reach past "not found", by a hint matched
     * against member names: `{ cluster: ['default', <arn>] }` serves `cluster`, `clusterArn`...
     */
    private readonly known: Record<string, string[]>,
  ) {
    this.all = Object.values(known).flat();
  }
  private readonly all: string[];

  /** The operations Berth handles for this service. */
  operations(): string[] {
    return Object.keys(this.svc.handlers).filter((op) => this.svc.handlers[op] && this.svc.model.operations[op]);
  }

  /** A value for the operation's input, mostly well-typed. */
  input(op: string): Record<string, unknown> {
    const ref = this.svc.model.operations[op]!.input;
    if (!ref) return {};
    return (this.value(ref, 0, '') as Record<string, unknown>) ?? {};
  }

  private shape(ref: ShapeRef): Shape {
    return this.svc.model.shapes[ref.shape]!;
  }

  value(ref: ShapeRef, depth: number, member: string): unknown {
    const s = this.shape(ref);
    const r = this.rng;
    if (depth > 6) return undefined;
    switch (s.type) {
      case 'structure': {
        const out: Record<string, unknown> = {};
        for (const [name, m] of Object.entries(s.members ?? {})) {
          const required = s.required?.includes(name);
          if (!required && !r.chance(0.35)) continue;
          if (required && r.chance(0.03)) continue; // a required member missing
          const v = this.value(m, depth + 1, name);
          if (v !== undefined) out[name] = v;
        }
        return out;
      }
      case 'list': {
        const n = r.chance(0.05) ? 200 : r.int(3);
        return Array.from({ length: n }, () => this.value(s.member!, depth + 1, member)).filter((v) => v !== undefined);
      }
      case 'map': {
        const out: Record<string, unknown> = {};
        for (let i = r.int(3); i > 0; i--) out[String(this.value(s.key!, depth + 1, 'key') ?? `k${i}`)] = this.value(s.value!, depth + 1, member);
        return out;
      }
      case 'string':
        return this.string(s, member);
      case 'integer':
      case 'long':
        if (r.chance(0.6) && s.min !== undefined) return s.min + r.int(Math.max(1, Math.min(10, (s.max ?? s.min + 10) - s.min + 1)));
        return r.chance(0.5) ? r.int(10) : r.pick(NASTY_NUMBERS);
      case 'float':
      case 'double':
        return r.chance(0.5) ? r.next() * 100 : r.pick(NASTY_NUMBERS);
      case 'boolean':
        return r.chance(0.5);
      case 'timestamp':
        return r.pick([Date.now() / 1000, 0, -1, 253402300800, 1e12, 1.5]);
      case 'blob':
        return Buffer.from(this.string(s, member)).toString('base64');
    }
  }

  private string(s: Shape, member: string): string {
    const r = this.rng;
    if (s.enum && r.chance(0.8)) return r.pick(s.enum);
    const name = member.toLowerCase();
    const hinted = Object.entries(this.known).filter(([hint]) => name.includes(hint.toLowerCase())).flatMap(([, v]) => v);
    if (hinted.length && r.chance(0.75)) return r.pick(hinted);
    const roll = r.next();
    if (roll < 0.3 && this.all.length) return r.pick(this.all);
    if (roll < 0.6) return `fz-${r.int(1000)}`;
    if (roll < 0.85) return r.pick(NASTY_STRINGS);
    const n = r.pick([(s.max ?? 256) + 1, 1024, 65_537]);
    return r.pick(['a', '/', '%', '*', '\u00e9']).repeat(n);
  }
}

/** Breaks a well-typed value: a member of the wrong type, an unknown member, a number out of range, a nested bomb. */
export function mutateValue(rng: Rng, v: unknown, depth = 0): unknown {
  if (depth > 0 && rng.chance(0.15)) {
    return rng.pick<unknown>([null, 'str', 12, -1, 1e308, true, [], {}, [[[[[]]]]], { nested: { deeper: [1, 'x', null] } }, 'x'.repeat(70_000)]);
  }
  if (Array.isArray(v)) return v.map((x) => mutateValue(rng, x, depth + 1));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (rng.chance(0.05)) continue;
      out[k] = mutateValue(rng, x, depth + 1);
    }
    if (rng.chance(0.1)) out[rng.pick(['unknownMember', '__proto__', 'constructor', ''])] = rng.pick([1, 'x', {}]);
    return out;
  }
  return v;
}

/** A request body: usually JSON of the (mutated) input; sometimes not JSON at all. */
function jsonBody(rng: Rng, input: unknown): string {
  const text = JSON.stringify(input);
  const roll = rng.next();
  if (roll < 0.8) return text;
  if (roll < 0.84) return text.slice(0, rng.int(Math.max(1, text.length)));
  if (roll < 0.87) return '';
  if (roll < 0.9) return rng.pick(['null', '[]', '"x"', '1', 'true', '{"a":1,"a":2}', '{', '}{']);
  if (roll < 0.93) return '['.repeat(20_000) + ']'.repeat(20_000);
  if (roll < 0.96) return '{"a":' + '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_001);
  return text.replace(/"/g, rng.pick(['\u0000', "'", '\\']));
}

/** Flattens a value as the awsQuery protocol serializes it (`List.member.1`, `Map.entry.1.key`). */
function queryParams(prefix: string, v: unknown, out: Array<[string, string]>): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => queryParams(`${prefix}.member.${i + 1}`, x, out));
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) queryParams(prefix ? `${prefix}.${k}` : k, x, out);
  } else if (v !== undefined) {
    out.push([prefix, v === null ? '' : String(v)]);
  }
}

/**
 * Flattens a value as EC2's protocol serializes it: members by their capitalized `locationName`
 * (`Filter`, `VpcId`), lists as `Name.N` without `.member.`. Walks the shape where the (possibly
 * mutated) value still follows it, and keeps a stray key as it is where it does not.
 */
function ec2Params(model: ServiceDefinition['model'], shapeName: string | undefined, prefix: string, v: unknown, out: Array<[string, string]>): void {
  const s = shapeName ? model.shapes[shapeName] : undefined;
  if (Array.isArray(v)) {
    v.forEach((x, i) => ec2Params(model, s?.type === 'list' ? s.member!.shape : undefined, `${prefix}.${i + 1}`, x, out));
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const ref = s?.type === 'structure' ? s.members?.[k] : undefined;
      const n = ref ? (ref.locationName ?? k) : k;
      const key = n.charAt(0).toUpperCase() + n.slice(1);
      ec2Params(model, ref?.shape, prefix ? `${prefix}.${key}` : key, x, out);
    }
  } else if (v !== undefined) {
    out.push([prefix, v === null ? '' : String(v)]);
  }
}

/** One HTTP exchange with a deadline. */
async function send(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; text: string } | 'hang' | 'closed'> {
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, text: await res.text() };
  } catch (e) {
    const name = (e as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') return 'hang';
    return 'closed';
  }
}

/**
 * Whether anything but lease bookkeeping (leases renewed and the replica's heartbeat written
 * every few seconds by the replica itself, see src/domain/leases.ts) was written after `rev`.
 */
/** Whether anything but the leases (renewed on their own) was written after store revision `rev`. */
export async function stateChangedSince(berth: Berth, rev: number): Promise<boolean> {
  if ((await berth.platform.store.revision()) === rev) return false;
  return (await berth.platform.store.changes(rev)).some((c) => !c.kind.startsWith('berth.lease') && c.kind !== REPLICA_KIND);
}

/** Counts uncaught exceptions and unhandled rejections while `fn` runs. */
async function watchingCrashes<T>(fn: (crashes: () => number) => Promise<T>): Promise<T> {
  let n = 0;
  const onCrash = () => n++;
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  try {
    return await fn(() => n);
  } finally {
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  }
}

function note(r: FuzzReport, what: string): void {
  if (r.examples.length < 12) r.examples.push(what.length > 300 ? what.slice(0, 300) + '...' : what);
}

/** The service definitions, for their models and handler tables only (nothing is started). */
export function serviceDefinitions(): ServiceDefinition[] {
  return allServices({} as ServiceDeps);
}

export interface ApiFuzzOptions {
  berth: Berth;
  /** Service names (ServiceDefinition.name) to fuzz, all in one report. */
  services: string[];
  /** Report label. */
  protocol: string;
  cases: number;
  seed: number;
  /** Names and ARNs that exist in the server by member-name hint (see ModelInputs). */
  known: Record<string, string[]>;
  timeoutMs?: number;
  /** Changes a generated input before it is sent (e.g. to keep long polls short). */
  adjust?: (op: string, input: Record<string, unknown>) => void;
}

/** Fuzzes the awsJson, awsQuery or EC2-protocol services named; see the module doc for what is counted. */
export async function fuzzApi(o: ApiFuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(o.seed);
  const defs = serviceDefinitions().filter((d) => o.services.includes(d.name));
  const gens = defs.map((d) => ({ d, g: new ModelInputs(d, rng, o.known) })).map((x) => ({ ...x, ops: x.g.operations() }));
  const report = emptyReport(o.protocol);
  const url = new URL(o.berth.url + '/');
  const creds = o.berth.credentials;
  return watchingCrashes(async (crashes) => {
    for (let i = 0; i < o.cases; i++) {
      const { d, g, ops } = rng.pick(gens);
      const op = rng.chance(0.02) ? 'NoSuchOperation' : rng.pick(ops);
      const generated = op === 'NoSuchOperation' ? {} : g.input(op);
      o.adjust?.(op, generated);
      let input: unknown = generated;
      if (rng.chance(0.5)) input = mutateValue(rng, input);
      const json = d.protocol === 'json';
      let headers: Record<string, string>;
      let body: string;
      if (json) {
        body = jsonBody(rng, input);
        headers = { 'content-type': rng.chance(0.97) ? `application/x-amz-json-${d.model.metadata.jsonVersion ?? '1.1'}` : rng.pick(['text/plain', 'application/json', '']), 'x-amz-target': `${d.model.metadata.targetPrefix}.${op}` };
        if (rng.chance(0.02)) headers['x-amz-target'] = rng.pick(['', 'x', `${d.model.metadata.targetPrefix}.`, 'AmazonSSM.GetParameter', '.'.repeat(5000)]);
      } else {
        const params: Array<[string, string]> = [];
        if (d.protocol === 'ec2') ec2Params(d.model, d.model.operations[op]?.input?.shape, '', input, params);
        else queryParams('', input, params);
        if (rng.chance(0.05)) params.push([rng.pick(['Foo.member.999999999', 'A.member.1.member.1', 'Filter.999999999.Value.1', 'Filter.1.Value.99999999999999999999', '', '%zz']), 'x']);
        body = new URLSearchParams([['Action', op], ['Version', d.model.metadata.apiVersion], ...params]).toString();
        if (rng.chance(0.03)) body = body.replace(/=/g, rng.pick(['', '==', '%']));
        headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
      }
      const service = d.model.metadata.signingName ?? d.model.metadata.endpointPrefix;
      const signed = signRequest({ method: 'POST', url, headers, body, ...creds, region: 'us-east-1', service });
      delete signed.host;
      const before = await o.berth.platform.store.revision();
      const crashesBefore = crashes();
      const got = await send(url.href, signed, body, o.timeoutMs ?? 5000);
      report.tried++;
      const what = `${d.name}.${op} ${body.slice(0, 200)}`;
      if (got === 'hang') {
        report.hangs++;
        note(report, `hang: ${what}`);
        continue;
      }
      if (got === 'closed') {
        report.closed++;
        note(report, `closed: ${what}`);
        continue;
      }
      if (crashes() > crashesBefore) {
        report.crashes++;
        note(report, `crash: ${what}`);
      }
      if (got.status >= 500) {
        report.server5xx++;
        note(report, `${got.status}: ${what} -> ${got.text.slice(0, 200)}`);
      } else if (got.status >= 400) {
        report.client4xx++;
        const shaped = json ? /"__type"\s*:/.test(got.text) : /<Code>[^<]+<\/Code>/.test(got.text);
        if (!shaped && got.status !== 413) {
          report.malformedErrors++;
          note(report, `malformed ${got.status}: ${what} -> ${got.text.slice(0, 200)}`);
        }
        if (await stateChangedSince(o.berth, before)) {
          report.stateChanges++;
          note(report, `state changed by a refused request (${got.status}): ${what} -> ${got.text.slice(0, 200)}`);
        }
      } else {
        report.ok2xx++;
      }
    }
    return report;
  });
}

/** Valid raw requests the HTTP mutations start from. */
const HTTP_SEEDS = [
  'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /api/users?id=1&x=%20 HTTP/1.1\r\nHost: app.example.com\r\nCookie: AWSALB=abc; a=b\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: close\r\n\r\n',
  'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
  'POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET http://x/abs/../path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /keep HTTP/1.1\r\nHost: x\r\n\r\nGET /alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
];
const HTTP_SPLICES = [
  '\r\n',
  '\n',
  '\r',
  '\u0000',
  ' ',
  '\t',
  ':',
  'Content-Length: 3\r\n',
  'Content-Length: -1\r\n',
  'Content-Length: 99999999999999999999\r\n',
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: gzip, chunked\r\n',
  'Connection: close, X-Secret\r\n',
  'Host: a\r\nHost: b\r\n',
  'Expect: 100-continue\r\n',
  'Upgrade: h2c\r\n',
  'X-Big: ' + 'a'.repeat(20_000) + '\r\n',
  'ffffffffffffffff\r\n',
  '/../..',
  '%',
  '%2e%2e',
  '\u00ff',
  'HTTP/1.0',
  'HTTP/2.0',
  'CONNECT',
];

function mutateHttp(rng: Rng, raw: string): string {
  let s = raw;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const at = rng.int(s.length + 1);
    const roll = rng.next();
    if (roll < 0.45) s = s.slice(0, at) + rng.pick(HTTP_SPLICES) + s.slice(at);
    else if (roll < 0.65) s = s.slice(0, at) + s.slice(at + 1 + rng.int(8));
    else if (roll < 0.8) s = s.slice(0, at) + String.fromCharCode(rng.int(256)) + s.slice(at + 1);
    else if (roll < 0.9) s = s.slice(0, at);
    else s = s + rng.pick(HTTP_SEEDS); // pipelined
  }
  return s;
}

/**
 * Sends raw bytes and reads what comes back until the server closes the connection, or the
 * deadline passes (a hang). The client never half-closes (Node drops a request whose client
 * sent FIN): incomplete requests end when the listener's timeouts cut them.
 */
function rawExchange(port: number, bytes: string, timeoutMs: number): Promise<{ text: string } | 'hang'> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve('hang');
    }, timeoutMs);
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text });
    });
    sock.write(Buffer.from(bytes, 'latin1'));
  });
}

export interface HttpFuzzOptions {
  berth: Berth;
  /**
   * A listener port whose default action forwards to a healthy target that closes each
   * connection after answering, with an idle timeout of a second or two (incomplete requests
   * wait for it).
   */
  port: number;
  cases: number;
  seed: number;
  /** Exchanges at once (they mostly wait on timeouts). Default 32. */
  concurrency?: number;
  timeoutMs?: number;
}

/**
 * Fuzzes the load balancer's HTTP parser. Every status line in the answer is judged: a 5xx
 * from the load balancer itself (its `server: awselb/2.0` pages, or any without the target's
 * `x-backend` header) for a client's bytes is a defect; the target's own answers are whatever
 * it says. The load balancer never writes the store, so the revision is compared over the run.
 */
export async function fuzzHttp(o: HttpFuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(o.seed);
  const report = emptyReport('load balancer HTTP');
  const inputs = Array.from({ length: o.cases }, () => (rng.chance(0.1) ? rng.pick(HTTP_SEEDS) : mutateHttp(rng, rng.pick(HTTP_SEEDS))));
  const before = await o.berth.platform.store.revision();
  return watchingCrashes(async (crashes) => {
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) {
        const raw = inputs[next++]!;
        const got = await rawExchange(o.port, raw, o.timeoutMs ?? 10_000);
        report.tried++;
        const what = JSON.stringify(raw.slice(0, 200));
        if (got === 'hang') {
          report.hangs++;
          note(report, `hang: ${what}`);
          continue;
        }
        const statuses = [...got.text.matchAll(/HTTP\/1\.1 (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)/g)].map((m) => ({
          status: Number(m[1]),
          fromLb: /server: awselb/i.test(m[2]!) || !/x-backend:/i.test(m[2]!),
        }));
        if (statuses.length === 0) report.closed++;
        for (const s of statuses) {
          if (s.status >= 500 && s.fromLb) {
            report.server5xx++;
            note(report, `${s.status}: ${what} -> ${JSON.stringify(got.text.slice(0, 200))}`);
          } else if (s.status >= 400) report.client4xx++;
          else report.ok2xx++;
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency ?? 32 }, worker));
    report.crashes = crashes();
    if (report.crashes) note(report, `${report.crashes} uncaught exceptions or unhandled rejections during the run`);
    if (await stateChangedSince(o.berth, before)) {
      report.stateChanges++;
      note(report, 'the store changed during the load balancer run');
    }
    return report;
  });
}

/** What the fuzzers need in a server: existing names by hint, and a listener forwarding to a target. */
export interface FuzzTarget {
  known: Record<string, string[]>;
  /** Listener port (idle timeout 1 s) whose default action forwards to a healthy target. */
  lbPort: number;
  close(): Promise<void>;
}

/**
 * Creates what the fuzzers aim at: a cluster, a task definition, a container instance, a log
 * group and stream, a SecureString parameter, and a load balancer with a listener forwarding to
 * a real backend (ready and healthy when this returns).
 */
export async function prepareFuzzTarget(berth: Berth & { clientConfig: TestBerth['clientConfig'] }): Promise<FuzzTarget> {
  let known: Record<string, string[]> = {};
  let lbPort = 0;
  let backend: Backend | undefined;
  const cfg = berth.clientConfig;
  const ecs = new ECSClient(cfg);
  const elb = new ElasticLoadBalancingV2Client(cfg);
  const logs = new CloudWatchLogsClient(cfg);
  const ssm = new SSMClient(cfg);
  try {
    const cluster = (await ecs.send(new CreateClusterCommand({ clusterName: 'default' }))).cluster!.clusterArn!;
    const td = (await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64, portMappings: [{ containerPort: 80 }] }] }))).taskDefinition!.taskDefinitionArn!;
    const ci = (await ecs.send(new RegisterContainerInstanceCommand({ cluster: 'default', totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 2048 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 4096 }] })))
      .containerInstance!.containerInstanceArn!;
    backend = await startBackend('fz');
    const tg = await createTestTargetGroup(elb, 'fz-tg');
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: backend.port }] }));
    const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'fz-lb', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    // Incomplete requests wait for the idle timeout: keep it short.
    await elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lb, Attributes: [{ Key: 'idle_timeout.timeout_seconds', Value: '1' }] }));
    lbPort = await freePort();
    const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: lbPort, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }))).Listeners![0]!.ListenerArn!;
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/fz/app' }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/fz/app', logStreamName: 'one' }));
    await ssm.send(new PutParameterCommand({ Name: '/fz/param', Value: 'v', Type: 'SecureString' }));
    // EC2: the default VPC (made on first use) and one VPC of its own, with a subnet, a gateway, a table and a group.
    const ec2 = new EC2Client(cfg);
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.9.1.0/24' }))).Subnet!.SubnetId!;
    const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    const rtb = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpc }))).RouteTable!.RouteTableId!;
    const sg = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc, GroupName: 'fz-sg', Description: 'fz' }))).GroupId!;
    const eip = (await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }))).AllocationId!;
    ec2.destroy();
    // The listener answers through its target before the fuzzing starts.
    await eventually(async () => (await get(lbPort, '/ready').catch(() => undefined))?.status === 200, { what: 'the listener to forward to its healthy target' });
    known = {
      cluster: ['default', cluster],
      taskDefinition: ['web', 'web:1', td],
      family: ['web'],
      containerInstance: [ci],
      task: [td],
      containerName: ['app'],
      targetGroup: [tg, 'fz-tg'],
      loadBalancer: [lb, 'fz-lb'],
      listener: [listener],
      resourceArn: [cluster, td, ci, tg, lb],
      logGroup: ['/fz/app'],
      logStream: ['one'],
      name: ['/fz/param', 'fz-tg', 'fz-lb', 'default'],
      id: ['127.0.0.1'],
      vpc: [vpc],
      subnet: [subnet],
      resource: [vpc, subnet, igw, rtb, sg],
      internetGateway: [igw],
      gateway: [igw],
      routeTable: [rtb],
      group: [sg, 'fz-sg'],
      allocation: [eip],
      cidr: ['10.9.2.0/24', '0.0.0.0/0', '10.9.0.0/16'],
      zone: ['us-east-1a', 'use1-az2'],
    };
  } finally {
    for (const c of [ecs, elb, logs, ssm]) c.destroy();
  }
  return { known, lbPort, close: async () => backend?.close() };
}

/** A table of reports, one line each. */
export function formatReports(reports: FuzzReport[]): string {
  const cols = ['protocol', 'tried', '2xx', '4xx', '5xx', 'closed', 'crashes', 'hangs', 'state changes', 'malformed errors'];
  const rows = reports.map((r) => [r.protocol, r.tried, r.ok2xx, r.client4xx, r.server5xx, r.closed, r.crashes, r.hangs, r.stateChanges, r.malformedErrors].map(String));
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (xs: string[]) => xs.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(cols), ...rows.map(line)].join('\n');
}
