// The audit log (issue 17): every call recorded with its principal, address, action, resources
// and outcome, read back with CloudTrail's LookupEvents through the real aws CLI and @aws-sdk v3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IAMClient, CreateUserCommand } from '@aws-sdk/client-iam';
import { CloudTrailClient, LookupEventsCommand, paginateLookupEvents, type Event } from '@aws-sdk/client-cloudtrail';
import { startTestBerth, awsEnvFor, aws, awsOk, errorOf, eventually, hasAwsCli, type TestBerth } from '../helpers/fixture.js';
import { AuditLog, AUDIT_DB_FILE, describeResource } from '../../src/domain/cloudtrail/auditLog.js';
import { ManualClock } from '../../src/clock.js';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { BERTH_BIN } from '../helpers/processes.js';

let berth: TestBerth;
before(async () => {
  berth = await startTestBerth();
});
after(async () => {
  await berth?.close();
});

const doc = (...Statement: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement });
const record = (e: Event) => JSON.parse(e.CloudTrailEvent!) as Record<string, any>;

test('LookupEvents shows the calls of an allowed and a denied user with their outcome, error code, address and resources', { skip: !hasAwsCli() && 'the aws CLI is not installed' }, async () => {
  const root = berth.awsEnv;
  const acct = berth.credentials.accountId;
  const prod = `arn:aws:ecs:us-east-1:${acct}:cluster/prod`;
  await awsOk(root, ['ecs', 'create-cluster', '--cluster-name', 'prod']);
  await awsOk(root, ['ecs', 'create-cluster', '--cluster-name', 'dev']);
  for (const name of ['carol', 'dave']) await awsOk(root, ['iam', 'create-user', '--user-name', name]);
  await awsOk(root, ['iam', 'put-user-policy', '--user-name', 'carol', '--policy-name', 'p', '--policy-document', doc({ Effect: 'Allow', Action: 'ecs:Describe*', Resource: prod })]);
  const carolKey = (await awsOk(root, ['iam', 'create-access-key', '--user-name', 'carol'])).AccessKey;
  const daveKey = (await awsOk(root, ['iam', 'create-access-key', '--user-name', 'dave'])).AccessKey;
  const carol = awsEnvFor(berth.url, { accessKeyId: carolKey.AccessKeyId, secretAccessKey: carolKey.SecretAccessKey });
  const dave = awsEnvFor(berth.url, { accessKeyId: daveKey.AccessKeyId, secretAccessKey: daveKey.SecretAccessKey });

  await awsOk(carol, ['ecs', 'describe-clusters', '--clusters', 'prod']);
  assert.match((await aws(dave, ['ecs', 'describe-clusters', '--clusters', 'prod'])).stderr, /AccessDeniedException/);
  assert.match((await aws(dave, ['iam', 'create-user', '--user-name', 'mallory'])).stderr, /AccessDenied/);
  // Reading the audit log is an IAM action like any other.
  assert.match((await aws(dave, ['cloudtrail', 'lookup-events'])).stderr, /AccessDeniedException.*cloudtrail:LookupEvents/s);

  // The aws CLI, by user name.
  const carolEvents = (await awsOk(root, ['cloudtrail', 'lookup-events', '--lookup-attributes', 'AttributeKey=Username,AttributeValue=carol'])).Events as Event[];
  assert.equal(carolEvents.length, 1);
  const ok = carolEvents[0]!;
  assert.equal(ok.EventName, 'DescribeClusters');
  assert.equal(ok.EventSource, 'ecs.amazonaws.com');
  assert.equal(ok.AccessKeyId, carolKey.AccessKeyId);
  assert.equal(ok.ReadOnly, 'true');
  assert.deepEqual(ok.Resources, [{ ResourceType: 'AWS::ECS::Cluster', ResourceName: prod }]);
  const okRecord = record(ok);
  assert.equal(okRecord.userIdentity.type, 'IAMUser');
  assert.equal(okRecord.userIdentity.arn, `arn:aws:iam::${acct}:user/carol`);
  assert.equal(okRecord.userIdentity.userName, 'carol');
  assert.equal(okRecord.sourceIPAddress, '127.0.0.1');
  assert.equal(okRecord.awsRegion, 'us-east-1');
  assert.equal(okRecord.errorCode, undefined);
  assert.match(okRecord.requestID, /^[0-9a-f-]{36}$/);
  assert.equal(okRecord.eventID, ok.EventId);

  const daveEvents = (await awsOk(root, ['cloudtrail', 'lookup-events', '--lookup-attributes', `AttributeKey=AccessKeyId,AttributeValue=${daveKey.AccessKeyId}`])).Events as Event[];
  // Newest first: LookupEvents, CreateUser, DescribeClusters.
  assert.deepEqual(
    daveEvents.map((e) => [e.EventSource, e.EventName, record(e).errorCode]),
    [
      ['cloudtrail.amazonaws.com', 'LookupEvents', 'AccessDeniedException'],
      ['iam.amazonaws.com', 'CreateUser', 'AccessDenied'],
      ['ecs.amazonaws.com', 'DescribeClusters', 'AccessDeniedException'],
    ],
  );
  assert.match(record(daveEvents[2]!).errorMessage, /User: arn:aws:iam::\d{12}:user\/dave is not authorized to perform: ecs:DescribeClusters/);
  assert.equal(daveEvents[1]!.ReadOnly, 'false');

  // @aws-sdk/client-cloudtrail: by resource name, event name, event source; time range; pages.
  const ct = new CloudTrailClient(berth.clientConfig);
  const byResource = await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: 'prod' }] }));
  assert.deepEqual(byResource.Events!.map((e) => `${e.Username} ${e.EventName}`).sort(), ['carol DescribeClusters', 'dave DescribeClusters']);
  const byName = await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CreateCluster' }] }));
  assert.equal(byName.Events!.length, 2);
  assert.ok(byName.Events!.every((e) => e.Username === 'root' && record(e).userIdentity.type === 'Root'));
  const bySource = await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 'iam.amazonaws.com' }] }));
  assert.ok(bySource.Events!.length >= 6);
  assert.ok(bySource.Events!.every((e) => e.EventSource === 'iam.amazonaws.com'));
  const future = await ct.send(new LookupEventsCommand({ StartTime: new Date(Date.now() + 3600_000), EndTime: new Date(Date.now() + 7200_000) }));
  assert.deepEqual(future.Events, []);
  const seen: string[] = [];
  let pages = 0;
  for await (const page of paginateLookupEvents({ client: ct, pageSize: 2 }, { LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'dave' }] })) {
    pages++;
    assert.ok(page.Events!.length <= 2);
    seen.push(...page.Events!.map((e) => e.EventName!));
  }
  assert.equal(pages, 2);
  assert.deepEqual(seen, ['LookupEvents', 'CreateUser', 'DescribeClusters']);

  // Bad requests get CloudTrail's errors.
  const first = await ct.send(new LookupEventsCommand({ MaxResults: 1 }));
  assert.ok(first.NextToken);
  assert.equal((await errorOf(ct.send(new LookupEventsCommand({ MaxResults: 1, NextToken: first.NextToken, LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'dave' }] })))).name, 'InvalidNextTokenException');
  assert.equal((await errorOf(ct.send(new LookupEventsCommand({ NextToken: 'garbage' })))).name, 'InvalidNextTokenException');
  assert.equal(
    (await errorOf(ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'a' }, { AttributeKey: 'EventName', AttributeValue: 'b' }] })))).name,
    'InvalidLookupAttributesException',
  );
  assert.equal((await errorOf(ct.send(new LookupEventsCommand({ StartTime: new Date(2000_000_000_000), EndTime: new Date(1000_000_000_000) })))).name, 'InvalidTimeRangeException');
  assert.equal((await errorOf(ct.send(new LookupEventsCommand({ MaxResults: 51 })))).name, 'InvalidMaxResultsException');

  // A key refused at admission (inactive) is still its user's call, recorded with the refusal.
  await awsOk(root, ['iam', 'update-access-key', '--user-name', 'carol', '--access-key-id', carolKey.AccessKeyId, '--status', 'Inactive']);
  assert.match((await aws(carol, ['ecs', 'list-clusters'])).stderr, /UnrecognizedClientException|InvalidClientTokenId/);
  const refused = (await ct.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'carol' }] }))).Events!;
  assert.equal(refused[0]!.EventName, 'ListClusters');
  assert.match(record(refused[0]!).errorCode, /UnrecognizedClientException|InvalidClientTokenId/);

  // The database is private to its owner.
  assert.equal(statSync(join(berth.dataDir, AUDIT_DB_FILE)).mode & 0o777, 0o600);
});

