// The CLI's pure pieces on plain data: the exit status a stopped task stands for (and when it
// never started), a revised task definition, --env pairs, target health by task, the rollback
// target, event and table formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthByTask, neverStarted, type TargetHealth, type WireTask, type WireTaskDefinition } from '../../src/cli/api.js';
import { parseEnvPairs, revisedTaskDefinition, rollbackTarget, shortEvent } from '../../src/cli/deploy.js';
import { duration, table, taskDefinitionName } from '../../src/cli/format.js';
import { DID_NOT_START, exitStatusOf } from '../../src/cli/run.js';
import type { BerthApi } from '../../src/cli/api.js';

const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef0123456789abcdef';
const TD: Pick<WireTaskDefinition, 'containerDefinitions'> = { containerDefinitions: [{ name: 'app' }, { name: 'side', essential: false }] };

function stopped(extra: Partial<WireTask>): WireTask {
  return { taskArn: TASK, taskDefinitionArn: 'x:1', lastStatus: 'STOPPED', ...extra };
}

test('exit status: the essential container\'s code; 125 when nothing ran; 1 when unknown', () => {
  assert.equal(exitStatusOf(stopped({ stopCode: 'EssentialContainerExited', startedAt: 1, containers: [{ name: 'app', exitCode: 0 }, { name: 'side', exitCode: 9 }] }), TD), 0, 'a non-essential failure does not count');
  assert.equal(exitStatusOf(stopped({ stopCode: 'EssentialContainerExited', startedAt: 1, containers: [{ name: 'app', exitCode: 3 }] }), TD), 3);
  // Ended before RUNNING was reported: recorded as TaskFailedToStart without startedAt, but it ran.
  const fast = stopped({ stopCode: 'TaskFailedToStart', containers: [{ name: 'app', exitCode: 4 }] });
  assert.equal(neverStarted(fast), false);
  assert.equal(exitStatusOf(fast, TD), 4);
  const pull = stopped({ stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: nope', containers: [{ name: 'app', reason: 'CannotPullContainerError: nope' }] });
  assert.equal(neverStarted(pull), true);
  assert.equal(exitStatusOf(pull, TD), DID_NOT_START);
  assert.equal(exitStatusOf(stopped({ stopCode: 'UserInitiated', startedAt: 1, containers: [{ name: 'app', exitCode: 143 }] }), TD), 143);
  assert.equal(exitStatusOf(stopped({ stopCode: 'UserInitiated', startedAt: 1, containers: [{ name: 'app' }] }), TD), 1, 'no exit code: not a success');
  assert.equal(exitStatusOf(stopped({ stopCode: 'EssentialContainerExited', startedAt: 1, containers: [{ name: 'app', exitCode: -1 }] }), TD), 1, 'out of range');
  assert.equal(neverStarted({ ...pull, lastStatus: 'RUNNING' }), false);
});

test('a revised task definition: only registerable fields, one container changed, environment merged', () => {
  const td = {
    taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:3',
    family: 'web',
    revision: 3,
    status: 'ACTIVE',
    requiresAttributes: [{ name: 'x' }],
    compatibilities: ['EC2'],
    registeredAt: 1,
    networkMode: 'bridge',
    containerDefinitions: [
      { name: 'web', image: 'web:1', environment: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
      { name: 'log', image: 'fluent:1' },
    ],
  } as WireTaskDefinition;
  const input = revisedTaskDefinition(td, { image: 'web:2', env: { B: 'changed', C: '' }, container: 'web' }, [{ key: 'team', value: 'a' }]);
  assert.deepEqual(Object.keys(input).sort(), ['containerDefinitions', 'family', 'networkMode', 'tags']);
  const [web, log] = input.containerDefinitions as Array<{ name: string; image: string; environment?: unknown }>;
  assert.equal(web!.image, 'web:2');
  assert.deepEqual(web!.environment, [{ name: 'A', value: '1' }, { name: 'B', value: 'changed' }, { name: 'C', value: '' }]);
  assert.deepEqual(log, { name: 'log', image: 'fluent:1' });
  assert.equal(td.containerDefinitions[0]!.image, 'web:1', 'the original is untouched');
  assert.throws(() => revisedTaskDefinition(td, { image: 'x', env: {} }), /has 2 containers \(web, log\): say which one to change with --container/);
  assert.throws(() => revisedTaskDefinition(td, { image: 'x', env: {}, container: 'db' }), /has no container 'db' \(it has web, log\)/);

  assert.deepEqual(parseEnvPairs(['A=1', 'B=x=y', 'C=']), { A: '1', B: 'x=y', C: '' });
  assert.throws(() => parseEnvPairs(['=1']), /takes NAME=value/);
  assert.throws(() => parseEnvPairs(['1A=x']), /not a valid environment variable name/);
});

test('target health by task: the target on the task\'s host port, worst over target groups, unregistered when absent', () => {
  const svc = {
    loadBalancers: [
      { targetGroupArn: 'tg-a', containerName: 'web', containerPort: 8080 },
      { targetGroupArn: 'tg-b', containerName: 'web', containerPort: 8080 },
    ],
  };
  const task = (id: string, port: number): WireTask => ({ taskArn: id, taskDefinitionArn: 'x', containers: [{ name: 'web', networkBindings: [{ bindingIP: '0.0.0.0', containerPort: 8080, hostPort: port }] }] });
  const targets: TargetHealth[] = [
    { targetGroupArn: 'tg-a', id: '127.0.0.1', port: 5001, state: 'healthy' },
    { targetGroupArn: 'tg-b', id: '127.0.0.1', port: 5001, state: 'healthy' },
    { targetGroupArn: 'tg-a', id: '127.0.0.1', port: 5002, state: 'healthy' },
    { targetGroupArn: 'tg-b', id: '127.0.0.1', port: 5002, state: 'draining' },
    { targetGroupArn: 'tg-a', id: '127.0.0.1', port: 5003, state: 'initial' },
  ];
  const h = healthByTask(svc, [task('t1', 5001), task('t2', 5002), task('t3', 5003), task('t4', 5004)], targets);
  assert.equal(h.get('t1')!.state, 'healthy');
  assert.equal(h.get('t2')!.state, 'draining');
  assert.equal(h.get('t3')!.state, 'unregistered', 'missing from tg-b');
  assert.equal(h.get('t4')!.state, 'unregistered');
});

test('rollback target: the newest other completed deployment, else the previous ACTIVE revision of the family', async () => {
  const api = {
    ecs: async (op: string, input: { familyPrefix?: string }) => {
      assert.equal(op, 'ListTaskDefinitions');
      assert.equal(input.familyPrefix, 'web');
      const arn = (n: string) => `arn:aws:ecs:us-east-1:123456789012:task-definition/${n}`;
      return { taskDefinitionArns: [arn('webapp:9'), arn('web:5'), arn('web:4'), arn('web:2')] };
    },
  } as unknown as BerthApi;
  const td = (n: string) => `arn:aws:ecs:us-east-1:123456789012:task-definition/${n}`;
  assert.equal(
    await rollbackTarget(api, {
      serviceArn: 's',
      serviceName: 'web',
      status: 'ACTIVE',
      taskDefinition: td('web:5'),
      deployments: [
        { id: 'new', status: 'PRIMARY', taskDefinition: td('web:5'), rolloutState: 'IN_PROGRESS', createdAt: 3 },
        { id: 'old', status: 'ACTIVE', taskDefinition: td('web:3'), rolloutState: 'COMPLETED', createdAt: 2 },
        { id: 'older', status: 'ACTIVE', taskDefinition: td('web:1'), rolloutState: 'COMPLETED', createdAt: 1 },
      ],
    }),
    td('web:3'),
  );
  assert.equal(await rollbackTarget(api, { serviceArn: 's', serviceName: 'web', status: 'ACTIVE', taskDefinition: td('web:5'), deployments: [{ id: 'new', status: 'PRIMARY', taskDefinition: td('web:5'), rolloutState: 'COMPLETED' }] }), td('web:4'));
  await assert.rejects(rollbackTarget(api, { serviceArn: 's', serviceName: 'web', status: 'ACTIVE', taskDefinition: td('web:2'), deployments: [] }), /no earlier ACTIVE revision of web than web:2/);
});

test('formatting: short events, tables without trailing blanks, durations, task definition names', () => {
  assert.equal(
    shortEvent('(service web) registered 1 targets in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef)'),
    'registered 1 targets in (target-group web-tg)',
  );
  assert.equal(table(['A', 'LONGER', 'C'], [['x', 'y', ''], ['wide cell', '\u001b[32mok\u001b[39m', 'z']]), 'A          LONGER  C\nx          y\nwide cell  \u001b[32mok\u001b[39m      z\n');
  assert.deepEqual([duration(0), duration(59_999), duration(65_000), duration(3_600_000 * 3 + 60_000)], ['0s', '59s', '1m05s', '3h01m']);
  assert.equal(taskDefinitionName('arn:aws:ecs:us-east-1:123456789012:task-definition/web:3'), 'web:3');
  assert.equal(taskDefinitionName('web:3'), 'web:3');
});
