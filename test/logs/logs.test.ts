// CloudWatch Logs end to end: the real aws CLI and the @aws-sdk v3 client against a Berth on
// loopback: groups, streams, PutLogEvents rules, GetLogEvents paging, FilterLogEvents patterns,
// retention driven by a ManualClock, tags, and the clients Berth itself runs (the agent's log
// shipper writing with PutLogEvents, `berth logs` reading with FilterLogEvents).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DeleteLogGroupCommand,
  DeleteLogStreamCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  type DescribeLogStreamsCommandOutput,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  ListTagsForResourceCommand,
  ListTagsLogGroupCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { ManualClock } from '../../src/clock.js';
import { aws, awsOk, eventually, startTestBerth, type TestBerth, errorOf, resetBerth } from '../helpers/fixture.js';
import { AwsApiError, jsonService } from '../../src/client/awsClient.js';
import { LogShipper } from '../../src/agent/logShipper.js';
import type { LogDestination } from '../../src/agent/logStream.js';
import { defaultLogGroup } from '../../src/agent/logNaming.js';
import { LIMITS } from '../../src/domain/logs/limits.js';

let berth: TestBerth;
let logs: CloudWatchLogsClient;
const clock = new ManualClock(Date.now());

before(async () => {
  berth = await startTestBerth({ clock });
  logs = new CloudWatchLogsClient(berth.clientConfig);
});
after(async () => {
  logs.destroy();
  await berth.close();
});


async function group(name: string, streams: string[] = []): Promise<void> {
  await logs.send(new CreateLogGroupCommand({ logGroupName: name }));
  for (const s of streams) await logs.send(new CreateLogStreamCommand({ logGroupName: name, logStreamName: s }));
}

test('aws CLI: create group and stream, put events, describe, get and filter with "ERROR"', async () => {
  const env = berth.awsEnv;
  await awsOk(env, ['logs', 'create-log-group', '--log-group-name', '/cli/app']);
  await awsOk(env, ['logs', 'create-log-stream', '--log-group-name', '/cli/app', '--log-stream-name', 'web/1']);
  const t = clock.now();
  const events = [
    { timestamp: t - 3000, message: 'INFO starting' },
    { timestamp: t - 2000, message: '[ERROR] disk full' },
    { timestamp: t - 1000, message: 'error in lower case' },
    { timestamp: t, message: 'ERROR: retry failed' },
  ];
  const put = await awsOk(env, ['logs', 'put-log-events', '--log-group-name', '/cli/app', '--log-stream-name', 'web/1', '--log-events', JSON.stringify(events)]);
  assert.match(put.nextSequenceToken, /^\d+$/);
  assert.equal(put.rejectedLogEventsInfo, undefined);

  const groups = await awsOk(env, ['logs', 'describe-log-groups', '--log-group-name-prefix', '/cli/']);
  assert.equal(groups.logGroups.length, 1);
  const g = groups.logGroups[0];
  assert.equal(g.logGroupName, '/cli/app');
  assert.equal(g.arn, `arn:aws:logs:us-east-1:${berth.platform.accountId}:log-group:/cli/app:*`);
  assert.equal(g.storedBytes, events.reduce((n, e) => n + Buffer.byteLength(e.message), 0));
  assert.equal(typeof g.creationTime, 'number');

  const streams = await awsOk(env, ['logs', 'describe-log-streams', '--log-group-name', '/cli/app']);
  const s = streams.logStreams[0];
  assert.equal(s.logStreamName, 'web/1');
  assert.equal(s.firstEventTimestamp, t - 3000);
  assert.equal(s.lastEventTimestamp, t);
  assert.equal(s.lastIngestionTime, t);

  const got = await awsOk(env, ['logs', 'get-log-events', '--log-group-name', '/cli/app', '--log-stream-name', 'web/1', '--start-from-head']);
  assert.deepEqual(got.events.map((e: { message: string }) => e.message), events.map((e) => e.message));

  const filtered = await awsOk(env, ['logs', 'filter-log-events', '--log-group-name', '/cli/app', '--filter-pattern', '"ERROR"']);
  assert.deepEqual(filtered.events.map((e: { message: string }) => e.message), ['[ERROR] disk full', 'ERROR: retry failed']);
  assert.ok(filtered.events.every((e: { logStreamName: string; eventId: string }) => e.logStreamName === 'web/1' && /^\d+$/.test(e.eventId)));

  // Log messages are whatever containers print: the event store is private, WAL included.
  for (const f of ['logs.db', 'logs.db-wal']) assert.equal(statSync(join(berth.dataDir, f)).mode & 0o777, 0o600, f);

  const dup = await aws(env, ['logs', 'create-log-group', '--log-group-name', '/cli/app']);
  assert.notEqual(dup.status, 0);
  assert.match(dup.stderr, /ResourceAlreadyExistsException/);
  const missing = await aws(env, ['logs', 'get-log-events', '--log-group-name', '/cli/nope', '--log-stream-name', 'x']);
  assert.match(missing.stderr, /ResourceNotFoundException.*The specified log group does not exist/);
});

