import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SERVICE_STRATEGY, PlacementValidationError, orderForTermination, place, seededRandom, taskGroupOf, validatePlacement } from '../../src/domain/placement/placement.js';
import type { ContainerInstanceView, ExistingTaskRef, PlacementRequest, PlacementStrategySpec } from '../../src/domain/placement/types.js';
import { placeNaive } from './reference-placement.js';

function inst(id: string, over: Partial<ContainerInstanceView> & { az?: string; type?: string } = {}): ContainerInstanceView {
  const { az = 'us-east-1a', type = 't3.medium', ...rest } = over;
  return {
    id,
    arn: `arn:aws:ecs:us-east-1:000000000000:container-instance/demo/${id}`,
    ec2InstanceId: `i-${id}`,
    status: 'ACTIVE',
    agentConnected: true,
    attributes: { 'ecs.availability-zone': az, 'ecs.instance-type': type, 'ecs.os-type': 'linux' },
    registeredCpu: 2048,
    registeredMemory: 4096,
    remainingCpu: 2048,
    remainingMemory: 4096,
    usedPorts: [{ port: 22 }, { port: 51678 }],
    ...rest,
  };
}

const ids = (r: { placements: { containerInstanceId: string }[] }) => r.placements.map((p) => p.containerInstanceId);
const tally = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

