// The data plane end to end: a load balancer configured with the real aws CLI and SDK, real
// node:http backends registered by IP/port, requests through the listener landing where the
// rules say; weighted forwarding, stickiness, redirects, fixed responses, 502/503/504, headers,
// WebSocket pass-through and metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import {
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
  ModifyListenerCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyLoadBalancerAttributesCommand,
  CreateRuleCommand,
  DescribeTargetHealthCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, awsOk, eventually, type TestBerth } from '../helpers/fixture.js';
import { startBackend, freePort, get, createTestTargetGroup, type Backend } from './backends.js';
import { withFastWaiters } from '../helpers/awsWaiters.js';

let berth: TestBerth;
let elb: ElasticLoadBalancingV2Client;
let backends: Record<string, Backend & { healthStatus: number }>;
let lbArn: string;
let listenerArn: string;
let port: number;
const tgArns: Record<string, string> = {};

async function cli(args: string[]) {
  return awsOk(berth.awsEnv, ['elbv2', ...args]);
}

function createTg(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  return createTestTargetGroup(elb, name, extra);
}

async function allHealthy(tgArn: string, n: number) {
  await eventually(
    async () => {
      const h = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }));
      const states = (h.TargetHealthDescriptions ?? []).map((d) => d.TargetHealth?.State);
      return states.length === n && states.every((s) => s === 'healthy');
    },
    { what: `${n} healthy targets in ${tgArn}` },
  );
}

before(async () => {
  berth = await startTestBerth();
  // Health check "seconds" last 50 ms here (a Berth extension), so a 5 s interval is 250 ms.
  berth.loadBalancer.configure({ secondMs: 50 });
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  backends = {};
  for (const n of ['users', 'posts', 'admin', 'w80', 'w20', 's1', 's2']) backends[n] = await startBackend(n);
  port = await freePort();

  // The MUST-SHOW setup, with the real aws CLI.
  const lb = await cli(['create-load-balancer', '--name', 'web', '--subnets', 'subnet-a', 'subnet-b']);
  lbArn = lb.LoadBalancers[0].LoadBalancerArn;
  assert.equal(lb.LoadBalancers[0].State.Code, 'provisioning');
  assert.match(lb.LoadBalancers[0].DNSName, /^web-[0-9a-f]+\.us-east-1\.elb\.localhost$/);
  const hc = ['--health-check-path', '/health', '--health-check-interval-seconds', '5', '--health-check-timeout-seconds', '2', '--healthy-threshold-count', '2', '--unhealthy-threshold-count', '2'];
  const made = await Promise.all(
    ['users', 'posts', 'admin'].map((n) =>
      cli(['create-target-group', '--name', `tg-${n}`, '--protocol', 'HTTP', '--port', '80', '--target-type', 'ip', '--vpc-id', 'vpc-local', ...hc]),
    ),
  );
  ['users', 'posts', 'admin'].forEach((n, i) => (tgArns[n] = made[i].TargetGroups[0].TargetGroupArn));
  await Promise.all(
    ['users', 'posts', 'admin'].map((n) => cli(['register-targets', '--target-group-arn', tgArns[n]!, '--targets', `Id=127.0.0.1,Port=${backends[n]!.port}`])),
  );
  const listener = await cli([
    'create-listener',
    '--load-balancer-arn',
    lbArn,
    '--protocol',
    'HTTP',
    '--port',
    String(port),
    '--default-actions',
    JSON.stringify([{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'text/plain', MessageBody: 'no route' } }]),
  ]);
  listenerArn = listener.Listeners[0].ListenerArn;
  const rule = (priority: number, conditions: unknown, tg: string) =>
    cli(['create-rule', '--listener-arn', listenerArn, '--priority', String(priority), '--conditions', JSON.stringify(conditions), '--actions', JSON.stringify([{ Type: 'forward', TargetGroupArn: tg }])]);
  await Promise.all([
    rule(10, [{ Field: 'path-pattern', Values: ['/api/users*'] }], tgArns.users!),
    rule(20, [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/posts*'] } }], tgArns.posts!),
    rule(30, [{ Field: 'host-header', HostHeaderConfig: { Values: ['admin.example.com'] } }], tgArns.admin!),
  ]);
  for (const n of ['users', 'posts', 'admin']) await allHealthy(tgArns[n]!, 1);
  // The load balancer is active once its data plane serves the listener, as the CLI's waiter
  // (polling each second here) sees: from then on the port takes connections.
  await awsOk(withFastWaiters(berth.awsEnv), ['elbv2', 'wait', 'load-balancer-available', '--load-balancer-arns', lbArn]);
  assert.equal((await cli(['describe-load-balancers', '--names', 'web'])).LoadBalancers[0].State.Code, 'active');
  await new Promise<void>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(resolve));
    socket.on('error', reject);
  });
});