test('GetLogEvents pages forward and backward and returns the same token at either end', async () => {
  await group('/paging', ['s']);
  const t0 = clock.now() - 60_000;
  const events = Array.from({ length: 25 }, (_, i) => ({ timestamp: t0 + i * 100, message: `line ${i}` }));
  await logs.send(new PutLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', logEvents: events }));

  // Forward from the head: 10, 10, 5, then nothing with the same forward token.
  const seen: string[] = [];
  let page = await logs.send(new GetLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', startFromHead: true, limit: 10 }));
  seen.push(...page.events!.map((e) => e.message!));
  assert.match(page.nextForwardToken!, /^f\/\d+$/);
  assert.match(page.nextBackwardToken!, /^b\/\d+$/);
  for (;;) {
    const token = page.nextForwardToken!;
    page = await logs.send(new GetLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', nextToken: token, limit: 10 }));
    if (page.events!.length === 0) {
      assert.equal(page.nextForwardToken, token, 'at the end the forward token comes back unchanged');
      break;
    }
    seen.push(...page.events!.map((e) => e.message!));
  }
  assert.deepEqual(seen, events.map((e) => e.message));

  // New events appear to a follower holding the end token.
  await logs.send(new PutLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', logEvents: [{ timestamp: t0 + 10_000, message: 'late' }] }));
  const more = await logs.send(new GetLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', nextToken: page.nextForwardToken }));
  assert.deepEqual(more.events!.map((e) => e.message), ['late']);

  // Backward from the tail: the newest 10 first (in ascending order), then older pages.
  const back: string[][] = [];
  page = await logs.send(new GetLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', limit: 10 }));
  back.push(page.events!.map((e) => e.message!));
  for (;;) {
    const token = page.nextBackwardToken!;
    page = await logs.send(new GetLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', nextToken: token, limit: 10 }));
    if (page.events!.length === 0) {
      assert.equal(page.nextBackwardToken, token, 'at the start the backward token comes back unchanged');
      break;
    }
    back.push(page.events!.map((e) => e.message!));
  }
  assert.deepEqual(back[0], [...events.slice(16).map((e) => e.message), 'late']);
  assert.deepEqual(back.reverse().flat(), [...events.map((e) => e.message), 'late']);

  // Time window: startTime inclusive, endTime exclusive.
  const win = await logs.send(
    new GetLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', startFromHead: true, startTime: t0 + 500, endTime: t0 + 800 }),
  );
  assert.deepEqual(win.events!.map((e) => e.message), ['line 5', 'line 6', 'line 7']);

  const bad = await errorOf(logs.send(new GetLogEventsCommand({ logGroupName: '/paging', logStreamName: 's', nextToken: 'f/garbage' })));
  assert.equal(bad.name, 'InvalidParameterException');
});

test('FilterLogEvents: JSON patterns, terms, streams, time range and pagination', async () => {
  await group('/filter', ['api-1', 'api-2', 'worker']);
  const t = clock.now() - 10_000;
  const put = (stream: string, msgs: string[], base: number) =>
    logs.send(new PutLogEventsCommand({ logGroupName: '/filter', logStreamName: stream, logEvents: msgs.map((message, i) => ({ timestamp: base + i * 10, message })) }));
  await put('api-1', [JSON.stringify({ level: 'error', latency: 900, path: '/a' }), JSON.stringify({ level: 'info', latency: 20, path: '/b' })], t);
  await put('api-2', [JSON.stringify({ level: 'error', latency: 100, path: '/c' }), 'plain ERROR text line'], t + 5);
  await put('worker', [JSON.stringify({ level: 'warn', latency: 700 }), 'worker ERROR crashed', 'worker ok'], t + 1);

  const f = async (filterPattern: string, extra: object = {}) =>
    (await logs.send(new FilterLogEventsCommand({ logGroupName: '/filter', filterPattern, ...extra }))).events!.map((e) => e.message!);

  assert.deepEqual(
    (await f('{ $.level = "error" }')).map((m) => JSON.parse(m).path),
    ['/a', '/c'],
  );
  assert.deepEqual((await f('{ $.latency > 500 }')).map((m) => JSON.parse(m).latency), [900, 700]);
  assert.deepEqual((await f('{ $.level = "error" && $.latency > 500 }')).length, 1);
  assert.deepEqual((await f('{ $.level = "warn" || $.path = "/b" }')).length, 2);
  assert.deepEqual(await f('ERROR -worker'), ['plain ERROR text line']);
  assert.deepEqual(await f('?crashed ?plain'), ['worker ERROR crashed', 'plain ERROR text line']);
  assert.deepEqual(await f('ERROR', { logStreamNames: ['worker'] }), ['worker ERROR crashed']);
  assert.deepEqual(await f('ERROR', { logStreamNamePrefix: 'api' }), ['plain ERROR text line']);
  assert.deepEqual(await f('worker', { startTime: t + 11, endTime: t + 21 }), ['worker ERROR crashed', 'worker ok']);

  // Pagination over all 7 events, 3 at a time, in time order across streams.
  const all: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const out = await logs.send(new FilterLogEventsCommand({ logGroupName: '/filter', limit: 3, nextToken }));
    all.push(...out.events!.map((e) => `${e.logStreamName}@${e.timestamp}`));
    nextToken = out.nextToken;
    pages++;
  } while (nextToken);
  assert.equal(all.length, 7);
  assert.equal(pages, 3);
  const times = all.map((s) => Number(s.split('@')[1]));
  assert.deepEqual(times, [...times].sort((a, b) => a - b));

  for (const bad of ['{ $.level = }', '"unterminated', 'foo-bar', '{ $.latency > big }']) {
    const e = await errorOf(logs.send(new FilterLogEventsCommand({ logGroupName: '/filter', filterPattern: bad })));
    assert.equal(e.name, 'InvalidParameterException', bad);
    assert.equal(e.status, 400);
  }
  const both = await errorOf(logs.send(new FilterLogEventsCommand({ logGroupName: '/filter', logStreamNames: ['a'], logStreamNamePrefix: 'a' })));
  assert.equal(both.name, 'InvalidParameterException');
  const nogroup = await errorOf(logs.send(new FilterLogEventsCommand({ logGroupName: '/nope' })));
  assert.equal(nogroup.name, 'ResourceNotFoundException');
});

test('PutLogEvents enforces AWS batch rules and reports rejected events', async () => {
  await group('/rules', ['s']);
  const now = clock.now();
  const send = (logEvents: { timestamp: number; message: string }[], stream = 's', logGroupName = '/rules') =>
    logs.send(new PutLogEventsCommand({ logGroupName, logStreamName: stream, logEvents }));

  const tooMany = await errorOf(send(Array.from({ length: 10_001 }, (_, i) => ({ timestamp: now, message: `m${i}` }))));
  assert.equal(tooMany.name, 'InvalidParameterException');
  // 5 events of 210,000 bytes: each under 256 KB, together over 1,048,576 bytes.
  const big = 'x'.repeat(210_000);
  const oversize = await errorOf(send(Array.from({ length: 5 }, () => ({ timestamp: now, message: big }))));
  assert.equal(oversize.name, 'InvalidParameterException');
  assert.match(oversize.message, /1048576/);
  const huge = await errorOf(send([{ timestamp: now, message: 'y'.repeat(262_144) }]));
  assert.equal(huge.name, 'InvalidParameterException');
  assert.match(huge.message, /too large/);
  const order = await errorOf(send([{ timestamp: now, message: 'b' }, { timestamp: now - 1, message: 'a' }]));
  assert.match(order.message, /chronological/);
  const span = await errorOf(send([{ timestamp: now - 25 * 3600_000, message: 'a' }, { timestamp: now, message: 'b' }]));
  assert.match(span.message, /24 hours/);
  assert.equal((await errorOf(send([{ timestamp: now, message: 'x' }], 'nostream'))).name, 'ResourceNotFoundException');
  assert.equal((await errorOf(send([{ timestamp: now, message: 'x' }], 's', '/nogroup'))).name, 'ResourceNotFoundException');
  // Nothing from the failed batches was stored.
  const empty = await logs.send(new GetLogEventsCommand({ logGroupName: '/rules', logStreamName: 's' }));
  assert.equal(empty.events!.length, 0);

  // Too old (> 14 days), and too new (> 2 h ahead): skipped and reported; the rest is stored.
  const out = await send([
    { timestamp: now - 15 * 24 * 3600_000, message: 'ancient' },
    { timestamp: now - 1000, message: 'ok 1' },
    { timestamp: now, message: 'ok 2' },
    { timestamp: now + 3 * 3600_000, message: 'future' },
  ]);
  assert.deepEqual(out.rejectedLogEventsInfo, { tooOldLogEventEndIndex: 0, tooNewLogEventStartIndex: 3 });
  const stored = await logs.send(new GetLogEventsCommand({ logGroupName: '/rules', logStreamName: 's', startFromHead: true }));
  assert.deepEqual(stored.events!.map((e) => e.message), ['ok 1', 'ok 2']);

  // A sequence token, even a wrong one, is accepted and ignored.
  const withToken = await logs.send(
    new PutLogEventsCommand({ logGroupName: '/rules', logStreamName: 's', sequenceToken: '123', logEvents: [{ timestamp: now, message: 'ok 3' }] }),
  );
  assert.ok(withToken.nextSequenceToken);

  const badName = await errorOf(logs.send(new CreateLogGroupCommand({ logGroupName: 'bad name!' })));
  assert.equal(badName.name, 'InvalidParameterException');
  const badStream = await errorOf(logs.send(new CreateLogStreamCommand({ logGroupName: '/rules', logStreamName: 'a:b' })));
  assert.equal(badStream.name, 'InvalidParameterException');
  const dupStream = await errorOf(logs.send(new CreateLogStreamCommand({ logGroupName: '/rules', logStreamName: 's' })));
  assert.equal(dupStream.name, 'ResourceAlreadyExistsException');
  const badRetention = await errorOf(logs.send(new PutRetentionPolicyCommand({ logGroupName: '/rules', retentionInDays: 2 })));
  assert.equal(badRetention.name, 'InvalidParameterException');
});

test('DescribeLogGroups and DescribeLogStreams: prefix, pattern, order and pagination', async () => {
  for (const n of ['/desc/a', '/desc/b', '/desc/c', '/other/desc-x']) await logs.send(new CreateLogGroupCommand({ logGroupName: n }));
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/desc/', limit: 2, nextToken }));
    names.push(...out.logGroups!.map((g) => g.logGroupName!));
    nextToken = out.nextToken;
  } while (nextToken);
  assert.deepEqual(names, ['/desc/a', '/desc/b', '/desc/c']);
  const first = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/desc/a' }))).logGroups![0]!;
  assert.equal(first.logGroupArn, `arn:aws:logs:us-east-1:${berth.platform.accountId}:log-group:/desc/a`);
  const pat = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: 'desc-' }));
  assert.deepEqual(pat.logGroups!.map((g) => g.logGroupName), ['/other/desc-x']);
  assert.deepEqual(Object.keys(pat.logGroups![0]!).sort(), ['arn', 'creationTime', 'logGroupName']);
  const upper = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: 'DESC-' }));
  assert.deepEqual(upper.logGroups, [], 'the pattern is a case-sensitive substring');
  const both = await errorOf(logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: 'a', logGroupNamePrefix: '/' })));
  assert.equal(both.name, 'InvalidParameterException');

  const now = clock.now();
  for (const [s, dt] of [['s-b', 300], ['s-a', 100], ['s-c', 200]] as const) {
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/desc/a', logStreamName: s }));
    await logs.send(new PutLogEventsCommand({ logGroupName: '/desc/a', logStreamName: s, logEvents: [{ timestamp: now - 1000 + dt, message: s }] }));
  }
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/desc/a', logStreamName: 'other' }));
  const byName = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/desc/a', logStreamNamePrefix: 's-' }));
  assert.deepEqual(byName.logStreams!.map((s) => s.logStreamName), ['s-a', 's-b', 's-c']);
  const byTime: string[] = [];
  nextToken = undefined;
  do {
    const out: DescribeLogStreamsCommandOutput = await logs.send(
      new DescribeLogStreamsCommand({ logGroupName: '/desc/a', orderBy: 'LastEventTime', descending: true, limit: 1, nextToken }),
    );
    byTime.push(...out.logStreams!.map((s) => s.logStreamName!));
    nextToken = out.nextToken;
  } while (nextToken);
  assert.deepEqual(byTime, ['s-b', 's-c', 's-a', 'other']);
  const arnRef = `arn:aws:logs:us-east-1:${berth.platform.accountId}:log-group:/desc/a`;
  const viaArn = await logs.send(new DescribeLogStreamsCommand({ logGroupIdentifier: arnRef, descending: true }));
  assert.equal(viaArn.logStreams![0]!.logStreamName, 's-c');
  assert.equal(viaArn.logStreams![0]!.arn, `${arnRef}:log-stream:s-c`);
  const conflict = await errorOf(logs.send(new DescribeLogStreamsCommand({ logGroupName: '/desc/a', orderBy: 'LastEventTime', logStreamNamePrefix: 's' })));
  assert.equal(conflict.name, 'InvalidParameterException');

  await logs.send(new DeleteLogStreamCommand({ logGroupName: '/desc/a', logStreamName: 's-a' }));
  const g = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/desc/a' }))).logGroups![0]!;
  assert.equal(g.storedBytes, 6, 'deleting a stream releases its bytes');
  await logs.send(new DeleteLogGroupCommand({ logGroupName: '/desc/a' }));
  assert.equal((await errorOf(logs.send(new DeleteLogGroupCommand({ logGroupName: '/desc/a' })))).name, 'ResourceNotFoundException');
  assert.equal((await errorOf(logs.send(new DescribeLogStreamsCommand({ logGroupName: '/desc/a' })))).name, 'ResourceNotFoundException');
});

