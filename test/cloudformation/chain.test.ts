// The nathanpeck templates as their README chains them, deployed unchanged with the real aws CLI:
// a cluster stack, an ingress stack (alb-external.yml / alb-internal.yml) importing the cluster's
// exports, and a service stack importing both, its image a locally built FROM-scratch busybox
// httpd (the `ImageUrl` parameter). The service answers HTTP 200 through Berth's load balancer
// (listener port 80, bound on a loopback address of this test's own so runs in parallel do not
// clash); then the stacks are deleted in reverse order and nothing is left: no task, service,
// target group, listener rule, load balancer or cluster.
// Chains: Fargate public/public, EC2 public/public, Fargate private subnets behind the public and
// the internal load balancer, EC2 private/internal (the internal and external load balancers both
// listen on port 80, which on Berth all load balancers share, so each chain runs on its own).
// EC2 chains run their tasks on the cluster's Auto Scaling agents (docker driver); Fargate chains
// on one `berth agent --driver docker` joined to the cluster (Berth places Fargate tasks on the
// cluster's instances). Every service template also declares ApplicationAutoScaling resources (a
// scalable target and a CPU target-tracking policy), which the stack creates and deletes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDockerSocket } from '../../src/agent/drivers/dockerApi.js';
import { CloudFormationClient, DescribeStackEventsCommand, DescribeStacksCommand, ListExportsCommand } from '@aws-sdk/client-cloudformation';
import { DeregisterContainerInstanceCommand, DescribeClustersCommand, DescribeServicesCommand, ECSClient, ListContainerInstancesCommand, ListServicesCommand, ListTasksCommand } from '@aws-sdk/client-ecs';
import { DescribeLoadBalancersCommand, DescribeRulesCommand, DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client, ModifyTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { aws, awsOk, eventually, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { withFastWaiters } from '../helpers/awsWaiters.js';
import { ensureHttpdImage } from '../helpers/images.js';
import { spawnAgent, type AgentProcess } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../../../shared/fixtures/cloudformation/nathanpeck-ecs-cloudformation/', import.meta.url));
const skip = !existsSync(ROOT)
  ? `the shared nathanpeck fixtures are not at ${ROOT} (optional fixtures from ../shared)`
  : !hasAwsCli()
    ? 'aws CLI not installed'
    : !existsSync(defaultDockerSocket())
      ? `docker engine socket ${defaultDockerSocket()} is absent (the service runs the busybox httpd image)`
      : process.getuid?.() !== 0
        ? 'the templates\' listeners are on port 80: binding it needs root'
        : false;

/** A loopback address of this run's own (127.0.0.0/8 all reaches lo): the listeners' port 80 clashes with no other test. */
const LB_HOST = `127.${20 + (process.pid % 200)}.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;

let berth: TestBerth;
let env: NodeJS.ProcessEnv;
// The stacks are made and deleted with the aws CLI (as their README does); what they made is
// inspected with the SDK (a CLI call costs a second of Python start-up on this machine).
let cfn: CloudFormationClient;
let ecs: ECSClient;
let elb: ElasticLoadBalancingV2Client;
let image: string;
const agents: AgentProcess[] = [];
const agentDirs: string[] = [];
before(async () => {
  if (skip) return;
  berth = await startTestBerth({ env: { BERTH_LB_HOST: LB_HOST, BERTH_ASG_AGENT_DRIVER: 'docker', BERTH_ASG_INTERVAL_MS: '250' } });
  env = withFastWaiters(berth.awsEnv);
  cfn = new CloudFormationClient(berth.clientConfig);
  ecs = new ECSClient(berth.clientConfig);
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  image = await ensureHttpdImage();
});
after(async () => {
  for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGTERM');
  await Promise.all(agents.map((a) => (a.child.exitCode === null ? new Promise((r) => a.child.once('exit', r)) : undefined)));
  for (const d of agentDirs) rmSync(d, { recursive: true, force: true });
  for (const c of [cfn, ecs, elb]) c?.destroy();
  await berth?.close();
});

interface Stack {
  StackStatus: string;
  Outputs?: Array<{ OutputKey: string; OutputValue: string }>;
}
const describeStack = async (name: string): Promise<Stack | undefined> => {
  try {
    return (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks![0] as Stack;
  } catch (e) {
    if (/does not exist/.test(String(e))) return undefined;
    throw e;
  }
};
const output = (s: Stack, key: string) => s.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;

/** `aws cloudformation deploy` of a fixture; on failure, the failed events (reason included). */
async function deploy(stack: string, template: string, params: string[]): Promise<{ ok: boolean; failed: Array<{ type: string; reason: string }>; detail: string }> {
  const r = await aws(env, ['cloudformation', 'deploy', '--stack-name', stack, '--template-file', join(ROOT, template), '--capabilities', 'CAPABILITY_IAM', '--parameter-overrides', ...params]);
  if (r.status === 0) return { ok: true, failed: [], detail: '' };
  const list = (await cfn.send(new DescribeStackEventsCommand({ StackName: stack })).catch(() => undefined))?.StackEvents ?? [];
  const failed = list.filter((e) => e.ResourceStatus === 'CREATE_FAILED').map((e) => ({ type: e.ResourceType ?? '', reason: e.ResourceStatusReason ?? '' }));
  return { ok: false, failed, detail: `${r.stderr}\n${JSON.stringify(failed)}` };
}

async function deleteStack(stack: string): Promise<void> {
  await awsOk(env, ['cloudformation', 'delete-stack', '--stack-name', stack]);
  const waited = await aws(env, ['cloudformation', 'wait', 'stack-delete-complete', '--stack-name', stack]);
  assert.equal(waited.status, 0, `${stack} deleted: ${waited.stderr}`);
  assert.equal(await describeStack(stack), undefined);
}

/** Services and tasks still in the cluster (tasks not yet STOPPED count). */
async function clusterContents(cluster: string): Promise<{ services: string[]; tasks: string[] }> {
  const services = (await ecs.send(new ListServicesCommand({ cluster }))).serviceArns ?? [];
  const tasks = (await ecs.send(new ListTasksCommand({ cluster }))).taskArns ?? [];
  return { services, tasks };
}

/** The listener's rules other than its default one. */
const extraRules = async (listener: string) => ((await elb.send(new DescribeRulesCommand({ ListenerArn: listener }))).Rules ?? []).filter((r) => !r.IsDefault);
const targetGroupNames = async () => ((await elb.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).map((t) => t.TargetGroupName);

/** A GET through the load balancer's listener: status and body. */
async function viaLoadBalancer(path = '/'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${LB_HOST}:80${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.text()).trim() };
}

interface Chain {
  cluster: string;
  ingress: 'alb-external.yml' | 'alb-internal.yml';
  service: string;
  /** The cluster template's parameters besides EnvironmentName. */
  clusterParams?: string[];
}

/** Cluster, ingress, service; HTTP 200 through the load balancer; delete in reverse order, nothing left. */
async function runChain(t: { diagnostic(msg: string): void }, c: Chain): Promise<void> {
  const envName = `ch-${c.service.replace(/^service-|\.yml$/g, '').replace(/[^a-z0-9]+/g, '').slice(0, 20)}`;
  const stacks = { cluster: `${envName}-cluster`, ingress: `${envName}-ingress`, service: `${envName}-service` };
  const serviceName = `web${envName.length}`;
  // How long each step took, said at the end (where a chain's time goes).
  const phases: string[] = [];
  let mark = performance.now();
  const phase = (what: string) => {
    const now = performance.now();
    phases.push(`${what} ${((now - mark) / 1000).toFixed(1)} s`);
    mark = now;
  };

  const cluster = await deploy(stacks.cluster, `cluster/${c.cluster}`, [`EnvironmentName=${envName}`, ...(c.clusterParams ?? [])]);
  assert.ok(cluster.ok, `${c.cluster}: ${cluster.detail}`);
  const clusterName = output((await describeStack(stacks.cluster))!, 'ClusterName')!;
  phase('cluster stack');
  if (c.cluster.includes('fargate')) {
    // Fargate's capacity: one agent joined to the stack's cluster, its tasks in docker.
    const dir = mkdtempSync(join(tmpdir(), 'berth-chain-agent-'));
    agentDirs.push(dir);
    agents.push(await spawnAgent({ url: berth.url, accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey, cluster: clusterName, stateDir: dir, az: 'us-east-1a', driver: 'docker' }));
  } else {
    await eventually(async () => ((await ecs.send(new ListContainerInstancesCommand({ cluster: clusterName, status: 'ACTIVE' }))).containerInstanceArns ?? []).length > 0, { timeoutMs: 60_000, intervalMs: 250, what: 'an Auto Scaling agent in the cluster' });
  }

  phase('capacity');
  const ingress = await deploy(stacks.ingress, `ingress/${c.ingress}`, [`EnvironmentName=${envName}`]);
  assert.ok(ingress.ok, `${c.ingress}: ${ingress.detail}`);
  phase('ingress stack');
  const listenerKey = c.ingress === 'alb-external.yml' ? 'PublicListener' : 'PrivateListener';
  const listener = output((await describeStack(stacks.ingress))!, listenerKey)!;
  assert.match(listener, /^arn:aws:elasticloadbalancing:us-east-1:\d{12}:listener\/app\//);
  // Before any service: the dummy target group has no targets, so the load balancer answers 503.
  assert.equal((await eventually(async () => (await viaLoadBalancer().catch(() => undefined))?.status, { timeoutMs: 15_000, what: 'the listener to answer' })), 503);

  // The templates' target groups keep AWS's 300 s deregistration delay, which every delete (and
  // rollback) of the service waits out as on AWS; the operator shortens it through the API as soon
  // as the group exists (the template itself is not changed).
  let deploying = true;
  const shortenDrain = (async () => {
    while (deploying) {
      const tg = ((await elb.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).find((g) => g.TargetGroupName === serviceName);
      if (tg) return elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg.TargetGroupArn, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const service = await deploy(stacks.service, `service/${c.service}`, [`EnvironmentName=${envName}`, `ServiceName=${serviceName}`, `ImageUrl=${image}`, 'ContainerPort=80', 'DesiredCount=2']);
  deploying = false;
  await shortenDrain;
  phase('service stack');
  assert.ok(service.ok, `${c.service}: ${service.detail}`);
  assert.equal((await describeStack(stacks.service))!.StackStatus, 'CREATE_COMPLETE');
  const answer = await eventually(async () => {
    const r = await viaLoadBalancer().catch(() => undefined);
    return r?.status === 200 && r;
  }, { timeoutMs: 90_000, intervalMs: 250, what: `${c.service} to answer 200 through the load balancer` });
  assert.deepEqual(answer, { status: 200, body: 'ok' });
  const svc = (await ecs.send(new DescribeServicesCommand({ cluster: clusterName, services: [serviceName] }))).services![0]!;
  assert.equal(svc.runningCount, 2);
  assert.equal((await extraRules(listener)).length, 1, 'the service stack\'s path rule');
  phase('answer through the load balancer');
  await deleteStack(stacks.service);
  // The service stack is gone and took everything of its own with it.
  await eventually(async () => {
    const left = await clusterContents(clusterName);
    return left.services.length === 0 && left.tasks.length === 0;
  }, { timeoutMs: 60_000, intervalMs: 250, what: 'no service or task left in the cluster' });
  assert.deepEqual(await extraRules(listener), [], 'no listener rule left');
  assert.ok(!(await targetGroupNames()).includes(serviceName), 'the service\'s target group is gone');
  assert.equal((await viaLoadBalancer()).status, 503, 'the load balancer is back to its dummy target group');
  phase('service stack deleted');

  await deleteStack(stacks.ingress);
  phase('ingress stack deleted');
  assert.deepEqual((await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers, []);
  assert.deepEqual(await targetGroupNames(), []);
  await eventually(async () => (await viaLoadBalancer().catch(() => undefined)) === undefined, { timeoutMs: 15_000, what: 'port 80 to close' });

  const agent = agents.pop();
  if (agent) {
    // Fargate's capacity is Berth's, not the template's: the operator takes the agent out, as a
    // cluster with a registered instance cannot be deleted (on AWS neither).
    agent.child.kill('SIGTERM');
    await new Promise((r) => (agent.child.exitCode === null ? agent.child.once('exit', r) : r(undefined)));
    await ecs.send(new DeregisterContainerInstanceCommand({ cluster: clusterName, containerInstance: agent.arn, force: true }));
    phase('agent stopped');
  }
  await deleteStack(stacks.cluster);
  const clusters = (await ecs.send(new DescribeClustersCommand({ clusters: [clusterName] }))).clusters ?? [];
  assert.ok(clusters.every((x) => x.status !== 'ACTIVE'), 'the cluster is gone');
  assert.deepEqual((await cfn.send(new ListExportsCommand({}))).Exports, [], 'no export left');
  phase('cluster stack deleted');
  t.diagnostic(`${c.service}: ${phases.join(', ')}`);
}

test('Fargate, public subnets, public load balancer: cluster -> alb-external -> service-fargate-public-subnet-public-lb', { skip, timeout: 590_000 }, async (t) => {
  await runChain(t, { cluster: 'cluster-fargate-public-vpc.yml', ingress: 'alb-external.yml', service: 'service-fargate-public-subnet-public-lb.yml' });
});

test('EC2, public subnets, public load balancer: cluster-ec2-public-vpc (Auto Scaling agents) -> alb-external -> service-ec2-public-lb', { skip, timeout: 590_000 }, async (t) => {
  await runChain(t, { cluster: 'cluster-ec2-public-vpc.yml', ingress: 'alb-external.yml', service: 'service-ec2-public-lb.yml', clusterParams: ['DesiredCapacity=1', 'InstanceType=t2.micro'] });
});

test('Fargate, private subnets, public load balancer: cluster-fargate-private-vpc -> alb-external -> service-fargate-private-subnet-public-lb', { skip, timeout: 590_000 }, async (t) => {
  await runChain(t, { cluster: 'cluster-fargate-private-vpc.yml', ingress: 'alb-external.yml', service: 'service-fargate-private-subnet-public-lb.yml' });
});

test('Fargate, private subnets, private load balancer: cluster-fargate-private-vpc -> alb-internal -> service-fargate-private-subnet-private-lb', { skip, timeout: 590_000 }, async (t) => {
  await runChain(t, { cluster: 'cluster-fargate-private-vpc.yml', ingress: 'alb-internal.yml', service: 'service-fargate-private-subnet-private-lb.yml' });
});

test('EC2, private subnets, private load balancer: cluster-ec2-private-vpc (Auto Scaling agents) -> alb-internal -> service-ec2-private-lb', { skip, timeout: 590_000 }, async (t) => {
  await runChain(t, { cluster: 'cluster-ec2-private-vpc.yml', ingress: 'alb-internal.yml', service: 'service-ec2-private-lb.yml', clusterParams: ['DesiredCapacity=1', 'InstanceType=t2.micro'] });
});

test('service discovery ingress: service-discovery-internal.yml deploys on the cluster (a Cloud Map private DNS namespace in its VPC) and deletes cleanly', { skip, timeout: 590_000 }, async () => {
  const envName = 'ch-discovery';
  const stacks = { cluster: `${envName}-cluster`, ingress: `${envName}-ingress` };
  const cluster = await deploy(stacks.cluster, 'cluster/cluster-fargate-private-vpc.yml', [`EnvironmentName=${envName}`]);
  assert.ok(cluster.ok, cluster.detail);
  const ingress = await deploy(stacks.ingress, 'ingress/service-discovery-internal.yml', [`EnvironmentName=${envName}`, 'Domain=service.chain']);
  assert.ok(ingress.ok, ingress.detail);
  assert.equal((await describeStack(stacks.ingress))!.StackStatus, 'CREATE_COMPLETE');
  const exports = (await cfn.send(new ListExportsCommand({}))).Exports as Array<{ Name: string; Value: string }>;
  const namespaceId = exports.find((e) => e.Name === `${envName}:PrivateServiceDiscoveryNamespace`)?.Value ?? '';
  assert.match(namespaceId, /^ns-[0-9a-f]{16}$/);
  const namespace = (await awsOk(env, ['servicediscovery', 'get-namespace', '--id', namespaceId])).Namespace;
  assert.deepEqual([namespace.Name, namespace.Type], ['service.chain', 'DNS_PRIVATE']);
  await deleteStack(stacks.ingress);
  // The rule the ingress stack added to the cluster's group went with it: the cluster stack deletes cleanly.
  await deleteStack(stacks.cluster);
  assert.deepEqual((await cfn.send(new ListExportsCommand({}))).Exports, []);
  assert.deepEqual((await awsOk(env, ['servicediscovery', 'list-namespaces'])).Namespaces, [], 'the namespace went with its stack');
});
