// The CLI's awsQuery client (src/client/awsQuery.ts) reads what Berth's ELBv2 answers the same
// way the AWS SDK does: DescribeTargetHealth's targets and states, list parameters, error codes
// and messages; the XML reader decodes entities and refuses documents that do not nest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ElasticLoadBalancingV2Client,
  CreateLoadBalancerCommand,
  CreateListenerCommand,
  RegisterTargetsCommand,
  DescribeTargetHealthCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AwsApiError } from '../../src/client/awsClient.js';
import { callQuery, parseXml, queryBody } from '../../src/client/awsQuery.js';
import { eventually, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { createTestTargetGroup, freePort, startBackend } from '../lb/backends.js';

let berth: TestBerth;
let elb: ElasticLoadBalancingV2Client;
before(async () => {
  berth = await startTestBerth();
  berth.loadBalancer.configure({ secondMs: 50 });
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
});
after(async () => {
  elb.destroy();
  await berth.close();
});

const config = () => ({ endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey });

test('DescribeTargetHealth through callQuery: the same targets and states the SDK reads', async () => {
  const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'q', Subnets: ['subnet-1'] }))).LoadBalancers![0]!.LoadBalancerArn!;
  const tg = await createTestTargetGroup(elb, 'q-tg');
  await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: await freePort(), DefaultActions: [{ Type: 'forward', TargetGroupArn: tg }] }));
  const backend = await startBackend('q');
  try {
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: '127.0.0.1', Port: backend.port }, { Id: '127.0.0.1', Port: 9 }] }));
    // Compared once the health checks have settled (one target answers, the other cannot).
    const sdk = await eventually(async () => {
      const d = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg }))).TargetHealthDescriptions!;
      return d.map((x) => x.TargetHealth!.State).sort().join() === 'healthy,unhealthy' && d;
    }, { what: 'one healthy and one unhealthy target', timeoutMs: 20_000 });
    const result = await callQuery(config(), 'elbv2', 'DescribeTargetHealth', { TargetGroupArn: tg });
    const ours = result.members('TargetHealthDescriptions').map((d) => ({
      id: d.textAt('Target', 'Id'),
      port: Number(d.textAt('Target', 'Port')),
      state: d.textAt('TargetHealth', 'State'),
      reason: d.textAt('TargetHealth', 'Reason'),
    }));
    assert.equal(ours.length, 2);
    assert.deepEqual(
      ours.map((t) => [t.id, t.port, t.state, t.reason]).sort(),
      sdk.map((d) => [d.Target!.Id, d.Target!.Port, d.TargetHealth!.State, d.TargetHealth!.Reason]).sort(),
    );
    // A list parameter goes as Name.member.N.
    const some = await callQuery(config(), 'elbv2', 'DescribeTargetGroups', { TargetGroupArns: [tg] });
    assert.deepEqual(some.members('TargetGroups').map((g) => g.textAt('TargetGroupName')), ['q-tg']);
  } finally {
    await backend.close();
  }
});

test('errors carry the query error code and message; the XML reader decodes entities and refuses what does not nest', async () => {
  await assert.rejects(
    callQuery(config(), 'elbv2', 'DescribeTargetHealth', { TargetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/none/0123456789abcdef' }),
    (e: unknown) => e instanceof AwsApiError && e.code === 'TargetGroupNotFound' && e.status === 400 && e.message.startsWith('TargetGroupNotFound: '),
  );
  await assert.rejects(callQuery({ ...config(), secretAccessKey: 'wrong' }, 'sts', 'GetCallerIdentity'), (e: unknown) => e instanceof AwsApiError && e.code === 'SignatureDoesNotMatch');
  const me = await callQuery(config(), 'sts', 'GetCallerIdentity');
  assert.match(me.textAt('Arn')!, /^arn:aws:iam::\d{12}:root$/);

  const doc = parseXml('<?xml version="1.0"?><a xmlns="x"><b>1 &lt; 2 &amp;&amp; &#x41;&#66;</b><c/><d><member><e>x</e></member><member><e>y</e></member></d></a>');
  const a = doc.child('a')!;
  assert.equal(a.textAt('b'), '1 < 2 && AB');
  assert.equal(a.textAt('c'), '');
  assert.deepEqual(a.members('d').map((m) => m.textAt('e')), ['x', 'y']);
  assert.deepEqual(a.members('nothing'), []);
  assert.throws(() => parseXml('<a><b></a>'), /malformed XML/);
  assert.throws(() => parseXml('<a>'), /never closed/);
  assert.equal(queryBody('X', '1', { A: 'a b', L: ['p', 'q'], N: undefined }), 'Action=X&Version=1&A=a+b&L.member.1=p&L.member.2=q');
});
