// The shared fixture nathanpeck cluster-ec2-public-vpc.yml deployed unchanged with the real aws
// CLI: its VPC, subnets, gateway, routes and security group, and an Auto Scaling group whose
// instances are real `berth agent` processes registering in the stack's cluster. kill -9 of one
// agent: the group replaces it. Deleting the stack leaves no agent process behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { aws, awsOk, eventually, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';

const FIXTURE = fileURLToPath(new URL('../../../../shared/fixtures/cloudformation/nathanpeck-ecs-cloudformation/cluster/cluster-ec2-public-vpc.yml', import.meta.url));

/** Pids of `berth agent` processes started for this EC2 instance id (from /proc). */
function agentPids(instanceId: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.indexOf('--instance-id');
    if (i > 0 && argv[i + 1] === instanceId && argv.includes('agent')) out.push(Number(d));
  }
  return out;
}

interface Group {
  DesiredCapacity: number;
  Instances: Array<{ InstanceId: string; LifecycleState: string; AvailabilityZone: string }>;
}

let berth: TestBerth;
before(async () => {
  berth = await startTestBerth({ env: { BERTH_ASG_INTERVAL_MS: '250' } });
});
after(async () => {
  await berth.close();
});

const skip = !hasAwsCli() ? 'aws CLI not installed' : !existsSync(FIXTURE) ? `shared fixture not found at ${FIXTURE}` : false;

test('cluster-ec2-public-vpc.yml: the ASG agents join the cluster, a killed agent is replaced, delete leaves nothing running', { skip, timeout: 240_000 }, async () => {
  const env = berth.awsEnv;
  const deployed = await aws(env, ['cloudformation', 'deploy', '--stack-name', 'ec2-cluster', '--template-file', FIXTURE, '--capabilities', 'CAPABILITY_IAM', '--parameter-overrides', 'DesiredCapacity=2', 'InstanceType=t2.micro']);
  if (deployed.status !== 0) {
    const events = await aws(env, ['cloudformation', 'describe-stack-events', '--stack-name', 'ec2-cluster']);
    assert.fail(`deploy failed: ${deployed.stderr}\n${events.stdout}`);
  }
  const stack = (await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'ec2-cluster'])).Stacks[0];
  assert.equal(stack.StackStatus, 'CREATE_COMPLETE');
  const output = (k: string) => stack.Outputs.find((o: { OutputKey: string }) => o.OutputKey === k)?.OutputValue as string;
  const cluster = output('ClusterName');
  const subnets = [output('PublicSubnetOne'), output('PublicSubnetTwo')];

  // The group's two instances are InService, one per public subnet's zone, and EC2 shows them.
  const groups = (await awsOk(env, ['autoscaling', 'describe-auto-scaling-groups'])).AutoScalingGroups as Group[];
  assert.equal(groups.length, 1);
  const first = groups[0]!;
  assert.equal(first.Instances.length, 2);
  assert.ok(first.Instances.every((i) => i.LifecycleState === 'InService'));
  assert.equal(new Set(first.Instances.map((i) => i.AvailabilityZone)).size, 2, 'balanced across the two subnets\' zones');
  const ec2 = await awsOk(env, ['ec2', 'describe-instances', '--filters', 'Name=instance-state-name,Values=running']);
  const described = ec2.Reservations.flatMap((r: { Instances: Array<{ InstanceId: string; SubnetId: string }> }) => r.Instances);
  assert.deepEqual(described.map((i: { InstanceId: string }) => i.InstanceId).sort(), first.Instances.map((i) => i.InstanceId).sort());
  assert.ok(described.every((i: { SubnetId: string }) => subnets.includes(i.SubnetId)));

  // Their agents registered in the stack's cluster, as those EC2 instances.
  const registered = async () => {
    const arns = (await awsOk(env, ['ecs', 'list-container-instances', '--cluster', cluster, '--status', 'ACTIVE'])).containerInstanceArns as string[];
    if (!arns.length) return [];
    const d = await awsOk(env, ['ecs', 'describe-container-instances', '--cluster', cluster, '--container-instances', ...arns]);
    return (d.containerInstances as Array<{ ec2InstanceId: string; agentConnected: boolean }>).filter((c) => c.agentConnected).map((c) => c.ec2InstanceId).sort();
  };
  assert.deepEqual(await registered(), first.Instances.map((i) => i.InstanceId).sort());

  // kill -9 of one agent: the group replaces the instance, and the cluster has two agents again.
  const victim = first.Instances[0]!.InstanceId;
  const pids = agentPids(victim);
  assert.equal(pids.length, 1, 'one agent process per instance');
  process.kill(pids[0]!, 'SIGKILL');
  const replaced = await eventually(
    async () => {
      const g = ((await awsOk(env, ['autoscaling', 'describe-auto-scaling-groups'])).AutoScalingGroups as Group[])[0]!;
      const ids = g.Instances.filter((i) => i.LifecycleState === 'InService').map((i) => i.InstanceId);
      return g.Instances.length === 2 && ids.length === 2 && !ids.includes(victim) && ids.sort();
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'the killed instance replaced' },
  );
  assert.deepEqual(await eventually(async () => {
    const r = await registered();
    return JSON.stringify(r) === JSON.stringify(replaced) && r;
  }, { timeoutMs: 30_000, intervalMs: 250, what: 'the replacement registered' }), replaced);
  const all = [victim, ...replaced];

  // Delete: the stack goes, and with it every agent process and instance.
  await awsOk(env, ['cloudformation', 'delete-stack', '--stack-name', 'ec2-cluster']);
  const waited = await aws(env, ['cloudformation', 'wait', 'stack-delete-complete', '--stack-name', 'ec2-cluster']);
  assert.equal(waited.status, 0, waited.stderr);
  assert.deepEqual(all.flatMap(agentPids), [], 'no agent process left');
  const after = await awsOk(env, ['ec2', 'describe-instances']);
  assert.deepEqual(after.Reservations, []);
  assert.deepEqual((await awsOk(env, ['autoscaling', 'describe-auto-scaling-groups'])).AutoScalingGroups, []);
});