test('tags: TagResource / UntagResource / ListTagsForResource and the legacy log-group calls', async () => {
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/tags', tags: { team: 'core' } }));
  const a = `arn:aws:logs:us-east-1:${berth.platform.accountId}:log-group:/tags`;
  await logs.send(new TagResourceCommand({ resourceArn: a, tags: { env: 'dev' } }));
  assert.deepEqual((await logs.send(new ListTagsForResourceCommand({ resourceArn: a }))).tags, { team: 'core', env: 'dev' });
  await logs.send(new UntagResourceCommand({ resourceArn: a, tagKeys: ['team'] }));
  assert.deepEqual((await logs.send(new ListTagsLogGroupCommand({ logGroupName: '/tags' }))).tags, { env: 'dev' });
  const missing = await errorOf(logs.send(new ListTagsForResourceCommand({ resourceArn: `${a}-nope` })));
  assert.equal(missing.name, 'ResourceNotFoundException');
  const reserved = await errorOf(logs.send(new TagResourceCommand({ resourceArn: a, tags: { 'aws:x': 'y' } })));
  assert.equal(reserved.name, 'InvalidParameterException');
});

test('retention: the background sweep deletes events older than the policy, driven by the clock', async () => {
  await group('/retained', ['s']);
  const start = clock.now();
  for (const [ago, message] of [[3 * 24 * 3600_000, 'three days old'], [3600_000, 'an hour old']] as const) {
    await logs.send(new PutLogEventsCommand({ logGroupName: '/retained', logStreamName: 's', logEvents: [{ timestamp: start - ago, message }] }));
  }
  await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/retained', retentionInDays: 1 }));
  const described = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/retained' }))).logGroups![0]!;
  assert.equal(described.retentionInDays, 1);
  const stored = async (client = logs) =>
    (await client.send(new GetLogEventsCommand({ logGroupName: '/retained', logStreamName: 's', startFromHead: true }))).events!.map((e) => e.message);
  assert.deepEqual(await stored(), ['three days old', 'an hour old'], 'nothing goes before the sweep runs');
  // The sweep runs in the background on the injected clock: once a second of its time.
  await clock.advance(1000);
  await eventually(async () => (await stored()).length === 1, { what: 'first sweep' });
  assert.deepEqual(await stored(), ['an hour old']);
  // Move the clock two days on: the remaining event expires too. Berth checks request signatures
  // against its clock, so the reader corrects for the skew as SDK clients do.
  await clock.advance(2 * 24 * 3600_000);
  const skewed = new CloudWatchLogsClient({ ...berth.clientConfig, systemClockOffset: clock.now() - Date.now() });
  try {
    await eventually(async () => (await stored(skewed)).length === 0, { what: 'second sweep' });
  } finally {
    skewed.destroy();
    clock.set(Date.now());
  }
  const g = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/retained' }))).logGroups![0]!;
  assert.equal(g.storedBytes, 0);
  // Events older than the retention period are rejected as expired.
  const out = await logs.send(
    new PutLogEventsCommand({ logGroupName: '/retained', logStreamName: 's', logEvents: [{ timestamp: clock.now() - 2 * 24 * 3600_000, message: 'late' }, { timestamp: clock.now(), message: 'now' }] }),
  );
  assert.equal(out.rejectedLogEventsInfo?.expiredLogEventEndIndex, 0);
});

