// The HAProxy configuration compiled from the ELBv2 records (issue 19, first piece of the
// HAProxy-driven plane): records made through the API, compiled, checked by `haproxy -c` and
// served by a real haproxy: rules in priority order on host, path, header, method, query and
// source IP, fixed responses, redirects and forwards (health checks compile and pass `haproxy -c`,
// but taking a failing target out is not verified yet). Skipped when haproxy is not installed (apt-get install -y haproxy).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElasticLoadBalancingV2Client, CreateListenerCommand, CreateLoadBalancerCommand, CreateRuleCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, eventually, type TestBerth } from '../helpers/fixture.js';
import { readElbv2Snapshot } from '../../src/domain/elbv2/snapshot.js';
import { haproxyConfig, quote, wildcardRegex } from '../../src/lb/haproxy/config.js';
import { createTestTargetGroup, freePort, get, startBackend, type Backend } from './backends.js';

const HAPROXY = spawnSync('sh', ['-c', 'command -v haproxy']).stdout?.toString().trim() ?? '';
const skip = HAPROXY ? false : 'haproxy is not installed (apt-get install -y haproxy)';

let berth: TestBerth;
let elb: ElasticLoadBalancingV2Client;
let dir: string;
let haproxy: ChildProcess | undefined;
const backends: Record<string, Backend & { healthStatus: number }> = {};
let port: number;
let leanPort: number;
let config: string;

test('quoting keeps record values from breaking out of the configuration', () => {
  assert.equal(quote('a b'), '"a\\x20b"');
  assert.equal(quote('x"\n# $HOME'), '"x\\x22\\x0a\\x23\\x20\\x24HOME"');
  assert.equal(wildcardRegex('/api/*'), '^\\/api\\/.*$');
  assert.equal(wildcardRegex('exact'), undefined);
});

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'berth-haproxy-'));
  berth = await startTestBerth({ loadBalancer: { workers: 0 } });
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  for (const name of ['users', 'orders', 'other']) backends[name] = await startBackend(name);
  port = await freePort();
  const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'hap', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!;
  const tg: Record<string, string> = {};
  for (const name of ['users', 'orders', 'other']) {
    tg[name] = await createTestTargetGroup(elb, `hap-${name}`, { HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2 });
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg[name], Targets: [{ Id: '127.0.0.1', Port: backends[name]!.port }] }));
  }
  const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb.LoadBalancerArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.other }] }))).Listeners![0]!;
  const rule = (Priority: number, Conditions: object[], Actions: object[]) => elb.send(new CreateRuleCommand({ ListenerArn: listener.ListenerArn, Priority, Conditions, Actions } as never));
  await rule(1, [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/admin*'] } }], [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', ContentType: 'text/plain', MessageBody: 'denied "here"\n' } }]);
  await rule(2, [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/old/*'] } }], [{ Type: 'redirect', RedirectConfig: { StatusCode: 'HTTP_301', Path: '/new/#{path}', Query: 'from=old' } }]);
  await rule(3, [{ Field: 'host-header', HostHeaderConfig: { Values: ['*.users.test'] } }], [{ Type: 'forward', TargetGroupArn: tg.users }]);
  await rule(4, [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Team', Values: ['orders'] } }, { Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['GET'] } }], [{ Type: 'forward', TargetGroupArn: tg.orders }]);
  await rule(5, [{ Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'to', Value: 'users' }] } }], [{ Type: 'forward', TargetGroupArn: tg.users }]);
  await rule(6, [{ Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.0/8'] } }], [{ Type: 'forward', TargetGroupArn: tg.orders }]);
  // A second listener: forwards only (a rule and the default).
  leanPort = await freePort();
  const lean = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb.LoadBalancerArn, Protocol: 'HTTP', Port: leanPort, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg.other }] }))).Listeners![0]!;
  await elb.send(new CreateRuleCommand({ ListenerArn: lean.ListenerArn, Priority: 1, Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/users/*'] } }], Actions: [{ Type: 'forward', TargetGroupArn: tg.users }] }));
  config = haproxyConfig(await readElbv2Snapshot(berth.platform), { bindHost: '127.0.0.1', adminSocket: join(dir, 'admin.sock'), secondMs: 50 });
  writeFileSync(join(dir, 'haproxy.cfg'), config, { mode: 0o600 });
});

after(async () => {
  haproxy?.kill('SIGTERM');
  elb?.destroy();
  await berth?.close();
  for (const b of Object.values(backends)) await b.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a listener whose rules and default all forward to one group compiles to use_backend and default_backend, with no per-request variables', { skip }, () => {
  const frontend = (p: number) => config.slice(config.indexOf(`frontend l_${p}\n`)).split('\n\n')[0]!;
  const lean = frontend(leanPort);
  assert.match(lean, /^  use_backend tg_[0-9a-f]{16} if r0_c0$/m);
  assert.match(lean, /^  default_backend tg_[0-9a-f]{16}$/m);
  // No routing variables: the one variable marks streamed uploads (their answer closes the connection).
  assert.deepEqual(lean.match(/set-var\([^)]*\)|var\([^)]*\)/g), ['set-var(txn.streamed)', 'var(txn.streamed)']);
  // With fixed responses and redirects among the rules, the first match is recorded; the default still is default_backend.
  const routed = frontend(port);
  assert.match(routed, /set-var\(txn\.route\)/);
  assert.match(routed, /^  default_backend tg_[0-9a-f]{16}$/m);
});

test('the compiled configuration is valid for haproxy', { skip }, () => {
  const r = spawnSync(HAPROXY, ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `haproxy -c: ${r.stdout}${r.stderr}`);
});

test('haproxy serves the rules in priority order, fixed responses and redirects', { skip }, async () => {
  haproxy = spawn(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'inherit', 'inherit'] });
  await eventually(async () => (await get(port, '/x').catch(() => ({ status: 0 }))).status === 200, { what: 'haproxy serving' });
  const admin = await get(port, '/admin/panel');
  assert.equal(admin.status, 403);
  assert.equal(admin.body, 'denied "here"\n');
  const moved = await get(port, '/old/page', { host: 'site.test' });
  assert.equal(moved.status, 301);
  assert.equal(moved.headers.location, `http://site.test:${port}/new/old/page?from=old`);
  assert.equal((await get(port, '/a', { host: 'api.users.test' })).headers['x-backend'], 'users');
  assert.equal((await get(port, '/a', { host: 'API.USERS.TEST:8080' })).headers['x-backend'], 'users', 'host match ignores case and port');
  assert.equal((await get(port, '/a', { 'x-team': 'orders' })).headers['x-backend'], 'orders');
  assert.equal((await get(port, '/a?x=1&to=users')).headers['x-backend'], 'users');
  assert.equal((await get(port, '/a')).headers['x-backend'], 'other', 'the default action');
  const forwarded = backends.other!.lastHeaders!;
  assert.equal(forwarded['x-forwarded-proto'], 'http');
  assert.equal(forwarded['x-forwarded-port'], String(port));
  assert.equal(forwarded['x-forwarded-for'], '127.0.0.1');
  assert.equal((await get(leanPort, '/users/7')).headers['x-backend'], 'users', 'a forward rule of the lean listener');
  assert.equal((await get(leanPort, '/orders/7')).headers['x-backend'], 'other', 'its default_backend');
});
