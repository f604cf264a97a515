// CloudWatch Logs subscription filters, destinations, resource policies and query definitions
// through @aws-sdk/client-cloudwatch-logs v3 and the real aws CLI: events delivered into another
// log group, and POSTed to a real HTTP endpoint that fails at first (retried until it takes
// them), with AWS's error codes for what is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteDestinationCommand,
  DeleteQueryDefinitionCommand,
  DeleteResourcePolicyCommand,
  DeleteSubscriptionFilterCommand,
  DescribeDestinationsCommand,
  DescribeQueryDefinitionsCommand,
  DescribeResourcePoliciesCommand,
  DescribeSubscriptionFiltersCommand,
  FilterLogEventsCommand,
  PutDestinationCommand,
  PutDestinationPolicyCommand,
  PutLogEventsCommand,
  PutQueryDefinitionCommand,
  PutResourcePolicyCommand,
  PutSubscriptionFilterCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { aws, awsOk, errorOf, eventually, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { SubscriptionEndpoints } from '../../src/domain/logs/subscriptions.js';

let berth: TestBerth;
let logs: CloudWatchLogsClient;
let receiver: Server;
let receiverUrl: string;
/** Payloads the HTTP endpoint accepted, and how many requests it saw (it fails the first two). */
const received: { logGroup: string; logStream: string; messageType: string; subscriptionFilters: string[]; logEvents: { id: string; timestamp: number; message: string }[] }[] = [];
let requests = 0;

const groupArn = (name: string) => `arn:aws:logs:us-east-1:${berth.platform.accountId}:log-group:${name}`;

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      if (requests <= 2) {
        res.writeHead(503).end();
        return;
      }
      assert.equal(req.headers['content-encoding'], 'gzip');
      received.push(JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/ingest`;
  // The operator allows the receiver's path, nothing else on that host or any other.
  berth = await startTestBerth({ logs: { subscriptionUrls: [receiverUrl] } });
  logs = new CloudWatchLogsClient(berth.clientConfig);
});

after(async () => {
  logs?.destroy();
  await berth?.close();
  await new Promise((r) => receiver?.close(r));
});

async function group(name: string, streams: string[] = []): Promise<void> {
  await logs.send(new CreateLogGroupCommand({ logGroupName: name }));
  for (const s of streams) await logs.send(new CreateLogStreamCommand({ logGroupName: name, logStreamName: s }));
}

async function put(groupName: string, stream: string, messages: string[]): Promise<void> {
  const t = Date.now();
  await logs.send(new PutLogEventsCommand({ logGroupName: groupName, logStreamName: stream, logEvents: messages.map((message, i) => ({ timestamp: t + i, message })) }));
}

test('a subscription filter delivers matching events, from its creation on, into another log group (aws CLI)', async () => {
  await group('/sub/app', ['web/1', 'web/2']);
  await group('/sub/errors');
  await put('/sub/app', 'web/1', ['ERROR before the filter']);
  await awsOk(berth.awsEnv, ['logs', 'put-subscription-filter', '--log-group-name', '/sub/app', '--filter-name', 'errors', '--filter-pattern', 'ERROR', '--destination-arn', groupArn('/sub/errors')]);
  const described = await awsOk(berth.awsEnv, ['logs', 'describe-subscription-filters', '--log-group-name', '/sub/app']);
  assert.equal(described.subscriptionFilters.length, 1);
  assert.equal(described.subscriptionFilters[0].destinationArn, groupArn('/sub/errors'));
  assert.equal(described.subscriptionFilters[0].distribution, 'ByLogStream');
  assert.equal(typeof described.subscriptionFilters[0].creationTime, 'number');

  await put('/sub/app', 'web/1', ['INFO fine', 'ERROR one', 'INFO still fine', 'ERROR two']);
  await put('/sub/app', 'web/2', ['ERROR three']);
  const delivered = await eventually(
    async () => {
      const r = await logs.send(new FilterLogEventsCommand({ logGroupName: '/sub/errors' }));
      return (r.events ?? []).length >= 3 ? r.events! : undefined;
    },
    { what: 'three events delivered to /sub/errors', timeoutMs: 15_000, intervalMs: 200 },
  );
  assert.deepEqual(delivered.map((e) => `${e.logStreamName} ${e.message}`).sort(), ['web/1 ERROR one', 'web/1 ERROR two', 'web/2 ERROR three']);
  // Later passes deliver nothing again.
  await put('/sub/app', 'web/2', ['ERROR four']);
  await eventually(async () => ((await logs.send(new FilterLogEventsCommand({ logGroupName: '/sub/errors' }))).events ?? []).length === 4, { what: 'the fourth event', timeoutMs: 15_000 });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(((await logs.send(new FilterLogEventsCommand({ logGroupName: '/sub/errors' }))).events ?? []).length, 4);
});

test('a destination with an HTTP endpoint gets the subscription payload, retried until it answers 2xx', async () => {
  await group('/sub/http', ['task/1']);
  const d = await logs.send(new PutDestinationCommand({ destinationName: 'collector', targetArn: receiverUrl, roleArn: 'arn:aws:iam::000000000000:role/cwl' }));
  assert.equal(d.destination?.arn, `arn:aws:logs:us-east-1:${berth.platform.accountId}:destination:collector`);
  await logs.send(new PutDestinationPolicyCommand({ destinationName: 'collector', accessPolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'logs:PutSubscriptionFilter', Resource: d.destination!.arn }] }) }));
  const listed = await logs.send(new DescribeDestinationsCommand({ DestinationNamePrefix: 'coll' }));
  assert.equal(listed.destinations?.length, 1);
  assert.equal(listed.destinations![0]!.targetArn, receiverUrl);
  assert.match(listed.destinations![0]!.accessPolicy!, /PutSubscriptionFilter/);

  await logs.send(new PutSubscriptionFilterCommand({ logGroupName: '/sub/http', filterName: 'all', filterPattern: '', destinationArn: d.destination!.arn! }));
  await put('/sub/http', 'task/1', ['hello', 'world']);
  const payload = await eventually(() => received.find((p) => p.logGroup === '/sub/http'), { what: 'the payload at the HTTP endpoint', timeoutMs: 20_000, intervalMs: 200 });
  assert.ok(requests >= 3, 'two refusals, then the accepted delivery');
  assert.equal(payload.messageType, 'DATA_MESSAGE');
  assert.equal(payload.logStream, 'task/1');
  assert.deepEqual(payload.subscriptionFilters, ['all']);
  assert.deepEqual(payload.logEvents.map((e) => e.message), ['hello', 'world']);
  assert.match(payload.logEvents[0]!.id, /^\d+$/);

  await logs.send(new DeleteSubscriptionFilterCommand({ logGroupName: '/sub/http', filterName: 'all' }));
  await logs.send(new DeleteDestinationCommand({ destinationName: 'collector' }));
  assert.equal((await logs.send(new DescribeDestinationsCommand({}))).destinations?.length, 0);
});

test('subscription filter and destination errors are AWS-shaped', async () => {
  await group('/sub/err', ['s']);
  await group('/sub/err-dest');
  const sub = (extra: Partial<ConstructorParameters<typeof PutSubscriptionFilterCommand>[0]>) =>
    errorOf(logs.send(new PutSubscriptionFilterCommand({ logGroupName: '/sub/err', filterName: 'f', filterPattern: '', destinationArn: groupArn('/sub/err-dest'), ...extra })));
  let e = await sub({ destinationArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/s' });
  assert.equal(e.name, 'InvalidParameterException');
  assert.match(e.message, /log group ARN.*destination ARN/);
  e = await sub({ logGroupName: '/sub/none' });
  assert.equal(e.name, 'ResourceNotFoundException');
  e = await sub({ destinationArn: groupArn('/sub/missing') });
  assert.equal(e.name, 'InvalidParameterException');
  e = await sub({ destinationArn: groupArn('/sub/err') });
  assert.match(e.message, /itself/);
  e = await sub({ filterPattern: '{ $.x = ' });
  assert.equal(e.name, 'InvalidParameterException');
  e = await sub({ destinationArn: `arn:aws:logs:us-east-1:${berth.platform.accountId}:destination:nope` });
  assert.equal(e.name, 'InvalidParameterException');

  // Two filters per group, as on AWS; a third is LimitExceededException.
  await logs.send(new PutSubscriptionFilterCommand({ logGroupName: '/sub/err', filterName: 'a', filterPattern: 'x', destinationArn: groupArn('/sub/err-dest') }));
  await logs.send(new PutSubscriptionFilterCommand({ logGroupName: '/sub/err', filterName: 'b', filterPattern: 'y', destinationArn: groupArn('/sub/err-dest') }));
  e = await sub({ filterName: 'c' });
  assert.equal(e.name, 'LimitExceededException');
  // Replacing an existing one is fine.
  await logs.send(new PutSubscriptionFilterCommand({ logGroupName: '/sub/err', filterName: 'b', filterPattern: 'z', destinationArn: groupArn('/sub/err-dest') }));
  const page = await logs.send(new DescribeSubscriptionFiltersCommand({ logGroupName: '/sub/err', limit: 1 }));
  assert.equal(page.subscriptionFilters?.length, 1);
  assert.ok(page.nextToken);
  const rest = await logs.send(new DescribeSubscriptionFiltersCommand({ logGroupName: '/sub/err', nextToken: page.nextToken }));
  assert.deepEqual(rest.subscriptionFilters?.map((f) => [f.filterName, f.filterPattern]), [['b', 'z']]);

  // A group receiving deliveries cannot deliver to a log group, and the other way round.
  await group('/sub/third');
  e = await errorOf(logs.send(new PutSubscriptionFilterCommand({ logGroupName: '/sub/err-dest', filterName: 'loop', filterPattern: '', destinationArn: groupArn('/sub/third') })));
  assert.equal(e.name, 'InvalidParameterException');
  assert.match(e.message, /loop/);
  e = await errorOf(logs.send(new PutSubscriptionFilterCommand({ logGroupName: '/sub/third', filterName: 'loop', filterPattern: '', destinationArn: groupArn('/sub/err') })));
  assert.match(e.message, /loop/);

  e = await errorOf(logs.send(new DeleteSubscriptionFilterCommand({ logGroupName: '/sub/err', filterName: 'nope' })));
  assert.equal(e.name, 'ResourceNotFoundException');
  const cli = await aws(berth.awsEnv, ['logs', 'delete-subscription-filter', '--log-group-name', '/sub/err', '--filter-name', 'nope']);
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /ResourceNotFoundException/);

  e = await errorOf(logs.send(new PutDestinationCommand({ destinationName: 'd', targetArn: 'arn:aws:lambda:us-east-1:1:function:f', roleArn: 'arn:aws:iam::1:role/r' })));
  assert.equal(e.name, 'InvalidParameterException');
  // URLs outside the operator's allow-list: another port, another path, a look-alike host, credentials.
  const port = (receiver.address() as AddressInfo).port;
  for (const targetArn of [`http://127.0.0.1:${port + 1}/ingest`, `http://127.0.0.1:${port}/other`, `http://127.0.0.1.nip.io:${port}/ingest`, `http://169.254.170.2/v2/credentials`, `http://u:p@127.0.0.1:${port}/ingest`]) {
    e = await errorOf(logs.send(new PutDestinationCommand({ destinationName: 'd', targetArn, roleArn: 'arn:aws:iam::1:role/r' })));
    assert.equal(e.name, 'InvalidParameterException', targetArn);
    assert.match(e.message, /allows for subscriptions|credentials/, targetArn);
  }
  assert.equal((await logs.send(new DescribeDestinationsCommand({ DestinationNamePrefix: 'd' }))).destinations?.length ?? 0, 0);
  e = await errorOf(logs.send(new PutDestinationPolicyCommand({ destinationName: 'nope', accessPolicy: '{"Statement":[]}' })));
  assert.equal(e.name, 'ResourceNotFoundException');
  await logs.send(new PutDestinationCommand({ destinationName: 'd', targetArn: groupArn('/sub/third'), roleArn: 'arn:aws:iam::1:role/r' }));
  e = await errorOf(logs.send(new PutDestinationPolicyCommand({ destinationName: 'd', accessPolicy: 'not json' })));
  assert.equal(e.name, 'InvalidParameterException');
  e = await errorOf(logs.send(new DeleteDestinationCommand({ destinationName: 'nope' })));
  assert.equal(e.name, 'ResourceNotFoundException');
});