test('the audit log keeps the newest records within its count and age bounds, and its queue is bounded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-audit-'));
  const clock = new ManualClock();
  const log = AuditLog.open(dir, clock, { maxEvents: 5, maxAgeMs: 60_000 });
  try {
    const call = (i: number) => ({ time: clock.now(), requestId: `r${i}`, service: 'ecs', operation: `Op${i}`, region: 'us-east-1', sourceIp: '127.0.0.1', resources: [] });
    for (let i = 0; i < 8; i++) log.record(call(i));
    log.flush();
    log.prune(true);
    assert.deepEqual(log.lookup({ limit: 50 }).map((e) => e.eventName), ['Op7', 'Op6', 'Op5', 'Op4', 'Op3']);
    await clock.advance(61_000);
    log.record(call(8));
    log.flush();
    log.prune(true);
    assert.deepEqual(log.lookup({ limit: 50 }).map((e) => e.eventName), ['Op8']);
    // Pagination by sequence: older than the first page's last.
    const [newest] = log.lookup({ limit: 1 });
    assert.deepEqual(log.lookup({ limit: 5, beforeSeq: newest!.seq }), []);
    // Resource types follow CloudFormation's names; names are the ARN's last part.
    assert.deepEqual(describeResource('arn:aws:ecs:us-east-1:123456789012:task-definition/web:3'), { type: 'AWS::ECS::TaskDefinition', name: 'web:3' });
    assert.deepEqual(describeResource('arn:aws:iam::123456789012:role/app/deployer'), { type: 'AWS::IAM::Role', name: 'deployer' });
    // More than the queue holds before a write: the oldest waiting are dropped and counted.
    for (let i = 0; i < 10_005; i++) log.record(call(100 + i));
    assert.equal(log.dropped, 5);
  } finally {
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('berth audit prints the log and -f follows new calls, as a network client', async () => {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: berth.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: berth.credentials.secretAccessKey, AWS_ENDPOINT_URL: berth.url, AWS_REGION: 'us-east-1' };
  const iam = new IAMClient(berth.clientConfig);
  await iam.send(new CreateUserCommand({ UserName: 'erin' }));
  const child = spawn(process.execPath, [BERTH_BIN, 'audit', '-f', '--source', 'iam'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await eventually(() => /iam:CreateUser\s+OK/.test(out), { what: `the earlier CreateUser in: ${out}` });
    assert.equal((await errorOf(iam.send(new CreateUserCommand({ UserName: 'erin' })))).name, 'EntityAlreadyExistsException');
    await eventually(() => /iam:CreateUser\s+EntityAlreadyExists\s+127\.0\.0\.1/.test(out), { what: `the refused CreateUser in: ${out}` });
    assert.doesNotMatch(out, /LookupEvents/); // its own polling is not shown
    assert.match(out, new RegExp(`arn:aws:iam::${berth.credentials.accountId}:root`));
  } finally {
    child.kill('SIGINT');
    await once(child, 'close');
  }
  // Not spawnSync: this process serves the requests.
  const run = async (args: string[]) => {
    const c = spawn(process.execPath, [BERTH_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const [status] = (await once(c, 'close')) as [number];
    return { status, stdout, stderr };
  };
  const once1 = await run(['audit', '--event', 'CreateUser', '--output', 'json']);
  assert.equal(once1.status, 0, once1.stderr);
  const rows = JSON.parse(once1.stdout) as Array<{ action: string; outcome: string }>;
  assert.ok(rows.length >= 2);
  assert.deepEqual(rows.slice(-2).map((r) => r.outcome), ['OK', 'EntityAlreadyExists']);
  const both = await run(['audit', '--event', 'CreateUser', '--user', 'root']);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /one of --user/);
});

