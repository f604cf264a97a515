// The foundation through the real AWS SDK v3 clients: STS identity, ECS clusters end to end,
// authentication failures and malformed requests (none of which may change state).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ECSClient,
  CreateClusterCommand,
  DescribeClustersCommand,
  ListClustersCommand,
  DeleteClusterCommand,
  UpdateClusterCommand,
  TagResourceCommand,
  UntagResourceCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-ecs';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { signRequest } from '../../src/protocol/sigv4.js';

let berth: TestBerth;
let ecs: ECSClient;

before(async () => {
  berth = await startTestBerth();
  ecs = new ECSClient(berth.clientConfig);
});
after(async () => {
  ecs.destroy();
  await berth.close();
});

async function clusterNames(): Promise<string[]> {
  const out = await ecs.send(new ListClustersCommand({}));
  return (out.clusterArns ?? []).map((a) => a.split('/').pop()!).sort();
}

/** Sends a raw signed (or unsigned) request, for cases the SDK refuses to produce. */
async function raw(opts: { target?: string; body: string; contentType?: string; sign?: { secret?: string; now?: number; service?: string } | false }) {
  const url = new URL(berth.url + '/');
  let headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/x-amz-json-1.1' };
  if (opts.target) headers['x-amz-target'] = opts.target;
  if (opts.sign !== false) {
    headers = signRequest({
      method: 'POST',
      url,
      headers,
      body: opts.body,
      accessKeyId: berth.credentials.accessKeyId,
      secretAccessKey: opts.sign?.secret ?? berth.credentials.secretAccessKey,
      region: 'us-east-1',
      service: opts.sign?.service ?? 'ecs',
      now: opts.sign?.now,
    });
    delete headers.host;
  }
  const res = await fetch(url, { method: 'POST', headers, body: opts.body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

test('sts get-caller-identity names the root of the account', async () => {
  const sts = new STSClient(berth.clientConfig);
  const id = await sts.send(new GetCallerIdentityCommand({}));
  assert.match(id.Account!, /^\d{12}$/);
  assert.equal(id.Account, berth.credentials.accountId);
  assert.equal(id.Arn, `arn:aws:iam::${id.Account}:root`);
  sts.destroy();
});

test('ecs clusters: create, list, describe with failures, update, tag, delete', async () => {
  const created = await ecs.send(new CreateClusterCommand({ clusterName: 'demo', tags: [{ key: 'team', value: 'web' }] }));
  assert.equal(created.cluster?.clusterArn, `arn:aws:ecs:us-east-1:${berth.credentials.accountId}:cluster/demo`);
  assert.equal(created.cluster?.status, 'ACTIVE');
  assert.deepEqual(created.cluster?.tags, [{ key: 'team', value: 'web' }]);

  // Creating it again returns the same cluster.
  const again = await ecs.send(new CreateClusterCommand({ clusterName: 'demo' }));
  assert.equal(again.cluster?.clusterArn, created.cluster?.clusterArn);
  assert.ok((await clusterNames()).includes('demo'));

  const described = await ecs.send(new DescribeClustersCommand({ clusters: ['demo', 'nope'], include: ['TAGS'] }));
  assert.equal(described.clusters?.length, 1);
  assert.deepEqual(described.clusters?.[0]?.tags, [{ key: 'team', value: 'web' }]);
  assert.deepEqual(described.failures, [{ arn: `arn:aws:ecs:us-east-1:${berth.credentials.accountId}:cluster/nope`, reason: 'MISSING' }]);

  const updated = await ecs.send(new UpdateClusterCommand({ cluster: 'demo', settings: [{ name: 'containerInsights', value: 'enabled' }] }));
  assert.deepEqual(updated.cluster?.settings, [{ name: 'containerInsights', value: 'enabled' }]);

  const arn = created.cluster!.clusterArn!;
  await ecs.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'env', value: 'dev' }] }));
  await ecs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['team'] }));
  const tags = await ecs.send(new ListTagsForResourceCommand({ resourceArn: arn }));
  assert.deepEqual(tags.tags, [{ key: 'env', value: 'dev' }]);

  const deleted = await ecs.send(new DeleteClusterCommand({ cluster: 'demo' }));
  assert.equal(deleted.cluster?.status, 'INACTIVE');
  assert.ok(!(await clusterNames()).includes('demo'));
  const after = await ecs.send(new DescribeClustersCommand({ clusters: ['demo'] }));
  assert.equal(after.clusters?.[0]?.status, 'INACTIVE');
  await assert.rejects(ecs.send(new DeleteClusterCommand({ cluster: 'demo' })), { name: 'ClusterNotFoundException' });
});

