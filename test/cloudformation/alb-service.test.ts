// `aws cloudformation deploy` of an ECS service behind an application load balancer, against a
// real Berth with a real agent (process driver: each task is a tiny node HTTP server): the
// service answers through the load balancer's listener; `--parameter-overrides ImageVersion=v2`
// rolls it with not one failed request under load; an update whose template holds a resource
// that cannot be created fails, rolls the service back to v2 (still under load) and says why
// in describe-stack-events; delete leaves no task, service, target group, listener or load
// balancer. The load balancer sits in the default VPC's subnets (subnet-a, subnet-b).
// The CLI polls with one-second waiters (test/helpers/awsWaiters.ts), not deploy's 30 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aws, awsEnvFor, awsOk, eventually, hasAwsCli } from '../helpers/fixture.js';
import { freePort, get, loadGenerator } from '../lb/backends.js';
import { startCliBerth, type CliBerth } from '../cli/helpers.js';
import { withFastWaiters } from '../helpers/awsWaiters.js';

/** The container: answers every request with its VERSION (body and x-backend header). */
const WEB_JS = "require('http').createServer((q,s)=>{s.setHeader('x-backend',process.env.VERSION);s.end(process.env.VERSION)}).listen(process.env.PORT)";

/** The service stack; `broken` adds a log group Logs refuses (8 days), created once the service has updated. */
function template(broken: boolean): string {
  const resources: Record<string, unknown> = {
    LoadBalancer: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Scheme: 'internet-facing', Subnets: ['subnet-a', 'subnet-b'], Tags: [{ Key: 'app', Value: 'web' }] } },
    TargetGroup: {
      Type: 'AWS::ElasticLoadBalancingV2::TargetGroup',
      Properties: {
        Port: 8080,
        Protocol: 'HTTP',
        TargetType: 'ip',
        VpcId: 'vpc-local',
        HealthCheckPath: '/',
        HealthCheckIntervalSeconds: 5,
        HealthCheckTimeoutSeconds: 2,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 2,
        TargetGroupAttributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }],
      },
    },
    Listener: {
      Type: 'AWS::ElasticLoadBalancingV2::Listener',
      Properties: { LoadBalancerArn: { Ref: 'LoadBalancer' }, Port: { Ref: 'ListenerPort' }, Protocol: 'HTTP', DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: 'TargetGroup' } }] },
    },
    TaskDefinition: {
      Type: 'AWS::ECS::TaskDefinition',
      Properties: {
        ContainerDefinitions: [
          {
            Name: 'web',
            Image: 'host',
            Memory: 32,
            PortMappings: [{ ContainerPort: 8080, HostPort: 0 }],
            Command: [{ Ref: 'NodePath' }, '-e', WEB_JS],
            Environment: [{ Name: 'VERSION', Value: { Ref: 'ImageVersion' } }],
          },
        ],
      },
    },
    Service: {
      Type: 'AWS::ECS::Service',
      DependsOn: 'Listener',
      Properties: {
        Cluster: 'default',
        DesiredCount: 2,
        TaskDefinition: { Ref: 'TaskDefinition' },
        LoadBalancers: [{ TargetGroupArn: { Ref: 'TargetGroup' }, ContainerName: 'web', ContainerPort: 8080 }],
        DeploymentConfiguration: { MinimumHealthyPercent: 100, MaximumPercent: 200 },
      },
    },
  };
  if (broken) resources.Broken = { Type: 'AWS::Logs::LogGroup', DependsOn: 'Service', Properties: { RetentionInDays: 8 } };
  return JSON.stringify({
    AWSTemplateFormatVersion: '2010-09-09',
    Parameters: { ImageVersion: { Type: 'String', Default: 'v1' }, ListenerPort: { Type: 'Number' }, NodePath: { Type: 'String' } },
    Resources: resources,
    Outputs: {
      Url: { Value: { 'Fn::Sub': 'http://${LoadBalancer.DNSName}:${ListenerPort}' } },
      ServiceName: { Value: { 'Fn::GetAtt': ['Service', 'Name'] } },
    },
  });
}

let cb: CliBerth;
let env: NodeJS.ProcessEnv;
let dir: string;
let port: number;
before(async () => {
  cb = await startCliBerth();
  env = withFastWaiters(awsEnvFor(cb.berth.url, cb.berth.credentials));
  dir = mkdtempSync(join(tmpdir(), 'cfn-alb-'));
  writeFileSync(join(dir, 'service.json'), template(false));
  writeFileSync(join(dir, 'broken.json'), template(true));
  port = await freePort();
});
after(async () => {
  await cb.close();
  rmSync(dir, { recursive: true, force: true });
});

const deploy = (file: string, ...overrides: string[]) =>
  aws(env, ['cloudformation', 'deploy', '--stack-name', 'web', '--template-file', join(dir, file), '--parameter-overrides', `ListenerPort=${port}`, `NodePath=${process.execPath}`, ...overrides]);
/** The stack's latest events, for a failure message. */
const recentEvents = async () => (await aws(env, ['cloudformation', 'describe-stack-events', '--stack-name', 'web', '--max-items', '15', '--query', 'StackEvents[].[LogicalResourceId,ResourceStatus,ResourceStatusReason]', '--output', 'text'])).stdout;
const stack = async () => (await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'web'])).Stacks[0];
const physical = async (logicalId: string) => (await awsOk(env, ['cloudformation', 'describe-stack-resource', '--stack-name', 'web', '--logical-resource-id', logicalId])).StackResourceDetail.PhysicalResourceId as string;

