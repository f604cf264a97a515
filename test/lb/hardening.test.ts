// The load balancer against hostile clients (issue 12): rules see the path the target will act
// on (dot segments, escaped dots and absolute-form targets cannot skip a deny rule), request
// targets that are not paths are refused, header names a client lists in Connection are not
// forwarded, an upgrade the target refuses never becomes a tunnel, slow-body clients hold no
// upstream connection and are cut by the listener's timeouts, and one client address has a
// bounded share of the targets. Raw sockets, since fetch and node:http clean requests up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ElasticLoadBalancingV2Client, DescribeTargetHealthCommand, ModifyLoadBalancerAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, awsOk, eventually, type TestBerth } from '../helpers/fixture.js';
import { startBackend, freePort, get, createTestTargetGroup, type Backend } from './backends.js';

let berth: TestBerth;
let elb: ElasticLoadBalancingV2Client;
let app: Backend & { healthStatus: number; server: import('node:http').Server };
let port: number;

before(async () => {
  berth = await startTestBerth();
  berth.loadBalancer.configure({ secondMs: 50 });
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  app = await startBackend('app');
  port = await freePort();
  const cli = (args: string[]) => awsOk(berth.awsEnv, ['elbv2', ...args]);
  const lb = await cli(['create-load-balancer', '--name', 'edge', '--subnets', 'subnet-a', 'subnet-b']);
  const lbArn = lb.LoadBalancers[0].LoadBalancerArn as string;
  await elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: lbArn, Attributes: [{ Key: 'idle_timeout.timeout_seconds', Value: '1' }] }));
  const tg = await createTestTargetGroup(elb, 'tg-app');
  await cli(['register-targets', '--target-group-arn', tg, '--targets', `Id=127.0.0.1,Port=${app.port}`]);
  const listener = await cli(['create-listener', '--load-balancer-arn', lbArn, '--protocol', 'HTTP', '--port', String(port), '--default-actions', JSON.stringify([{ Type: 'forward', TargetGroupArn: tg }])]);
  const deny = [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', ContentType: 'text/plain', MessageBody: 'denied' } }];
  await cli(['create-rule', '--listener-arn', listener.Listeners[0].ListenerArn, '--priority', '1', '--conditions', JSON.stringify([{ Field: 'path-pattern', Values: ['/admin*'] }]), '--actions', JSON.stringify(deny)]);
  await eventually(
    async () => (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions?.[0]?.TargetHealth?.State === 'healthy',
    { what: 'the app target healthy' },
  );
});

after(async () => {
  elb?.destroy();
  await berth?.close();
  await app?.close();
});

/** Writes `raw` on a new connection and collects what comes back until the server closes it (or `endWhen` says enough). */
function exchange(raw: string, endWhen?: (got: string) => boolean, timeoutMs = 10_000): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no end of the exchange within ${timeoutMs} ms; got ${JSON.stringify(text.slice(0, 300))}`));
    }, timeoutMs);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (endWhen?.(text)) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ text, closedByServer: false });
      }
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedByServer: true });
    });
    sock.on('error', () => undefined);
    sock.write(raw);
  });
}

const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
const oneRequest = (target: string, method = 'GET') => exchange(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);

test('rules and targets see the normalized path: /x/../admin, /%2e%2e/admin, //./admin and absolute-form all meet the deny rule', async () => {
  for (const target of ['/admin', '/x/../admin', '/%2e%2e/admin', '/%2E/admin/', '/./admin', '/public/%2e%2e/admin', 'http://x/admin', 'HTTP://x/y/../admin?q=1']) {
    const r = await oneRequest(target);
    assert.equal(statusOf(r.text), 403, `${target}: ${r.text.slice(0, 80)}`);
    assert.match(r.text, /denied$/);
  }
  const before = app.hits;
  // The target receives the normalized path too (so it cannot act on a path the rules never saw).
  const fwd = await oneRequest('/public/./a/../b/%7Euser');
  assert.equal(statusOf(fwd.text), 200);
  assert.match(fwd.text, /app \/public\/b\/~user$/);
  assert.equal(app.hits, before + 1);
  // An escaped slash stays escaped (it is not a segment boundary), so it does not reach /admin.
  assert.equal(statusOf((await oneRequest('/x%2F..%2Fadmin')).text), 200);
});

test('OPTIONS * and a malformed escape are 400; CONNECT is 405; nothing reaches the target', async () => {
  const before = app.hits;
  assert.equal(statusOf((await oneRequest('*', 'OPTIONS')).text), 400);
  assert.equal(statusOf((await oneRequest('/a%zz')).text), 400);
  assert.equal(statusOf((await oneRequest('x:443', 'CONNECT')).text), 405);
  assert.equal(app.hits, before);
});

test('a request head over 72 KiB gets 431; a 64 KiB path is within it', async () => {
  const big = await exchange(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(80 * 1024)}\r\nConnection: close\r\n\r\n`);
  assert.match(big.text, /^HTTP\/1\.1 431 Request Header Fields Too Large/);
  const long = await oneRequest('/admin/' + 'a'.repeat(64 * 1024));
  assert.equal(statusOf(long.text), 403, 'matched by the deny rule');
});