describe('placement: eligibility and failure reasons', () => {
  it('only uses ACTIVE instances with a connected agent; disconnected ones fail with AGENT, others are ignored', () => {
    const r = place({
      count: 2,
      task: { cpu: 128, memory: 128, group: 'family:web' },
      instances: [inst('draining', { status: 'DRAINING' }), inst('gone', { agentConnected: false }), inst('ok')],
      strategy: [{ type: 'binpack', field: 'memory' }],
    });
    assert.deepEqual(ids(r), ['ok', 'ok']);
    assert.equal(r.unplaced, 0);
    assert.deepEqual(r.failures, []);

    const none = place({ count: 1, task: { cpu: 1, memory: 1 }, instances: [inst('gone', { agentConnected: false })] });
    assert.equal(none.unplaced, 1);
    assert.deepEqual(none.failures, [{ arn: inst('gone').arn, reason: 'AGENT' }]);
    assert.match(none.message!, /closest matching \(container-instance gone\) encountered error "AGENT"/);
    const drainingOnly = place({ count: 1, task: { cpu: 1, memory: 1, serviceName: 'web' }, instances: [inst('d', { status: 'DRAINING' })] });
    assert.deepEqual(drainingOnly.failures, [{ reason: 'No Container Instances were found in your cluster.' }]);
    assert.match(drainingOnly.message!, /Reason: No Container Instances were found in your cluster\./);
  });

  it('reports RESOURCE:CPU, RESOURCE:MEMORY and RESOURCE:PORTS per instance, and the closest match in ECS words', () => {
    const r = place({
      count: 1,
      task: { cpu: 1024, memory: 2048, hostPorts: [{ port: 80 }], serviceName: 'web', group: 'service:web' },
      instances: [inst('small-cpu', { remainingCpu: 512 }), inst('small-mem', { remainingMemory: 1024 }), inst('port-80', { usedPorts: [{ port: 80 }] })],
    });
    assert.equal(r.placements.length, 0);
    assert.deepEqual(
      r.failures.map((f) => f.reason),
      ['RESOURCE:CPU', 'RESOURCE:MEMORY', 'RESOURCE:PORTS'],
    );
    assert.deepEqual(r.closest, { containerInstanceId: 'port-80', reason: 'RESOURCE:PORTS' });
    assert.equal(
      r.message,
      '(service web) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance port-80) is already using a port required by your task. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.',
    );
    const mem = place({ count: 1, task: { cpu: 1, memory: 8192, serviceName: 'api' }, instances: [inst('a')] });
    assert.match(mem.message!, /^\(service api\) was unable to place a task because no container instance met all of its requirements\. The closest matching \(container-instance a\) has insufficient memory available\./);
    const empty = place({ count: 1, task: { cpu: 1, memory: 1, serviceName: 'api' }, instances: [] });
    assert.match(empty.message!, /Reason: No Container Instances were found in your cluster\./);
    assert.deepEqual(empty.failures, [{ reason: 'No Container Instances were found in your cluster.' }]);
  });

  it('requires the task definition attributes (ATTRIBUTE) and defaults the group from service or family', () => {
    const withCap = inst('cap', { attributes: { 'ecs.availability-zone': 'us-east-1a', 'com.amazonaws.ecs.capability.docker-remote-api.1.19': null } });
    const r = place({
      count: 2,
      task: { cpu: 1, memory: 1, family: 'web', requiredAttributes: [{ name: 'com.amazonaws.ecs.capability.docker-remote-api.1.19' }] },
      instances: [inst('plain'), withCap],
      constraints: [{ type: 'distinctInstance' }],
    });
    assert.deepEqual(ids(r), ['cap'], 'family:web copies are kept apart and only the capable instance qualifies');
    assert.deepEqual(r.failures.map((f) => f.reason), ['ATTRIBUTE', 'DistinctInstance']);
    assert.equal(taskGroupOf({ cpu: 1, memory: 1, family: 'web' }), 'family:web');
    assert.equal(taskGroupOf({ cpu: 1, memory: 1, family: 'web', serviceName: 'api' }), 'service:api');
    assert.equal(taskGroupOf({ cpu: 1, memory: 1, family: 'web', group: 'batch' }), 'batch');
  });

  it('keeps TCP and UDP host ports apart', () => {
    const i = inst('a', { usedPorts: [{ port: 53, protocol: 'udp' }] });
    assert.equal(place({ count: 1, task: { cpu: 1, memory: 1, hostPorts: [{ port: 53, protocol: 'tcp' }] }, instances: [i] }).unplaced, 0);
    const r = place({ count: 1, task: { cpu: 1, memory: 1, hostPorts: [{ port: 53, protocol: 'udp' }] }, instances: [i] });
    assert.deepEqual(r.failures.map((f) => f.reason), ['RESOURCE:PORTS_UDP']);
  });

  it('counts resources and static ports used by copies placed earlier in the same call', () => {
    const r = place({
      count: 5,
      task: { cpu: 512, memory: 1500, group: 'g' },
      instances: [inst('a'), inst('b')],
      strategy: [{ type: 'binpack', field: 'memory' }],
    });
    assert.deepEqual(ids(r), ['a', 'a', 'b', 'b']);
    assert.equal(r.unplaced, 1);
    assert.equal(r.closest?.reason, 'RESOURCE:MEMORY');

    const ports = place({ count: 3, task: { cpu: 1, memory: 1, hostPorts: [{ port: 8080 }], group: 'g' }, instances: [inst('a'), inst('b')] });
    assert.deepEqual(new Set(ids(ports)), new Set(['a', 'b']));
    assert.equal(ports.unplaced, 1);
    assert.equal(ports.closest?.reason, 'RESOURCE:PORTS');
  });

  it('places dynamic host ports (port 0) any number of times', () => {
    const r = place({ count: 4, task: { cpu: 1, memory: 1, hostPorts: [{ port: 0 }] }, instances: [inst('a')] });
    assert.deepEqual(ids(r), ['a', 'a', 'a', 'a']);
  });
});