test('list-clusters paginates without gaps or repeats', async () => {
  const names = Array.from({ length: 23 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
  for (const n of names) await ecs.send(new CreateClusterCommand({ clusterName: n }));
  const seen: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const out = await ecs.send(new ListClustersCommand({ maxResults: 5, nextToken }));
    assert.ok((out.clusterArns ?? []).length <= 5);
    seen.push(...(out.clusterArns ?? []).map((a) => a.split('/').pop()!));
    nextToken = out.nextToken;
    pages++;
  } while (nextToken);
  assert.deepEqual(seen.filter((n) => n.startsWith('page-')), names);
  assert.ok(pages >= 5);
  await assert.rejects(ecs.send(new ListClustersCommand({ nextToken: 'garbage' })), { name: 'InvalidParameterException' });
});

test('invalid input gets the AWS error, not a crash', async () => {
  await assert.rejects(ecs.send(new CreateClusterCommand({ clusterName: 'has spaces' })), { name: 'InvalidParameterException' });
  await assert.rejects(ecs.send(new CreateClusterCommand({ clusterName: 'x'.repeat(256) })), { name: 'InvalidParameterException' });
  await assert.rejects(ecs.send(new ListClustersCommand({ maxResults: 1000 })), { name: 'InvalidParameterException' });
  await assert.rejects(ecs.send(new TagResourceCommand({ resourceArn: 'not-an-arn', tags: [{ key: 'a', value: 'b' }] })), { name: 'InvalidParameterException' });
});

test('wrong secret key, unknown key, unsigned and stale requests are 403 with the protocol code, and change nothing', async () => {
  const before = await clusterNames();
  const body = JSON.stringify({ clusterName: 'forged' });
  const target = 'AmazonEC2ContainerServiceV20141113.CreateCluster';

  const wrong = new ECSClient({ ...berth.clientConfig, credentials: { ...berth.clientConfig.credentials, secretAccessKey: 'wrong' } });
  await assert.rejects(wrong.send(new CreateClusterCommand({ clusterName: 'forged' })), (e: any) => e.name === 'InvalidSignatureException' && e.$metadata.httpStatusCode === 403);
  wrong.destroy();
  const unknown = new ECSClient({ ...berth.clientConfig, credentials: { accessKeyId: 'AKIANOTAKEY000000000', secretAccessKey: 'x' } });
  await assert.rejects(unknown.send(new CreateClusterCommand({ clusterName: 'forged' })), (e: any) => e.name === 'UnrecognizedClientException' && e.$metadata.httpStatusCode === 403);
  unknown.destroy();

  const unsigned = await raw({ target, body, sign: false });
  assert.equal(unsigned.status, 403);
  assert.equal(JSON.parse(unsigned.text).__type, 'MissingAuthenticationTokenException');

  const stale = await raw({ target, body, sign: { now: Date.now() - 20 * 60_000 } });
  assert.equal(stale.status, 403);
  assert.equal(JSON.parse(stale.text).__type, 'InvalidSignatureException');
  assert.match(JSON.parse(stale.text).message, /Signature expired/);

  // Tampering with the body after signing breaks the signature.
  const url = new URL(berth.url + '/');
  const headers = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, body, accessKeyId: berth.credentials.accessKeyId, secretAccessKey: berth.credentials.secretAccessKey, region: 'us-east-1', service: 'ecs' });
  delete headers.host;
  const tampered = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ clusterName: 'forged2' }) });
  assert.equal(tampered.status, 403);

  // Query protocol spells them its own way.
  const form = 'Action=GetCallerIdentity&Version=2011-06-15';
  const q = await raw({ body: form, contentType: 'application/x-www-form-urlencoded', sign: { secret: 'wrong', service: 'sts' } });
  assert.equal(q.status, 403);
  assert.match(q.text, /<Code>SignatureDoesNotMatch<\/Code>/);
  const qStale = await raw({ body: form, contentType: 'application/x-www-form-urlencoded', sign: { service: 'sts', now: Date.now() - 20 * 60_000 } });
  assert.equal(qStale.status, 403);
  assert.match(qStale.text, /<Code>SignatureDoesNotMatch<\/Code>[\s\S]*Signature expired/);
  const qUnsigned = await raw({ body: form, contentType: 'application/x-www-form-urlencoded', sign: false });
  assert.equal(qUnsigned.status, 403);
  assert.match(qUnsigned.text, /<Code>MissingAuthenticationToken<\/Code>/);

  assert.deepEqual(await clusterNames(), before);
});