test("the agent's log shipper: lines out of order, beyond a batch's limits or an event's size all arrive, through PutLogEvents", async () => {
  const client = jsonService({ endpoint: berth.url, region: 'us-east-1', accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey }, 'logs');
  // What the shipper sends, as the server sees it: each PutLogEvents batch must pass the rules.
  const batches: Array<{ count: number; bytes: number; sorted: boolean }> = [];
  const shipper = new LogShipper(async (operation, input) => {
    if (operation === 'PutLogEvents') {
      const events = (input as { logEvents: Array<{ timestamp: number; message: string }> }).logEvents;
      batches.push({
        count: events.length,
        bytes: events.reduce((n, e) => n + Buffer.byteLength(e.message) + LIMITS.perEventOverhead, 0),
        sorted: events.every((e, i) => i === 0 || events[i - 1]!.timestamp <= e.timestamp),
      });
    }
    return client(operation, input);
  });

  // A group that does not exist and may not be created: the task's logs cannot start.
  const missing: LogDestination = { group: '/ship/missing', stream: 'web/c/1', createGroup: false };
  await assert.rejects(shipper.prepare(missing), (e) => e instanceof AwsApiError && e.code === 'ResourceNotFoundException');
  assert.equal((await errorOf(logs.send(new DescribeLogStreamsCommand({ logGroupName: '/ship/missing' })))).name, 'ResourceNotFoundException');

  // Berth's default destination creates its group.
  const group = defaultLogGroup('ship');
  const lines: LogDestination = { group, stream: 'web/c/1', createGroup: true };
  const big: LogDestination = { group, stream: 'web/c/2', createGroup: true };
  await shipper.prepare(lines);
  await shipper.prepare(big);
  const now = clock.now();
  // 12,000 lines, newest first: more than one batch can hold, and out of timestamp order.
  for (let i = 11_999; i >= 0; i--) shipper.push(lines, { timestamp: now - 12_000 + i, message: `out ${i}` });
  // An oversize line is cut to the largest event; five 210 KB lines exceed a batch's bytes.
  shipper.push(big, { timestamp: now - 10, message: 'y'.repeat(300_000) });
  for (let i = 0; i < 5; i++) shipper.push(big, { timestamp: now - 5 + i, message: `${i}`.repeat(210_000) });
  await shipper.flush();
  await shipper.close();

  assert.ok(batches.length >= 4, `sent in ${batches.length} batches`);
  for (const b of batches) {
    assert.ok(b.count <= LIMITS.maxEvents && b.bytes <= LIMITS.maxBatchBytes && b.sorted, JSON.stringify(b));
  }
  const readAll = async (stream: string) => {
    const out: string[] = [];
    let nextToken: string | undefined;
    for (;;) {
      const page = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true, nextToken }));
      if (page.events!.length === 0) return out;
      out.push(...page.events!.map((e) => e.message!));
      nextToken = page.nextForwardToken;
    }
  };
  assert.deepEqual(await readAll('web/c/1'), Array.from({ length: 12_000 }, (_, i) => `out ${i}`));
  const bigOnes = await readAll('web/c/2');
  assert.deepEqual(bigOnes.map((m) => Buffer.byteLength(m)), [LIMITS.maxEventBytes - LIMITS.perEventOverhead, ...Array(5).fill(210_000)]);
  const s = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group }));
  assert.deepEqual(s.logStreams!.map((x) => x.logStreamName), ['web/c/1', 'web/c/2']);
});