test('resource policies: put, describe, replace, delete, ten at most (aws CLI and SDK)', async () => {
  const doc = (n: number) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: `s${n}`, Effect: 'Allow', Principal: { Service: 'es.amazonaws.com' }, Action: 'logs:PutLogEvents', Resource: '*' }] });
  const put1 = await awsOk(berth.awsEnv, ['logs', 'put-resource-policy', '--policy-name', 'p0', '--policy-document', doc(0)]);
  assert.equal(put1.resourcePolicy.policyName, 'p0');
  assert.equal(typeof put1.resourcePolicy.lastUpdatedTime, 'number');
  for (let i = 1; i < 10; i++) await logs.send(new PutResourcePolicyCommand({ policyName: `p${i}`, policyDocument: doc(i) }));
  let e = await errorOf(logs.send(new PutResourcePolicyCommand({ policyName: 'p10', policyDocument: doc(10) })));
  assert.equal(e.name, 'LimitExceededException');
  await logs.send(new PutResourcePolicyCommand({ policyName: 'p3', policyDocument: doc(33) }));
  const all = await awsOk(berth.awsEnv, ['logs', 'describe-resource-policies']);
  assert.equal(all.resourcePolicies.length, 10);
  assert.match(all.resourcePolicies.find((p: { policyName: string }) => p.policyName === 'p3').policyDocument, /s33/);
  e = await errorOf(logs.send(new PutResourcePolicyCommand({ policyName: 'bad', policyDocument: '{not json' })));
  assert.equal(e.name, 'InvalidParameterException');
  await logs.send(new DeleteResourcePolicyCommand({ policyName: 'p0' }));
  e = await errorOf(logs.send(new DeleteResourcePolicyCommand({ policyName: 'p0' })));
  assert.equal(e.name, 'ResourceNotFoundException');
  assert.equal((await logs.send(new DescribeResourcePoliciesCommand({}))).resourcePolicies?.length, 9);
});