describe('placement: constraints', () => {
  const cluster = [inst('a1', { az: 'us-east-1a' }), inst('b1', { az: 'us-east-1b', type: 't2.small' }), inst('c1', { az: 'us-east-1c', type: 't2.micro' })];

  it('distinctInstance puts each task of the group on a different instance, counting running ones', () => {
    const r = place({
      count: 3,
      task: { cpu: 1, memory: 1, group: 'service:web', serviceName: 'web' },
      instances: cluster,
      existingTasks: [{ containerInstanceId: 'a1', group: 'service:web' }, { containerInstanceId: 'b1', group: 'service:other' }],
      constraints: [{ type: 'distinctInstance' }],
    });
    assert.deepEqual(new Set(ids(r)), new Set(['b1', 'c1']));
    assert.equal(r.unplaced, 1);
    assert.equal(r.closest?.reason, 'DistinctInstance');
    assert.match(r.message!, /does not satisfy the DistinctInstance placement constraint/);
  });

  it('memberOf filters with CQL, including task:group that changes as copies are placed', () => {
    const r = place({
      count: 4,
      task: { cpu: 1, memory: 1, group: 'service:web' },
      instances: cluster,
      constraints: [{ type: 'memberOf', expression: 'attribute:ecs.instance-type =~ t2.*' }],
    });
    assert.deepEqual(new Set(ids(r)), new Set(['b1', 'c1']));
    assert.equal(r.unplaced, 0);

    const avoid = place({
      count: 3,
      task: { cpu: 1, memory: 1, group: 'service:web' },
      instances: cluster,
      existingTasks: [{ containerInstanceId: 'c1', group: 'database' }],
      constraints: [{ type: 'memberOf', expression: 'not(task:group == database) and not(task:group == service:web)' }],
    });
    assert.deepEqual(ids(avoid).sort(), ['a1', 'b1']);
    assert.equal(avoid.unplaced, 1);
    assert.deepEqual(avoid.failures.map((f) => f.reason), ['MemberOf', 'MemberOf', 'MemberOf']);
  });

  it('rejects invalid constraints and strategies with actionable messages', () => {
    const cases: [Parameters<typeof validatePlacement>, RegExp][] = [
      [[[{ type: 'memberOf' }]], /expression is required/],
      [[[{ type: 'distinctInstance', expression: 'attribute:a exists' }]], /cannot be specified for a distinctInstance/],
      [[[{ type: 'sameInstance' }]], /Invalid placement constraint type 'sameInstance'/],
      [[[{ type: 'memberOf', expression: 'bogus == 1' }]], /unknown subject 'bogus'/],
      [[[], [{ type: 'binpack', field: 'disk' }]], /Invalid field 'disk' for the binpack/],
      [[[], [{ type: 'spread', field: 'zone' }]], /Invalid field 'zone' for the spread/],
      [[[], [{ type: 'random', field: 'cpu' }]], /field cannot be specified for the random/],
      [[[], [{ type: 'pack' }]], /Invalid placement strategy type 'pack'/],
      [[Array.from({ length: 11 }, () => ({ type: 'distinctInstance' }))], /Too many placement constraints: 11/],
      [[[], Array.from({ length: 6 }, () => ({ type: 'random' }))], /Too many placement strategies: 6/],
    ];
    for (const [args, msg] of cases) assert.throws(() => validatePlacement(...args), (e: unknown) => e instanceof PlacementValidationError && msg.test(e.message));
    assert.throws(() => place({ count: 1, task: { cpu: 1, memory: 1 }, instances: cluster, constraints: [{ type: 'memberOf', expression: '(' }] }), PlacementValidationError);
  });
});