test('following streams as `berth logs -f` does: FilterLogEvents by names or prefix, paged, then from a start time', async () => {
  const logGroupName = defaultLogGroup('follow');
  await group(logGroupName, ['web/c/1', 'web/c/2', 'db/c/1']);
  const now = clock.now() - 60_000;
  const put = (stream: string, from: number, n: number) =>
    logs.send(
      new PutLogEventsCommand({ logGroupName, logStreamName: stream, logEvents: Array.from({ length: n }, (_, i) => ({ timestamp: now + from + i, message: `${stream} ${from + i}` })) }),
    );
  await put('web/c/1', 0, 10_000);
  await put('web/c/1', 10_000, 2_000);
  await put('web/c/2', 5_000, 1);
  await put('db/c/1', 5_000, 1);

  const follow = async (select: { logStreamNames?: string[]; logStreamNamePrefix?: string }, startTime: number) => {
    const out: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await logs.send(new FilterLogEventsCommand({ logGroupName, ...select, startTime, nextToken, limit: 5_000 }));
      out.push(...page.events!.map((e) => e.message!));
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  };
  const one = await follow({ logStreamNames: ['web/c/1', 'not-yet'] }, now);
  assert.equal(one.length, 12_000);
  assert.deepEqual([one[0], one[11_999]], ['web/c/1 0', 'web/c/1 11999']);
  const web = await follow({ logStreamNamePrefix: 'web/' }, now);
  assert.equal(web.length, 12_001);
  assert.ok(!web.some((m) => m.startsWith('db/')));
  assert.equal(web[5_001], 'web/c/2 5000', 'interleaved by time across streams');

  // New lines, in a stream created since, show up from the last time seen.
  await logs.send(new CreateLogStreamCommand({ logGroupName, logStreamName: 'web/c/3' }));
  await put('web/c/3', 20_000, 1);
  await put('web/c/1', 20_001, 1);
  assert.deepEqual(await follow({ logStreamNamePrefix: 'web/' }, now + 12_000), ['web/c/3 20000', 'web/c/1 20001']);
  assert.equal((await errorOf(logs.send(new FilterLogEventsCommand({ logGroupName: defaultLogGroup('nope') })))).name, 'ResourceNotFoundException');
});

test('POST /_berth/reset also empties logs.db (ephemeral Berth)', async () => {
  await group('/before-reset', ['s']);
  const res = await resetBerth(berth.url, berth.credentials);
  assert.equal(res.status, 200);
  const out = await logs.send(new DescribeLogGroupsCommand({}));
  assert.deepEqual(out.logGroups, []);
  await group('/before-reset', ['s']);
});
