// Placement: the narrow placeTask function over the scheduler's engine (binpack, spread,
// constraints, failure reasons),
// and concurrent RunTask calls never overcommitting one instance (real server, real SDK).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, CreateClusterCommand, RegisterContainerInstanceCommand, RegisterTaskDefinitionCommand, RunTaskCommand, DescribeContainerInstancesCommand } from '@aws-sdk/client-ecs';
import { placeTask } from '../../src/domain/ecs/launch.js';
import { type PlacementCandidate } from '../../src/domain/ecs/instances.js';
import { startTestBerth } from '../helpers/fixture.js';

function cand(id: string, cpu: number, memory: number, opts: { attrs?: Record<string, string>; groups?: string[]; agentConnected?: boolean } = {}): PlacementCandidate {
  return {
    id,
    arn: `arn:aws:ecs:us-east-1:123456789012:container-instance/c/${id}`,
    status: 'ACTIVE',
    agentConnected: opts.agentConnected ?? true,
    attributes: opts.attrs ?? {},
    registeredCpu: 4096,
    registeredMemory: 4096,
    remainingCpu: cpu,
    remainingMemory: memory,
    usedPorts: [{ port: 22 }],
    runningTasksCount: opts.groups?.length ?? 0,
    taskGroups: opts.groups ?? [],
  };
}
const req = { cpu: 100, memory: 100, ports: [] as number[], udpPorts: [] as number[], group: 'family:x', constraints: [], strategy: [] };

test('placeTask: binpack picks the fullest instance that fits, spread the emptiest, reasons per instance', () => {
  const cs = [cand('a', 1000, 900), cand('b', 1000, 300, { groups: ['g1', 'g2'] }), cand('c', 1000, 50)];
  const bin = placeTask(cs, { ...req, strategy: [{ type: 'binpack', field: 'memory' }] });
  assert.ok(bin.ok && bin.candidate.id === 'b');
  const spread = placeTask(cs, { ...req, strategy: [{ type: 'spread', field: 'instanceId' }] });
  assert.ok(spread.ok && spread.candidate.id === 'a');
  const none = placeTask(cs, { ...req, memory: 1000 });
  assert.deepEqual(none.ok ? [] : none.failures.map((f) => f.reason), ['RESOURCE:MEMORY', 'RESOURCE:MEMORY', 'RESOURCE:MEMORY']);
  const port = placeTask([cand('a', 1000, 1000)], { ...req, ports: [22] });
  assert.deepEqual(port.ok ? [] : port.failures.map((f) => f.reason), ['RESOURCE:PORTS']);
  const member = placeTask([cand('a', 1000, 1000, { attrs: { zone: 'x' } }), cand('b', 1000, 1000, { attrs: { zone: 'y' } })], { ...req, constraints: [{ type: 'memberOf', expression: 'attribute:zone == y' }] });
  assert.ok(member.ok && member.candidate.id === 'b');
  const distinct = placeTask([cand('a', 1000, 1000, { groups: ['family:x'] })], { ...req, constraints: [{ type: 'distinctInstance' }] });
  assert.deepEqual(distinct.ok ? [] : distinct.failures.map((f) => f.reason), ['DistinctInstance']);
  const member2 = placeTask([cand('a', 1000, 1000, { attrs: { zone: 'x' } })], { ...req, constraints: [{ type: 'memberOf', expression: 'attribute:zone == y' }] });
  assert.deepEqual(member2.ok ? [] : member2.failures.map((f) => f.reason), ['MemberOf']);
  assert.deepEqual(placeTask([], req), { ok: false, failures: [{ arn: undefined, reason: 'No Container Instances were found in your cluster.' }] });
  const agent = placeTask([cand('a', 1000, 1000, { agentConnected: false })], req);
  assert.deepEqual(agent.ok ? [] : agent.failures, [{ arn: cand('a', 0, 0).arn, reason: 'AGENT' }]);
});

test('concurrent RunTask calls never overcommit an instance', async () => {
  const berth = await startTestBerth();
  const ecs = new ECSClient(berth.clientConfig);
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: 'race' }));
    const ci = (await ecs.send(new RegisterContainerInstanceCommand({ cluster: 'race', totalResources: [{ name: 'CPU', type: 'INTEGER', integerValue: 4096 }, { name: 'MEMORY', type: 'INTEGER', integerValue: 1100 }] }))).containerInstance!;
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'half', containerDefinitions: [{ name: 'c', image: 'x', memory: 512 }] }));
    const results = await Promise.all(Array.from({ length: 6 }, () => ecs.send(new RunTaskCommand({ cluster: 'race', taskDefinition: 'half' }))));
    const placed = results.flatMap((r) => r.tasks ?? []);
    assert.equal(placed.length, 2, 'room for exactly two 512 MiB tasks in 1100 MiB');
    assert.ok(results.flatMap((r) => r.failures ?? []).every((f) => f.reason === 'RESOURCE:MEMORY'));
    const d = (await ecs.send(new DescribeContainerInstancesCommand({ cluster: 'race', containerInstances: [ci.containerInstanceArn!] }))).containerInstances![0]!;
    assert.equal(d.remainingResources!.find((r) => r.name === 'MEMORY')!.integerValue, 1100 - 1024);
  } finally {
    ecs.destroy();
    await berth.close();
  }
});