describe('placement: strategies', () => {
  const azs = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
  const nine = Array.from({ length: 9 }, (_, i) => inst(`i${i}`, { az: azs[i % 3], remainingMemory: 1000 + i * 100 }));
  const azOf = (id: string) => nine.find((x) => x.id === id)!.attributes['ecs.availability-zone']!;

  it('spread by AZ balances tasks of the group, counting already running ones', () => {
    const r = place({ count: 9, task: { cpu: 1, memory: 1, group: 'service:web' }, instances: nine, strategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }] });
    assert.deepEqual(tally(ids(r).map(azOf)), { 'us-east-1a': 3, 'us-east-1b': 3, 'us-east-1c': 3 });
    const existing: ExistingTaskRef[] = [
      { containerInstanceId: 'i0', group: 'service:web' },
      { containerInstanceId: 'i3', group: 'service:web' },
      { containerInstanceId: 'i1', group: 'service:other' },
    ];
    const r2 = place({ count: 4, task: { cpu: 1, memory: 1, group: 'service:web' }, instances: nine, existingTasks: existing, strategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }] });
    assert.deepEqual(tally(ids(r2).map(azOf)), { 'us-east-1b': 2, 'us-east-1c': 2 });
  });

  it('spread by AZ then binpack memory fills the fullest instance of the emptiest AZ', () => {
    const r = place({
      count: 3,
      task: { cpu: 1, memory: 100, group: 'service:web' },
      instances: nine,
      strategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }, { type: 'binpack', field: 'memory' }],
    });
    // Least remaining memory per AZ: i0 (a, 1000), i1 (b, 1100), i2 (c, 1200).
    assert.deepEqual(ids(r), ['i0', 'i1', 'i2']);
  });

  it('the first strategy has priority: binpack then spread packs one instance', () => {
    const r = place({
      count: 3,
      task: { cpu: 1, memory: 100, group: 'g' },
      instances: nine,
      strategy: [{ type: 'binpack', field: 'memory' }, { type: 'spread', field: 'attribute:ecs.availability-zone' }],
    });
    assert.deepEqual(ids(r), ['i0', 'i0', 'i0']);
  });

  it('binpack on cpu and spread over instanceId', () => {
    const cl = [inst('x', { remainingCpu: 1000 }), inst('y', { remainingCpu: 300 }), inst('z', { remainingCpu: 2000 })];
    assert.deepEqual(ids(place({ count: 4, task: { cpu: 100, memory: 1 }, instances: cl, strategy: [{ type: 'binpack', field: 'cpu' }] })), ['y', 'y', 'y', 'x']);
    assert.deepEqual(ids(place({ count: 4, task: { cpu: 100, memory: 1, group: 'g' }, instances: cl, strategy: [{ type: 'spread', field: 'instanceId' }] })), ['x', 'y', 'z', 'x']);
  });

  it('the default service strategy spreads across AZs and then instances', () => {
    const r = place({ count: 9, task: { cpu: 1, memory: 1, group: 'service:s' }, instances: nine, strategy: DEFAULT_SERVICE_STRATEGY });
    assert.equal(new Set(ids(r)).size, 9);
  });

  it('random is reproducible with a seed, uses an injected source, and covers all instances', () => {
    const req: PlacementRequest = { count: 200, task: { cpu: 1, memory: 1 }, instances: nine, strategy: [{ type: 'random' }], seed: 42 };
    assert.deepEqual(ids(place(req)), ids(place(req)));
    assert.notDeepEqual(ids(place(req)), ids(place({ ...req, seed: 43 })));
    const counts = tally(ids(place(req)));
    assert.equal(Object.keys(counts).length, 9);
    for (const n of Object.values(counts)) assert.ok(n > 5, `roughly uniform: ${JSON.stringify(counts)}`);
    let calls = 0;
    const rng = seededRandom(7);
    place({ ...req, count: 3, random: () => (calls++, rng()) });
    assert.ok(calls > 0, 'the injected random source is used');
    // random after spread only breaks spread's ties: still balanced per AZ.
    const sr = place({ ...req, count: 30, task: { cpu: 1, memory: 1, group: 'g' }, strategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }, { type: 'random' }] });
    assert.deepEqual(tally(ids(sr).map(azOf)), { 'us-east-1a': 10, 'us-east-1b': 10, 'us-east-1c': 10 });
  });
});

