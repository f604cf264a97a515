// A rolling update behind a real Berth application load balancer: tasks are registered in the
// target group, health-checked for real (node:http servers the agent simulator starts per task),
// the old revision is deregistered, drained for the deregistration delay and stopped, and the
// healthy count never drops below the desired count (minimumHealthyPercent 100).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateClusterCommand,
  RegisterTaskDefinitionCommand,
  CreateServiceCommand,
  UpdateServiceCommand,
  DeleteServiceCommand,
  DescribeServicesCommand,
  ListTasksCommand,
  DescribeTasksCommand,
  type Service,
} from '@aws-sdk/client-ecs';
import {
  ElasticLoadBalancingV2Client,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  CreateListenerCommand,
  DescribeTargetHealthCommand,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { request } from 'node:http';
import { startTestBerth, awsOk, eventually, type TestBerth } from '../helpers/fixture.js';
import {  } from '../../src/control/serviceController.js';
import { KIND, clusterScopedKey } from '../../src/domain/ecs/keys.js';
import type { TaskRecord } from '../../src/domain/ecs/records.js';
import { freePort } from '../lb/backends.js';
import { AgentSimulator } from './simulator.js';

let berth: TestBerth;
let ecs: ECSClient;
let elb: ElasticLoadBalancingV2Client;

before(async () => {
  berth = await startTestBerth();
  berth.controller.configure({ intervalMs: 100 });
  berth.loadBalancer.configure({ secondMs: 50 });
  ecs = new ECSClient(berth.clientConfig);
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
});
after(async () => {
  const errors = berth.controller.errors;
  assert.deepEqual(errors, [], 'the controller reconciled without errors');
  ecs.destroy();
  elb.destroy();
  await berth.close();
});

function getStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

test('rolling update to revision 2 with a target group: min 100 / max 200, drain, stop, services-stable', async () => {
  const C = 'roll';
  await ecs.send(new CreateClusterCommand({ clusterName: C }));
  const sim = new AgentSimulator(berth, ecs, { cluster: C });
  let sampling = true;
  try {
    await sim.addInstance();
    await sim.addInstance();
    const lbArn = (await elb.send(new CreateLoadBalancerCommand({ Name: 'roll', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
    const tg = (
      await elb.send(
        new CreateTargetGroupCommand({ Name: 'roll-web', Protocol: 'HTTP', Port: 80, TargetType: 'ip', HealthCheckPath: '/', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 2, HealthyThresholdCount: 2, UnhealthyThresholdCount: 2 }),
      )
    ).TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
    const port = await freePort();
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
    for (const image of ['web:1', 'web:2']) {
      await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image, cpu: 128, memory: 128, portMappings: [{ containerPort: 8080, hostPort: 0 }] }] }));
    }
    await ecs.send(
      new CreateServiceCommand({
        cluster: C,
        serviceName: 'web',
        taskDefinition: 'web:1',
        desiredCount: 4,
        loadBalancers: [{ targetGroupArn: tg, containerName: 'web', containerPort: 8080 }],
        deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200 },
      }),
    );
    const describe = async (): Promise<Service> => (await ecs.send(new DescribeServicesCommand({ cluster: C, services: ['web'] }))).services![0]!;
    const healthy = async () => ((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions ?? []).filter((h) => h.TargetHealth?.State === 'healthy');
    await eventually(async () => (await healthy()).length === 4 && (await describe()).events!.some((e) => e.message!.includes('steady state')), { what: '4 healthy targets, steady', timeoutMs: 15_000 });
    const v1 = (await describe()).events!.map((e) => e.message!);
    assert.ok(v1.filter((m) => m.startsWith('(service web) registered ')).length >= 1, JSON.stringify(v1));

    // Sample healthy targets and requests through the listener while the update rolls.
    const samples: number[] = [];
    const codes: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        samples.push((await healthy()).length);
        codes.push(await getStatus(port));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await ecs.send(new UpdateServiceCommand({ cluster: C, service: 'web', taskDefinition: 'web:2' }));
    const done = await eventually(
      async () => {
        const s = await describe();
        return s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && s.deployments![0]!.taskDefinition!.endsWith('web:2') && s.runningCount === 4 && s.events!.some((e) => e.message === '(service web) has reached a steady state.' ) && s.events![0]!.message!.includes('steady state') && s;
      },
      { what: 'rollout to web:2 completed', timeoutMs: 20_000 },
    );
    sampling = false;
    await sampler;
    await awsOk(berth.awsEnv, ['ecs', 'wait', 'services-stable', '--cluster', C, '--services', 'web']);

    assert.ok(samples.length >= 3, `sampled ${samples.length} times`);
    assert.ok(Math.min(...samples) >= 4, `healthy targets never below 4: ${samples.join(',')}`);
    assert.ok(codes.every((c) => c === 200), `every request through the load balancer answered 200: ${codes.join(',')}`);
    const msgs = done.events!.map((e) => e.message!);
    if (process.env.BERTH_TEST_VERBOSE) console.log(samples.join(','), '\n' + msgs.join('\n'));
    for (const want of [/^\(service web\) deregistered [1-4] targets in \(target-group (\S+)\)$/, /^\(service web\) has begun draining connections on [1-4] tasks\.$/, /^\(service web\) has stopped [1-4] running tasks: /]) {
      assert.ok(msgs.some((m) => want.test(m)), `event ${want} in ${JSON.stringify(msgs)}`);
    }
    assert.ok(msgs.some((m) => /deployment ecs-svc\/\d+\) deployment completed/.test(m)));

    // Old tasks: deregistered (drainStartedAt), then stopped by the scheduler, and STOPPED.
    const stoppedArns = (await ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'web', desiredStatus: 'STOPPED' }))).taskArns!;
    const old = (await ecs.send(new DescribeTasksCommand({ cluster: C, tasks: stoppedArns }))).tasks!;
    assert.equal(old.length, 4);
    for (const t of old) {
      assert.ok(t.taskDefinitionArn!.endsWith('web:1'));
      assert.equal(t.stopCode, 'ServiceSchedulerInitiated');
      assert.match(t.stoppedReason!, /^Scaling activity initiated by \(deployment ecs-svc\/\d+\)$/);
      const rec = (await berth.platform.store.get<TaskRecord>(KIND.task, clusterScopedKey('us-east-1', C, t.taskArn!.split('/').pop()!)))!.value;
      assert.ok(rec.drainStartedAt !== undefined && rec.stoppingAt! - rec.drainStartedAt >= 1000, `drained for the 1 s deregistration delay before the stop (${rec.stoppingAt! - rec.drainStartedAt!} ms)`);
    }
    const targets = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions!;
    const running = (await ecs.send(new DescribeTasksCommand({ cluster: C, tasks: (await ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'web' }))).taskArns! }))).tasks!;
    const ports = running.map((t) => t.containers![0]!.networkBindings![0]!.hostPort).sort();
    assert.deepEqual(targets.filter((h) => h.TargetHealth?.State === 'healthy').map((h) => h.Target!.Port).sort(), ports, 'the target group holds exactly the new tasks');

    // DeleteService --force behind the load balancer: targets drained, tasks stopped, INACTIVE.
    await ecs.send(new DeleteServiceCommand({ cluster: C, service: 'web', force: true }));
    const gone = await eventually(async () => {
      const s = await describe();
      return s.status === 'INACTIVE' && s;
    }, { what: 'deleted service INACTIVE', timeoutMs: 15_000 });
    assert.deepEqual((await ecs.send(new ListTasksCommand({ cluster: C, serviceName: 'web' }))).taskArns, []);
    assert.equal((await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions!.filter((h) => h.TargetHealth?.State !== 'draining').length, 0);
    assert.ok(gone.events!.some((e) => /^\(service web\) has begun draining connections on 4 tasks\.$/.test(e.message!)));
  } finally {
    sampling = false;
    await sim.stop();
  }
});
