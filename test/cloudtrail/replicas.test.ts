// The audit trail across control-plane replicas (issue 17): two replicas on one PostgreSQL
// database, each with its own data dir; LookupEvents and `berth audit -f` on either show the
// calls answered by the other, each once; the batches kept in the store follow the audit log's
// bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IAMClient, CreateUserCommand, CreateAccessKeyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { ECSClient, CreateClusterCommand, DescribeClustersCommand } from '@aws-sdk/client-ecs';
import { CloudTrailClient, LookupEventsCommand, type Event } from '@aws-sdk/client-cloudtrail';
import { startTestBerth, eventually, errorOf } from '../helpers/fixture.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { BERTH_BIN } from '../helpers/processes.js';
import { AuditLog } from '../../src/domain/cloudtrail/auditLog.js';
import { AUDIT_BATCH_KIND, SharedAuditTrail } from '../../src/domain/cloudtrail/sharedTrail.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ManualClock } from '../../src/clock.js';

const ENV = { BERTH_ROOT_ACCESS_KEY_ID: 'AKIAAUDITREPLICA0001', BERTH_ROOT_SECRET_ACCESS_KEY: 'audit-replica-secret-00000000000000000000', BERTH_ACCOUNT_ID: '123456789012' };

test('LookupEvents and berth audit -f on one replica show the calls answered by the other, each once', async (t) => {
  const pg = await startTestPostgres();
  if (typeof pg === 'string') return t.skip(pg);
  const a = await startTestBerth({ storeUrl: pg.url, env: ENV });
  const b = await startTestBerth({ storeUrl: pg.url, env: ENV });
  const rootEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: ENV.BERTH_ROOT_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: ENV.BERTH_ROOT_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL: b.url, AWS_REGION: 'us-east-1' };
  // Following replica B from before the calls are made on replica A.
  const follower = spawn(process.execPath, [BERTH_BIN, 'audit', '-f', '--source', 'ecs'], { env: rootEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let followed = '';
  follower.stdout.on('data', (d) => (followed += d));
  follower.stderr.on('data', (d) => (followed += d));
  try {
    // A user made on A, calling on A: one allowed call and one denied.
    const iamA = new IAMClient(a.clientConfig);
    await iamA.send(new CreateUserCommand({ UserName: 'replica-user' }));
    await iamA.send(new PutUserPolicyCommand({ UserName: 'replica-user', PolicyName: 'p', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecs:DescribeClusters', Resource: '*' }] }) }));
    const key = (await iamA.send(new CreateAccessKeyCommand({ UserName: 'replica-user' }))).AccessKey!;
    iamA.destroy();
    const ecsAsUserOnA = new ECSClient({ ...a.clientConfig, credentials: { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! } });
    await eventually(async () => (await ecsAsUserOnA.send(new DescribeClustersCommand({ clusters: ['default'] }))).$metadata.httpStatusCode === 200, { what: 'the new key to work on A' });
    assert.equal((await errorOf(ecsAsUserOnA.send(new CreateClusterCommand({ clusterName: 'not-allowed' })))).name, 'AccessDeniedException');
    ecsAsUserOnA.destroy();

    // B answers for them (they reach it through the store's change feed).
    const ctB = new CloudTrailClient(b.clientConfig);
    const byUser = async () => (await ctB.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'replica-user' }] }))).Events ?? [];
    const events = await eventually(async () => {
      const e = await byUser();
      return e.some((x) => x.EventName === 'CreateCluster') && e.some((x) => x.EventName === 'DescribeClusters') ? e : undefined;
    }, { what: 'replica B to show the calls made on replica A', timeoutMs: 15_000, intervalMs: 200 });
    const denied = events.find((x) => x.EventName === 'CreateCluster')!;
    const record = JSON.parse(denied.CloudTrailEvent!) as { errorCode: string; userIdentity: { arn: string }; sourceIPAddress: string };
    assert.equal(record.errorCode, 'AccessDeniedException');
    assert.equal(record.userIdentity.arn, 'arn:aws:iam::123456789012:user/replica-user');
    assert.equal(denied.AccessKeyId, key.AccessKeyId);
    // Each call once, on both replicas (A has its own records and B's copies do not come back to it).
    const ctA = new CloudTrailClient(a.clientConfig);
    const onA = (await ctA.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'replica-user' }] }))).Events ?? [];
    const ids = (list: Event[]) => list.map((x) => x.EventId).sort();
    assert.equal(new Set(ids(events)).size, events.length);
    assert.deepEqual(ids(onA), ids(await byUser()));
    // A's CreateUser made by root, looked up on B by event name.
    const created = (await ctB.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CreateUser' }] }))).Events ?? [];
    assert.equal(created.length, 1);
    ctA.destroy();
    ctB.destroy();

    // The follower on B printed A's calls.
    await eventually(() => /ecs:CreateCluster\s+AccessDeniedException/.test(followed) && /ecs:DescribeClusters\s+OK/.test(followed), { what: `berth audit -f on B to print A's calls: ${followed}`, timeoutMs: 15_000, intervalMs: 200 });

    // A third replica started later reads the trail kept in the store.
    const c = await startTestBerth({ storeUrl: pg.url, env: ENV });
    try {
      const ctC = new CloudTrailClient(c.clientConfig);
      const onC = (await ctC.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'replica-user' }] }))).Events ?? [];
      assert.deepEqual(ids(onC), ids(onA));
      ctC.destroy();
    } finally {
      await c.close();
    }
  } finally {
    follower.kill('SIGINT');
    await once(follower, 'close');
    await a.close();
    await b.close();
    pg.stop();
  }
});

test('the shared trail: batches published and taken in once, and pruned by the audit log\'s bounds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-trail-'));
  const clock = new ManualClock();
  const store = new SqliteStore(join(dir, 'state.db'));
  const logA = AuditLog.open(mkdtempSync(join(dir, 'a-')), clock, { maxEvents: 1000, maxAgeMs: 60_000 });
  const logB = AuditLog.open(mkdtempSync(join(dir, 'b-')), clock, { maxEvents: 1000, maxAgeMs: 60_000 });
  const errors: unknown[] = [];
  const trailA = new SharedAuditTrail(store, logA, 'replica-a', (e) => errors.push(e));
  const trailB = new SharedAuditTrail(store, logB, 'replica-b', (e) => errors.push(e));
  try {
    await trailA.start();
    await trailB.start();
    const call = (i: number) => ({ time: clock.now(), requestId: `r${i}`, service: 'ecs', operation: `Op${i}`, region: 'us-east-1', sourceIp: '127.0.0.1', resources: [] });
    for (let i = 0; i < 450; i++) logA.record(call(i));
    logA.flush();
    await trailA.publish();
    // 450 records: three batch records of at most 200.
    assert.equal((await store.list(AUDIT_BATCH_KIND)).length, 3);
    await eventually(() => logB.count() === 450, { what: 'B to take in A\'s records' });
    assert.equal(logA.count(), 450);
    // Later records; the first ones age out: their batches leave the store, the newer one stays.
    await clock.advance(61_000);
    logA.record(call(1000));
    logA.flush();
    await trailA.publish();
    assert.equal(await trailB.prune(), 3);
    assert.deepEqual((await store.list(AUDIT_BATCH_KIND)).length, 1);
    assert.equal(await trailB.prune(), 0);
    assert.deepEqual(errors, []);
  } finally {
    await trailA.stop();
    await trailB.stop();
    logA.close();
    logB.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
