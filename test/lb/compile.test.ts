// Compiling ELBv2 records into the routing table (a pure function): listeners by port, rules in
// priority order, target groups in use, draining targets, weighted forwards, and records the API
// would never write compiling to something harmless instead of throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTable, targetIdentity, type ForwardAction } from '../../src/lb/compile.js';
import { RequestView } from '../../src/lb/match.js';
import type { Elbv2Snapshot } from '../../src/domain/elbv2/snapshot.js';
import type { ListenerRecord, LoadBalancerRecord, RuleRecord, TargetGroupRecord, TargetRecord } from '../../src/domain/elbv2/records.js';

const ARN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012';
const LB = `${ARN}:loadbalancer/app/web/1`;
const tgArn = (name: string) => `${ARN}:targetgroup/${name}/1`;

function lb(attributes: Record<string, string> = {}): LoadBalancerRecord {
  return { arn: LB, name: 'web', attributes } as LoadBalancerRecord;
}
function tg(name: string, over: Partial<TargetGroupRecord> = {}): TargetGroupRecord {
  return {
    name,
    arn: tgArn(name),
    protocol: 'HTTP',
    attributes: {},
    healthCheck: { enabled: true, protocol: 'HTTP', port: 'traffic-port', path: '/', intervalSeconds: 5, timeoutSeconds: 2, healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200-299' },
    ...over,
  } as TargetGroupRecord;
}
function listener(port: number, defaultActions: unknown[], over: Partial<ListenerRecord> = {}): ListenerRecord {
  return { arn: `${LB}/l${port}`, lbArn: LB, port, protocol: 'HTTP', certificates: [], defaultActions, ...over } as ListenerRecord;
}
function target(group: string, port: number, state: TargetRecord['state'] = 'registered'): TargetRecord {
  return { tgArn: tgArn(group), tgName: group, region: 'us-east-1', id: '10.0.0.1', port, state, registeredAt: 7 };
}
function snapshot(over: Partial<Elbv2Snapshot>): Elbv2Snapshot {
  return { loadBalancers: [lb()], targetGroups: [], listeners: [], rules: [], targets: [], ...over };
}

test('listeners by port with rules in priority order; the generation is the one given', () => {
  const rule = (priority: number, path: string, status: string) =>
    ({
      listenerArn: `${LB}/l80`,
      priority,
      conditions: [{ Field: 'path-pattern', Values: [path] }],
      actions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: status } }],
    }) as RuleRecord;
  const t = compileTable(
    snapshot({
      listeners: [listener(80, [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }])],
      rules: [rule(20, '/a*', '202'), rule(10, '/a/b*', '201')],
    }),
    42,
  );
  assert.equal(t.generation, 42);
  const l = t.listeners.get(80)!;
  assert.equal(l.idleMs, 60_000);
  const view = new RequestView('GET', '/a/b/c', {}, '127.0.0.1');
  const first = l.rules.find((r) => r.match(view))!.action;
  assert.deepEqual(first.type === 'fixed' && first.status, 201);
  assert.deepEqual(l.defaultAction.type === 'fixed' && l.defaultAction.status, 404);
});

test('target groups: in use only when forwarded to; draining targets marked; identity per registration', () => {
  const t = compileTable(
    snapshot({
      targetGroups: [tg('used', { attributes: { 'stickiness.enabled': 'true', 'slow_start.duration_seconds': '30' } }), tg('idle', { healthCheck: { enabled: false } as never })],
      listeners: [listener(80, [{ Type: 'forward', TargetGroupArn: tgArn('used') }])],
      targets: [target('used', 1), target('used', 2, 'draining'), target('idle', 3), target('gone', 4)],
    }),
    1,
  );
  const used = t.groups.get(tgArn('used'))!;
  assert.deepEqual([used.inUse, used.stickinessMs, used.slowStartMs, used.algorithm], [true, 86_400_000, 30_000, 'round_robin']);
  assert.deepEqual(
    used.targets.map((x) => [x.port, x.draining]),
    [
      [1, false],
      [2, true],
    ],
  );
  assert.equal(used.targets[0]!.identity, targetIdentity(tgArn('used'), { id: '10.0.0.1', port: 1, registeredAt: 7 }));
  const idle = t.groups.get(tgArn('idle'))!;
  assert.deepEqual([idle.inUse, idle.healthCheck], [false, undefined]);
  assert.equal(t.groups.size, 2, 'targets of a group that does not exist are left out');
});

test('weighted forwards get their own round-robin counters; groups that do not exist are left out', () => {
  const fwd = (weights: [string, number][]) => [{ Type: 'forward', ForwardConfig: { TargetGroups: weights.map(([n, w]) => ({ TargetGroupArn: tgArn(n), Weight: w })) } }];
  const t = compileTable(
    snapshot({
      targetGroups: [tg('a'), tg('b')],
      listeners: [listener(80, fwd([['a', 80], ['b', 20]])), listener(81, fwd([['b', 1], ['nope', 5]]))],
    }),
    1,
  );
  const a = t.listeners.get(80)!.defaultAction as ForwardAction;
  const b = t.listeners.get(81)!.defaultAction as ForwardAction;
  assert.deepEqual([a.groups.length, a.totalWeight, b.groups, b.totalWeight], [2, 100, [tgArn('b')], 1]);
  assert.notEqual(a.cursor, b.cursor);
  assert.equal(t.weightCounters, 3);
});

test('records the API would never write compile to something harmless', () => {
  const t = compileTable(
    snapshot({
      loadBalancers: [lb({ 'idle_timeout.timeout_seconds': 'soon' })],
      targetGroups: [tg('odd', { attributes: { 'slow_start.duration_seconds': '-3' }, healthCheck: { enabled: true, port: 'nope', matcher: '', intervalSeconds: 0 } as never })],
      listeners: [
        listener(80, []),
        listener(81, [{ Type: 'redirect' }]),
        listener(82, [{ Type: 'forward', TargetGroupArn: tgArn('odd') }], { lbArn: `${ARN}:loadbalancer/app/missing/2` }),
      ],
      rules: [{ listenerArn: `${LB}/l80`, priority: 1, actions: [] } as unknown as RuleRecord],
    }),
    1,
  );
  assert.equal(t.listeners.get(80)!.idleMs, 60_000);
  const empty = t.listeners.get(80)!.defaultAction;
  assert.deepEqual(empty.type === 'forward' ? empty.groups : undefined, [], 'no actions: a forward to nothing (503)');
  assert.equal(t.listeners.get(81)!.defaultAction.type, 'forward', 'a redirect without its settings forwards to nothing (503)');
  assert.equal(t.listeners.has(82), false, 'a listener of a load balancer that does not exist is not served');
  const odd = t.groups.get(tgArn('odd'))!;
  assert.deepEqual([odd.slowStartMs, odd.healthCheck?.port, odd.healthCheck?.intervalSeconds, odd.healthCheck?.matches(200)], [0, undefined, 30, true]);
});