after(async () => {
  elb?.destroy();
  await berth?.close();
  for (const b of Object.values(backends ?? {})) await b.close();
});

test('rules send /api/users*, /api/posts* and Host admin.example.com to their target groups, the rest to a fixed 404', async () => {
  const cases: [string, Record<string, string>, number, string][] = [
    ['/api/users', {}, 200, 'users /api/users'],
    ['/api/users/42?x=1', {}, 200, 'users /api/users/42'],
    ['/api/posts/7', {}, 200, 'posts /api/posts/7'],
    ['/', { host: 'admin.example.com' }, 200, 'admin /'],
    ['/dashboard', { host: 'ADMIN.example.com:8080' }, 200, 'admin /dashboard'],
    ['/API/users', {}, 404, 'no route'], // path patterns are case-sensitive
    ['/other', {}, 404, 'no route'],
  ];
  for (const [path, headers, status, body] of cases) {
    const r = await get(port, path, headers);
    assert.equal(r.status, status, `${path} ${JSON.stringify(headers)}`);
    assert.equal(r.body, body, `${path} ${JSON.stringify(headers)}`);
  }
  // The rule order wins over later matches: a users path on the admin host still goes to users.
  assert.equal((await get(port, '/api/users/1', { host: 'admin.example.com' })).body, 'users /api/users/1');
});

test('streamed response bodies pass through as they arrive', async () => {
  const started = Date.now();
  const firstAt = await new Promise<{ first: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/users/stream' }, (res) => {
      let body = '';
      let first = 0;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        if (!first) first = Date.now() - started;
        body += d;
      });
      res.on('end', () => resolve({ first, body }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(firstAt.body, 'first;second');
  assert.ok(firstAt.first < 300, `first part after ${firstAt.first} ms`);
});

test('a client that goes away aborts its request to the target', async () => {
  const server = (backends.users as unknown as { server: import('node:http').Server }).server;
  const closedAfter = new Promise<number>((resolve) => {
    const on = (req: import('node:http').IncomingMessage) => {
      if (!req.url?.startsWith('/api/users/abandoned')) return;
      server.off('request', on);
      const t0 = Date.now();
      req.socket.once('close', () => resolve(Date.now() - t0));
    };
    server.on('request', on);
  });
  const r = request({ host: '127.0.0.1', port, path: '/api/users/abandoned/slow?ms=5000' });
  r.on('error', () => {});
  r.end();
  setTimeout(() => r.destroy(), 200);
  const ms = await closedAfter;
  assert.ok(ms < 2000, `upstream request closed after ${ms} ms, not when the 5 s response was due`);
  // The load balancer keeps serving.
  assert.equal((await get(port, '/api/users/after')).status, 200);
});

test('the target sees X-Forwarded-For/-Proto/-Port and an X-Amzn-Trace-Id', async () => {
  await get(port, '/api/users/h', { 'x-forwarded-for': '203.0.113.9' });
  const h = backends.users!.lastHeaders!;
  assert.equal(h['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-forwarded-port'], String(port));
  assert.match(String(h['x-amzn-trace-id']), /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
});

test('weighted forward 80/20 over 2,000 requests lands within ±3 %', async () => {
  const a = await createTg('w80');
  const b = await createTg('w20');
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: a, Targets: [{ Id: '127.0.0.1', Port: backends.w80!.port }] }));
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: b, Targets: [{ Id: '127.0.0.1', Port: backends.w20!.port }] }));
  await elb.send(
    new CreateRuleCommand({
      ListenerArn: listenerArn,
      Priority: 5,
      Conditions: [{ Field: 'path-pattern', Values: ['/weighted*'] }],
      Actions: [{ Type: 'forward', ForwardConfig: { TargetGroups: [{ TargetGroupArn: a, Weight: 80 }, { TargetGroupArn: b, Weight: 20 }] } }],
    }),
  );
  await allHealthy(a, 1);
  await allHealthy(b, 1);
  const counts: Record<string, number> = {};
  for (let batch = 0; batch < 100; batch++) {
    const rs = await Promise.all(Array.from({ length: 20 }, () => get(port, '/weighted')));
    for (const r of rs) counts[String(r.headers['x-backend'])] = (counts[String(r.headers['x-backend'])] ?? 0) + 1;
  }
  const share = (counts.w80 ?? 0) / 2000;
  assert.ok(Math.abs(share - 0.8) <= 0.03, `w80 got ${counts.w80} of 2000 (${share}), w20 ${counts.w20}`);
  assert.equal((counts.w80 ?? 0) + (counts.w20 ?? 0), 2000);
});