test('garbage bodies, unknown operations and wrong types are clear 4xx errors', async () => {
  const before = await clusterNames();
  const garbage = await raw({ target: 'AmazonEC2ContainerServiceV20141113.CreateCluster', body: '{not json' });
  assert.equal(garbage.status, 400);
  assert.equal(JSON.parse(garbage.text).__type, 'SerializationException');

  const wrongType = await raw({ target: 'AmazonEC2ContainerServiceV20141113.CreateCluster', body: JSON.stringify({ clusterName: 42 }) });
  assert.equal(wrongType.status, 400);
  assert.equal(JSON.parse(wrongType.text).__type, 'SerializationException');
  assert.match(JSON.parse(wrongType.text).message, /clusterName/);

  const notObject = await raw({ target: 'AmazonEC2ContainerServiceV20141113.CreateCluster', body: '[1,2]' });
  assert.equal(notObject.status, 400);

  const unknownOp = await raw({ target: 'AmazonEC2ContainerServiceV20141113.LaunchRockets', body: '{}' });
  assert.equal(unknownOp.status, 400);
  assert.equal(JSON.parse(unknownOp.text).__type, 'UnknownOperationException');

  const missingRequired = await raw({ target: 'AmazonEC2ContainerServiceV20141113.TagResource', body: '{}' });
  assert.equal(missingRequired.status, 400);
  assert.equal(JSON.parse(missingRequired.text).__type, 'InvalidParameterException');
  assert.match(JSON.parse(missingRequired.text).message, /Value null at 'resourceArn' failed to satisfy constraint: Member must not be null/);

  const badContentType = await raw({ target: 'AmazonEC2ContainerServiceV20141113.ListClusters', body: '{}', contentType: 'text/plain' });
  assert.equal(badContentType.status, 415);

  const badQuery = await raw({ body: 'Action=NoSuchThing&Version=2011-06-15', contentType: 'application/x-www-form-urlencoded', sign: { service: 'sts' } });
  assert.equal(badQuery.status, 400);
  assert.match(badQuery.text, /<Code>InvalidAction<\/Code>/);

  // An unsigned upload is refused on its headers (its body is never read); a signed one larger
  // than the operation's limit gets a readable 413.
  const unsigned = await fetch(berth.url + '/', { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters' }, body: Buffer.alloc(17 * 1024 * 1024, 0x20) }).catch((e) => e);
  if (unsigned instanceof Response) {
    assert.equal(unsigned.status, 403);
    assert.equal((await unsigned.json()).__type, 'MissingAuthenticationTokenException');
  }
  const huge = await raw({ target: 'AmazonEC2ContainerServiceV20141113.ListClusters', body: ' '.repeat(2 * 1024 * 1024) });
  assert.equal(huge.status, 413);
  assert.equal(JSON.parse(huge.text).__type, 'RequestEntityTooLargeException');
  const bigTaskDefinition = await raw({ target: 'AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition', body: JSON.stringify({ family: 'big', containerDefinitions: [{ name: 'a', image: 'x'.repeat(70 * 1024) }] }) });
  assert.equal(bigTaskDefinition.status, 413, 'task definitions are capped at 64 KiB, as on ECS');

  const health = await fetch(`${berth.url}/_berth/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await clusterNames(), before);
});