describe('placement: differential check against a naive reference', () => {
  it('agrees with the naive re-computing placer on 300 random clusters and never overcommits', () => {
    const strategies: PlacementStrategySpec[][] = [
      [{ type: 'spread', field: 'attribute:ecs.availability-zone' }, { type: 'binpack', field: 'memory' }],
      [{ type: 'binpack', field: 'cpu' }],
      [{ type: 'spread', field: 'instanceId' }],
      [{ type: 'spread', field: 'attribute:rack' }, { type: 'spread', field: 'instanceId' }, { type: 'binpack', field: 'memory' }],
      [{ type: 'binpack', field: 'memory' }, { type: 'spread', field: 'host' }],
    ];
    const exprs = [undefined, 'attribute:ecs.availability-zone != us-east-1c', 'attribute:ecs.instance-type =~ t3.* or runningTasksCount < 2', 'not(task:group == service:web)'];
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = seededRandom(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
      const m = 1 + Math.floor(rnd() * 12);
      const instances = Array.from({ length: m }, (_, i) => {
        const attrs: Record<string, string | null> = { 'ecs.availability-zone': pick(['us-east-1a', 'us-east-1b', 'us-east-1c']), 'ecs.instance-type': pick(['t3.small', 'm5.large']) };
        if (rnd() < 0.7) attrs.rack = pick(['r1', 'r2']);
        return inst(`n${i}`, {
          status: rnd() < 0.1 ? 'DRAINING' : 'ACTIVE',
          agentConnected: rnd() > 0.1,
          attributes: attrs,
          remainingCpu: Math.floor(rnd() * 4) * 256,
          remainingMemory: Math.floor(rnd() * 8) * 256,
          usedPorts: rnd() < 0.3 ? [{ port: 80 }] : [],
          runningTasksCount: Math.floor(rnd() * 3),
        });
      });
      const existingTasks = Array.from({ length: Math.floor(rnd() * 6) }, () => ({ containerInstanceId: pick(instances).id, group: pick(['service:web', 'service:db']) }));
      const expr = pick(exprs);
      const req: PlacementRequest = {
        count: 1 + Math.floor(rnd() * 10),
        task: { cpu: pick([0, 128, 256]), memory: pick([128, 256, 512]), hostPorts: rnd() < 0.2 ? [{ port: 80 }] : [], group: 'service:web' },
        instances,
        existingTasks,
        constraints: [...(expr ? [{ type: 'memberOf', expression: expr }] : []), ...(rnd() < 0.2 ? [{ type: 'distinctInstance' }] : [])],
        strategy: pick(strategies),
      };
      const fast = place(req);
      const slow = placeNaive(req);
      assert.deepEqual(ids(fast), ids(slow), `seed ${seed}`);
      assert.equal(fast.unplaced, slow.unplaced, `seed ${seed}`);
      assert.equal(fast.placements.length + fast.unplaced, req.count);
      for (const i of instances) {
        const n = fast.placements.filter((p) => p.containerInstanceId === i.id).length;
        assert.ok(n * req.task.cpu <= i.remainingCpu && n * req.task.memory <= i.remainingMemory, `seed ${seed}: ${i.id} overcommitted`);
      }
      if (fast.unplaced > 0) assert.equal(fast.failures.length, instances.filter((i) => i.status === 'ACTIVE').length || 1);
    }
  });
});

describe('placement: termination order', () => {
  const instances = new Map([
    ['a1', { attributes: { 'ecs.availability-zone': 'a' }, remainingCpu: 100, remainingMemory: 100 }],
    ['a2', { attributes: { 'ecs.availability-zone': 'a' }, remainingCpu: 100, remainingMemory: 900 }],
    ['b1', { attributes: { 'ecs.availability-zone': 'b' }, remainingCpu: 100, remainingMemory: 500 }],
  ]);
  const tasks = [
    { taskId: 't1', containerInstanceId: 'a1' },
    { taskId: 't2', containerInstanceId: 'a2' },
    { taskId: 't3', containerInstanceId: 'a1' },
    { taskId: 't4', containerInstanceId: 'b1' },
  ];
  it('spread removes from the fullest AZ first, binpack breaks ties towards the emptiest instance', () => {
    const order = orderForTermination(tasks, tasks, instances, [{ type: 'spread', field: 'attribute:ecs.availability-zone' }, { type: 'binpack', field: 'memory' }]);
    assert.deepEqual(order.map((t) => t.taskId), ['t2', 't1', 't4', 't3']);
  });
  it('spread over instances and no strategy keep the input order for ties', () => {
    assert.deepEqual(orderForTermination(tasks, tasks, instances, [{ type: 'spread', field: 'instanceId' }]).map((t) => t.taskId), ['t1', 't2', 't3', 't4']);
    assert.deepEqual(orderForTermination(tasks, tasks, instances, [{ type: 'random' }]).map((t) => t.taskId), ['t1', 't2', 't3', 't4']);
  });
});