test('aws cloudformation deploy: an ECS service behind an ALB, rolled by --parameter-overrides under load, a failed update rolled back, deleted clean', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const created = await deploy('service.json');
  assert.equal(created.status, 0, created.stderr + (await recentEvents()));
  const s = await stack();
  assert.equal(s.StackStatus, 'CREATE_COMPLETE');
  assert.match(s.Outputs.find((o: any) => o.OutputKey === 'Url').OutputValue, new RegExp(`^http://\\S+:${port}$`));
  assert.equal((await get(port, '/')).body, 'v1');
  const serviceArn = await physical('Service');
  const targetGroup = await physical('TargetGroup');
  const loadBalancer = await physical('LoadBalancer');
  const listener = await physical('Listener');
  const firstTaskDefinition = await physical('TaskDefinition');

  // The roll: a new task definition revision (a replacement), the service updated to it.
  const load = loadGenerator(port, '/', 2);
  const rolled = await deploy('service.json', 'ImageVersion=v2');
  const served = load.stats.total;
  assert.equal(rolled.status, 0, rolled.stderr + (await recentEvents()));
  assert.equal((await stack()).StackStatus, 'UPDATE_COMPLETE');
  await eventually(async () => load.stats.total > served + 5, { what: 'requests after the roll' });
  assert.equal((await get(port, '/')).body, 'v2');
  const secondTaskDefinition = await physical('TaskDefinition');
  assert.notEqual(secondTaskDefinition, firstTaskDefinition);
  const old = await awsOk(env, ['ecs', 'describe-task-definition', '--task-definition', firstTaskDefinition]);
  assert.equal(old.taskDefinition.status, 'INACTIVE', 'the replaced revision is deregistered in the cleanup');

  // The failed update: the service rolls to v3, then the broken log group fails and everything goes back.
  const failing = await deploy('broken.json', 'ImageVersion=v3');
  await load.stop();
  assert.notEqual(failing.status, 0);
  assert.equal(load.failures(), 0, `failed requests: ${JSON.stringify([...load.stats.byStatus])}`);
  assert.ok(load.stats.byBackend.get('v1')! > 0 && load.stats.byBackend.get('v2')! > 0, JSON.stringify([...load.stats.byBackend]));
  const after = await stack();
  assert.equal(after.StackStatus, 'UPDATE_ROLLBACK_COMPLETE');
  assert.equal(after.Parameters.find((p: any) => p.ParameterKey === 'ImageVersion').ParameterValue, 'v2');
  const events = (await awsOk(env, ['cloudformation', 'describe-stack-events', '--stack-name', 'web'])).StackEvents;
  const failed = events.find((e: any) => e.LogicalResourceId === 'Broken' && e.ResourceStatus === 'CREATE_FAILED');
  assert.ok(failed, JSON.stringify(events.slice(0, 12)));
  assert.match(failed.ResourceStatusReason, /retentionInDays/);
  assert.ok(events.some((e: any) => e.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS' && /\[Broken\]/.test(e.ResourceStatusReason)));
  // The service was rolled twice in that update: to v3, then back to v2.
  const failedUpdate = events.slice(0, events.findIndex((e: any) => e.LogicalResourceId === 'web' && e.ResourceStatus === 'UPDATE_COMPLETE'));
  assert.equal(failedUpdate.filter((e: any) => e.LogicalResourceId === 'Service' && e.ResourceStatus === 'UPDATE_COMPLETE').length, 2, JSON.stringify(failedUpdate));
  const service = (await awsOk(env, ['ecs', 'describe-services', '--cluster', 'default', '--services', serviceArn])).services[0];
  assert.equal(service.taskDefinition, secondTaskDefinition, 'the service is back on the v2 revision');
  assert.equal((await get(port, '/')).body, 'v2');

  // Delete: nothing of it remains.
  await awsOk(env, ['cloudformation', 'delete-stack', '--stack-name', 'web']);
  await eventually(async () => {
    const r = await aws(env, ['cloudformation', 'describe-stacks', '--stack-name', 'web']);
    return r.status !== 0 && /does not exist/.test(r.stderr);
  }, { what: 'the stack to be deleted', timeoutMs: 60_000, intervalMs: 500 });
  assert.deepEqual((await awsOk(env, ['ecs', 'list-tasks', '--cluster', 'default'])).taskArns, []);
  assert.deepEqual((await awsOk(env, ['ecs', 'list-services', '--cluster', 'default'])).serviceArns, []);
  assert.notEqual((await awsOk(env, ['ecs', 'describe-services', '--cluster', 'default', '--services', serviceArn])).services[0]?.status, 'ACTIVE');
  assert.deepEqual((await awsOk(env, ['elbv2', 'describe-load-balancers'])).LoadBalancers, []);
  assert.deepEqual((await awsOk(env, ['elbv2', 'describe-target-groups'])).TargetGroups, []);
  assert.notEqual((await aws(env, ['elbv2', 'describe-listeners', '--listener-arns', listener])).status, 0);
  assert.notEqual((await aws(env, ['elbv2', 'describe-target-groups', '--target-group-arns', targetGroup])).status, 0);
  assert.notEqual((await aws(env, ['elbv2', 'describe-load-balancers', '--load-balancer-arns', loadBalancer])).status, 0);
  await assert.rejects(get(port, '/'), 'the listener port is closed');
  assert.deepEqual((await awsOk(env, ['ecs', 'list-task-definitions', '--status', 'ACTIVE'])).taskDefinitionArns, []);
});