test('lb_cookie stickiness pins a client to one target; without it requests alternate', async () => {
  const tg = await createTg('sticky');
  await elb.send(
    new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: backends.s1!.port }, { Id: '127.0.0.1', Port: backends.s2!.port }] }),
  );
  await elb.send(
    new CreateRuleCommand({ ListenerArn: listenerArn, Priority: 6, Conditions: [{ Field: 'path-pattern', Values: ['/sticky'] }], Actions: [{ Type: 'forward', TargetGroupArn: tg }] }),
  );
  await allHealthy(tg, 2);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) seen.add(String((await get(port, '/sticky')).headers['x-backend']));
  assert.equal(seen.size, 2, 'round robin alternates between the two targets');

  await elb.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: tg,
      Attributes: [
        { Key: 'stickiness.enabled', Value: 'true' },
        { Key: 'stickiness.type', Value: 'lb_cookie' },
        { Key: 'stickiness.lb_cookie.duration_seconds', Value: '60' },
      ],
    }),
  );
  const first = await eventually(async () => {
    const r = await get(port, '/sticky');
    const c = ([] as string[]).concat(r.headers['set-cookie'] ?? []).find((x) => x.startsWith('AWSALB='));
    return c ? { backend: String(r.headers['x-backend']), cookie: c.split(';')[0]! } : undefined;
  });
  for (let i = 0; i < 6; i++) {
    const r = await get(port, '/sticky', { cookie: `${first.cookie}; other=1` });
    assert.equal(r.headers['x-backend'], first.backend);
  }
});

test('redirect and fixed-response actions answer from the load balancer', async () => {
  await elb.send(
    new CreateRuleCommand({
      ListenerArn: listenerArn,
      Priority: 7,
      Conditions: [{ Field: 'path-pattern', Values: ['/old/*'] }, { Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['GET'] } }],
      Actions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', Path: '/new/#{path}', StatusCode: 'HTTP_301' } }],
    }),
  );
  await elb.send(
    new CreateRuleCommand({
      ListenerArn: listenerArn,
      Priority: 8,
      Conditions: [{ Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'mode', Value: 'maint*' }] } }],
      Actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '503', ContentType: 'application/json', MessageBody: '{"down":true}' } }],
    }),
  );
  const r = await eventually(async () => {
    const x = await get(port, '/old/page?a=b', { host: 'shop.example.com' });
    return x.status === 301 ? x : undefined;
  });
  assert.equal(r.headers.location, 'https://shop.example.com/new/old/page?a=b');
  const f = await get(port, '/anything?mode=Maintenance');
  assert.equal(f.status, 503);
  assert.equal(f.headers['content-type'], 'application/json');
  assert.equal(f.body, '{"down":true}');
});

test('503 when a target group has no targets, 502 when the target refuses, 504 past the idle timeout', async () => {
  const empty = await createTg('empty');
  const dead = await createTg('dead', { HealthCheckEnabled: false });
  const slow = await createTg('slow');
  const deadPort = await freePort();
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: dead, Targets: [{ Id: '127.0.0.1', Port: deadPort }] }));
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: slow, Targets: [{ Id: '127.0.0.1', Port: backends.users!.port }] }));
  const fwd = (p: number, path: string, tg: string) =>
    elb.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: p, Conditions: [{ Field: 'path-pattern', Values: [path] }], Actions: [{ Type: 'forward', TargetGroupArn: tg }] }));
  await fwd(1, '/empty', empty);
  await fwd(2, '/dead', dead);
  await fwd(3, '/slow', slow);
  await elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lbArn, Attributes: [{ Key: 'idle_timeout.timeout_seconds', Value: '1' }] }));
  await eventually(async () => (await get(port, '/empty')).status === 503, { what: '503 for an empty target group' });
  assert.equal((await get(port, '/dead')).status, 502);
  const started = Date.now();
  const s = await eventually(async () => {
    const x = await get(port, '/slow?ms=2500');
    return x.status === 504 ? x : undefined;
  });
  assert.equal(s.status, 504);
  assert.ok(Date.now() - started < 10_000);
  await elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lbArn, Attributes: [{ Key: 'idle_timeout.timeout_seconds', Value: '60' }] }));
});

test('a target answering garbage or invalid headers gets a 502, and the load balancer keeps serving', async () => {
  const { createServer } = await import('node:net');
  const raw = createServer((sock) => {
    sock.once('data', (d) => {
      const bad = String(d).includes('/garbage') ? 'NOT HTTP AT ALL\r\n\r\n' : 'HTTP/1.1 200 OK\r\nX-Bad: a\u0001b\r\nContent-Length: 2\r\n\r\nok';
      sock.end(bad);
    });
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
  try {
    const tg = await createTg('rawtg', { HealthCheckEnabled: false });
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: (raw.address() as import('node:net').AddressInfo).port }] }));
    await elb.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: 4, Conditions: [{ Field: 'path-pattern', Values: ['/raw/*'] }], Actions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    const g = await eventually(async () => {
      const x = await get(port, '/raw/garbage');
      return x.status === 502 ? x : undefined;
    });
    assert.equal(g.status, 502);
    assert.equal((await get(port, '/raw/badheader')).status, 502);
    assert.equal((await get(port, '/api/users/still')).body, 'users /api/users/still');
  } finally {
    raw.close();
  }
});