test('headers the client names in Connection are not forwarded; X-Forwarded-For keeps the chain', async () => {
  const r = await exchange('GET /h HTTP/1.1\r\nHost: x\r\nConnection: close, X-Internal-Auth\r\nX-Internal-Auth: forged\r\nX-Kept: yes\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n');
  assert.equal(statusOf(r.text), 200);
  assert.equal(app.lastHeaders?.['x-internal-auth'], undefined);
  assert.equal(app.lastHeaders?.['x-kept'], 'yes');
  assert.equal(app.lastHeaders?.['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
});

test('an upgrade the target answers with 200 is a normal response and the connection closes: bytes after it never reach the target unparsed', async () => {
  const seen: string[] = [];
  // Health checks hit the same backend meanwhile: only other requests count.
  const onRequest = (req: import('node:http').IncomingMessage) => req.url !== '/health' && seen.push(req.url ?? '');
  app.server.on('request', onRequest);
  try {
    // The second request, pipelined after the upgrade, would be tunnelled straight to the
    // target (skipping the deny rule) if the load balancer switched protocols on a 200.
    const r = await exchange('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /admin/secret HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(statusOf(r.text), 200, r.text);
    assert.match(r.text, /connection: close/i);
    assert.equal(r.closedByServer, true);
    assert.deepEqual(seen, ['/ws']);
  } finally {
    app.server.off('request', onRequest);
  }
});

test('a client trickling its body holds no upstream connection and is cut by the listener timeout', async () => {
  const before = app.hits;
  const started = Date.now();
  // Content-Length 100, 10 bytes sent, then nothing: the body is read before any target is used.
  const r = await exchange('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789');
  assert.equal(r.closedByServer, true);
  assert.equal(app.hits, before, 'the target never saw the unfinished request');
  // The idle timeout is 1 s; the whole request must arrive within it plus a second.
  assert.ok(Date.now() - started < 8000, `cut after ${Date.now() - started} ms`);
  // A complete small body goes through.
  const ok = await exchange('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
  assert.equal(statusOf(ok.text), 200);
  assert.equal(app.hits, before + 1);
});

test('a client sending its body a byte at a time is cut once the request outlasts the idle timeout', async () => {
  const before = app.hits;
  const started = Date.now();
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  sock.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
  // A byte every 300 ms: never idle long enough for the inactivity timeout.
  const drip = setInterval(() => sock.writable && sock.write('x'), 300);
  let answer = '';
  sock.on('data', (d) => (answer += d.toString('latin1')));
  try {
    await eventually(() => sock.destroyed || sock.readableEnded, { what: 'the trickling client to be cut', timeoutMs: 10_000, intervalMs: 50 });
  } finally {
    clearInterval(drip);
    sock.destroy();
  }
  // Idle timeout 1 s: the request must be whole within 2 s (checked every 250 ms).
  assert.ok(Date.now() - started < 4000, `cut after ${Date.now() - started} ms`);
  assert.match(answer, /^HTTP\/1\.1 408 Request Timeout/);
  assert.equal(app.hits, before);
});

test('a connection that never sends a request is closed after the idle timeout', async () => {
  const started = Date.now();
  const r = await exchange('');
  assert.equal(r.closedByServer, true);
  assert.equal(r.text, '');
  assert.ok(Date.now() - started < 8000, `closed after ${Date.now() - started} ms`);
});

test('one client address has at most maxRequestsPerClient requests at the targets; the rest get 503', async () => {
  berth.loadBalancer.configure({ maxRequestsPerClient: 2 });
  try {
    const replies = await Promise.all([get(port, '/slow?ms=600'), get(port, '/slow?ms=600'), get(port, '/slow?ms=600'), get(port, '/slow?ms=600')]);
    const statuses = replies.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 503, 503]);
    // Once they are done, the share is free again.
    assert.equal((await get(port, '/fine')).status, 200);
  } finally {
    berth.loadBalancer.configure({ maxRequestsPerClient: 256 });
  }
});