test('query definitions: put, update by id, describe by prefix, delete', async () => {
  const { queryDefinitionId } = await logs.send(new PutQueryDefinitionCommand({ name: 'ops/errors', queryString: 'fields @message | filter @message like /ERROR/', logGroupNames: ['/sub/app'] }));
  assert.match(queryDefinitionId!, /^[0-9a-f-]{36}$/);
  const cli = await awsOk(berth.awsEnv, ['logs', 'put-query-definition', '--name', 'ops/latency', '--query-string', 'stats avg(latency) by bin(5m)']);
  await logs.send(new PutQueryDefinitionCommand({ queryDefinitionId, name: 'ops/errors', queryString: 'fields @message | limit 5' }));
  await logs.send(new PutQueryDefinitionCommand({ name: 'other', queryString: 'fields @timestamp' }));
  const ops = await logs.send(new DescribeQueryDefinitionsCommand({ queryDefinitionNamePrefix: 'ops/' }));
  assert.deepEqual(ops.queryDefinitions?.map((d) => [d.name, d.queryString]), [
    ['ops/errors', 'fields @message | limit 5'],
    ['ops/latency', 'stats avg(latency) by bin(5m)'],
  ]);
  const first = await logs.send(new DescribeQueryDefinitionsCommand({ maxResults: 1 }));
  assert.equal(first.queryDefinitions?.length, 1);
  assert.ok(first.nextToken);
  let e = await errorOf(logs.send(new PutQueryDefinitionCommand({ queryDefinitionId: '00000000-0000-0000-0000-000000000000', name: 'x', queryString: 'fields @message' })));
  assert.equal(e.name, 'ResourceNotFoundException');
  assert.equal((await logs.send(new DeleteQueryDefinitionCommand({ queryDefinitionId: cli.queryDefinitionId }))).success, true);
  e = await errorOf(logs.send(new DeleteQueryDefinitionCommand({ queryDefinitionId: cli.queryDefinitionId })));
  assert.equal(e.name, 'ResourceNotFoundException');
});

test('subscription endpoint allow-list: prefixes are normalized URLs, bad settings refused', () => {
  const allowed = SubscriptionEndpoints.parse(' http://collector.example , https://logs.example:8443/in/ ');
  assert.deepEqual(allowed.prefixes, ['http://collector.example/', 'https://logs.example:8443/in/']);
  assert.equal(allowed.allows(new URL('http://collector.example/x')), true);
  assert.equal(allowed.allows(new URL('http://COLLECTOR.example:80/x')), true);
  assert.equal(allowed.allows(new URL('http://collector.example.evil/x')), false);
  assert.equal(allowed.allows(new URL('http://collector.example:81/x')), false);
  assert.equal(allowed.allows(new URL('https://logs.example:8443/in/batch')), true);
  assert.equal(allowed.allows(new URL('https://logs.example:8443/out')), false);
  assert.equal(SubscriptionEndpoints.parse(undefined).allows(new URL('http://127.0.0.1/')), false);
  for (const bad of ['ftp://x.example/', 'not a url', 'http://u:p@x.example/', 'http://x.example/?q=1']) assert.throws(() => new SubscriptionEndpoints([bad]), /Subscription endpoint prefix/, bad);
});