test('WebSocket upgrades pass through to the target', async () => {
  // The users backend answers upgrades by echoing; attach an upgrade handler to it.
  const server = (backends.users as unknown as { server: import('node:http').Server }).server;
  const upgraded: import('node:stream').Duplex[] = [];
  server.on('upgrade', (_req, socket) => {
    upgraded.push(socket);
    socket.on('end', () => socket.destroy());
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
  });
  const sock = connect(port, '127.0.0.1');
  const got = await new Promise<string>((resolve, reject) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d;
      if (buf.includes('\r\n\r\n') && buf.endsWith('ping')) resolve(buf);
      else if (buf.includes('\r\n\r\n') && !buf.includes('ping')) sock.write('ping');
    });
    sock.on('error', reject);
    sock.write('GET /api/users/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  });
  sock.destroy();
  assert.match(got, /^HTTP\/1.1 101/);
  // Closing the client closes the upstream side too.
  await eventually(() => upgraded.every((s) => s.destroyed), { what: 'upstream WebSocket closed' });
});

test('metrics: Prometheus text at /_berth/metrics with ALB names, and per-minute series', async () => {
  const res = await fetch(`${berth.url}/_berth/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const lbLabel = lbArn.split(':loadbalancer/')[1]!;
  const requestCount = Number(new RegExp(`^RequestCount\\{load_balancer="${lbLabel.replace(/\//g, '\\/')}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  assert.ok(requestCount > 2000, `RequestCount ${requestCount}`);
  assert.match(text, /^HTTPCode_Target_2XX_Count\{target_group="targetgroup\/tg-users\/[0-9a-f]+"\} \d+$/m);
  assert.match(text, /^HTTPCode_ELB_5XX_Count\{load_balancer="[^"]+"\} [1-9]\d*$/m);
  assert.match(text, /^TargetResponseTime\{target_group="targetgroup\/w80\/[0-9a-f]+",quantile="0.99"\} [\d.e-]+$/m);
  assert.match(text, /^HealthyHostCount\{target_group="targetgroup\/tg-users\/[0-9a-f]+"\} 1$/m);
  assert.match(text, /^ActiveConnectionCount\{load_balancer="[^"]+"\} \d+$/m);
  const series = berth.loadBalancer.series();
  const lbSeries = series.find((s) => s.loadBalancerArn === lbArn)!;
  assert.ok(lbSeries.minutes.length >= 1 && lbSeries.minutes.length <= 60);
  const total = lbSeries.minutes.reduce((n, m) => n + m.counts.RequestCount, 0);
  assert.equal(total, requestCount, 'the minutes add up to the counter');
  const withTimes = lbSeries.minutes.filter((m) => m.TargetResponseTime);
  assert.ok(withTimes.length > 0 && withTimes.every((m) => m.TargetResponseTime!.p50 <= m.TargetResponseTime!.p99));
});

test('least_outstanding_requests sends new requests to the target with fewer in flight', async () => {
  const tg = await createTg('lor');
  await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: backends.s1!.port }, { Id: '127.0.0.1', Port: backends.s2!.port }] }));
  await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'load_balancing.algorithm.type', Value: 'least_outstanding_requests' }] }));
  await elb.send(new CreateRuleCommand({ ListenerArn: listenerArn, Priority: 9, Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Lor', Values: ['yes'] } }], Actions: [{ Type: 'forward', TargetGroupArn: tg }] }));
  await allHealthy(tg, 2);
  // One slow request occupies a target; the next quick ones all go to the other.
  const hits = () => backends.s1!.hits + backends.s2!.hits;
  const before = hits();
  // Not /slow: an earlier test's rule (priority 3) sends that path elsewhere.
  const slow = get(port, '/lor/slow?ms=800', { 'x-lor': 'yes' });
  await eventually(() => hits() > before, { what: 'the slow request to reach its target', intervalMs: 5 });
  const quick: string[] = [];
  for (let i = 0; i < 4; i++) quick.push(String((await get(port, '/q', { 'x-lor': 'yes' })).headers['x-backend']));
  const slowBackend = String((await slow).headers['x-backend']);
  assert.ok(slowBackend === 's1' || slowBackend === 's2', `the slow request went to ${slowBackend}`);
  assert.ok(quick.every((b) => b !== slowBackend), `quick requests ${quick} avoided ${slowBackend}`);
  void ModifyListenerCommand;
});
