// SSM Parameter Store end to end with the real aws CLI and @aws-sdk/client-ssm: types,
// versions, selectors, labels, hierarchies, filters, tags, SecureString encryption at rest (the
// plaintext must appear in no file under the data dir), and the AWS errors for bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  SSMClient,
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  DeleteParametersCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  LabelParameterVersionCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  RemoveTagsFromResourceCommand,
  UnlabelParameterVersionCommand,
  type GetParametersByPathCommandOutput,
  type DescribeParametersCommandOutput,
} from '@aws-sdk/client-ssm';
import { aws, awsOk, startTestBerth, type TestBerth, errorOf } from '../helpers/fixture.js';

let berth: TestBerth;
let ssm: SSMClient;

before(async () => {
  berth = await startTestBerth();
  ssm = new SSMClient(berth.clientConfig);
});
after(async () => {
  ssm.destroy();
  await berth.close();
});


function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

test('aws CLI: SecureString is encrypted at rest and only decrypted on request', async () => {
  const secret = `s3cr3t-${Math.random().toString(36).slice(2)}-value`;
  const env = berth.awsEnv;
  const put = await awsOk(env, ['ssm', 'put-parameter', '--name', '/app/db/password', '--type', 'SecureString', '--value', secret]);
  assert.deepEqual(put, { Version: 1, Tier: 'Standard' });

  const plain = await awsOk(env, ['ssm', 'get-parameter', '--name', '/app/db/password', '--with-decryption']);
  assert.equal(plain.Parameter.Value, secret);
  assert.equal(plain.Parameter.Type, 'SecureString');
  assert.equal(plain.Parameter.ARN, `arn:aws:ssm:us-east-1:${berth.platform.accountId}:parameter/app/db/password`);

  const sealed = await awsOk(env, ['ssm', 'get-parameter', '--name', '/app/db/password']);
  assert.notEqual(sealed.Parameter.Value, secret);
  assert.match(sealed.Parameter.Value, /^[A-Za-z0-9+/]+=*$/, 'without decryption the value is the base64 ciphertext');
  assert.ok(!Buffer.from(sealed.Parameter.Value, 'base64').includes(secret));

  // Also seen through history, describe and the change feed: the plaintext is on no disk file.
  await awsOk(env, ['ssm', 'put-parameter', '--name', '/app/db/password', '--type', 'SecureString', '--value', `${secret}-2`, '--overwrite']);
  const hist = await awsOk(env, ['ssm', 'get-parameter-history', '--name', '/app/db/password', '--with-decryption']);
  assert.deepEqual(hist.Parameters.map((p: { Value: string }) => p.Value), [secret, `${secret}-2`]);
  const feed = await berth.platform.store.changes(0);
  assert.ok(feed.length > 0 && !JSON.stringify(feed).includes(secret), 'the change feed holds only ciphertext');

  const files = filesUnder(berth.dataDir);
  assert.ok(files.some((f) => f.endsWith('state.db')) && files.some((f) => f.endsWith('master.key')));
  assert.ok(files.some((f) => f.endsWith('-wal')), 'WAL files are included in the scan');
  for (const f of files) {
    const bytes = readFileSync(f);
    assert.ok(!bytes.includes(secret), `${f} contains the plaintext secret`);
    assert.ok(!bytes.includes(Buffer.from(secret, 'utf16le')), `${f} contains the plaintext secret (UTF-16)`);
  }
  assert.equal(statSync(join(berth.dataDir, 'master.key')).mode & 0o777, 0o600);

  // What an agent asks for a task's secret (GetParameters with decryption): by name, by ARN
  // and by version; a missing parameter comes back in InvalidParameters.
  const secretOf = async (valueFrom: string) => (await ssm.send(new GetParametersCommand({ Names: [valueFrom], WithDecryption: true }))).Parameters?.[0]?.Value;
  assert.equal(await secretOf('/app/db/password'), `${secret}-2`);
  assert.equal(await secretOf(plain.Parameter.ARN), `${secret}-2`);
  assert.equal(await secretOf('/app/db/password:1'), secret);
  assert.deepEqual((await ssm.send(new GetParametersCommand({ Names: ['/app/db/nope'], WithDecryption: true }))).InvalidParameters, ['/app/db/nope']);

  const dup = await aws(env, ['ssm', 'put-parameter', '--name', '/app/db/password', '--type', 'String', '--value', 'x']);
  assert.match(dup.stderr, /ParameterAlreadyExists/);
  const missing = await aws(env, ['ssm', 'get-parameter', '--name', '/app/nothing']);
  assert.match(missing.stderr, /ParameterNotFound/);
});

test('versions, selectors, labels and history', async () => {
  for (const v of ['one', 'two', 'three']) {
    await ssm.send(new PutParameterCommand({ Name: 'plain-name', Type: 'String', Value: v, Overwrite: true, Description: `v=${v}` }));
  }
  const cur = await ssm.send(new GetParameterCommand({ Name: 'plain-name' }));
  assert.equal(cur.Parameter!.Value, 'three');
  assert.equal(cur.Parameter!.Version, 3);
  assert.equal(cur.Parameter!.ARN, `arn:aws:ssm:us-east-1:${berth.platform.accountId}:parameter/plain-name`);
  const v1 = await ssm.send(new GetParameterCommand({ Name: 'plain-name:1' }));
  assert.equal(v1.Parameter!.Value, 'one');
  assert.equal(v1.Parameter!.Selector, ':1');

  const lab = await ssm.send(new LabelParameterVersionCommand({ Name: 'plain-name', ParameterVersion: 2, Labels: ['prod', '1bad', 'awsx', 'ok_label'] }));
  assert.deepEqual(lab.InvalidLabels, ['1bad', 'awsx']);
  assert.equal(lab.ParameterVersion, 2);
  assert.equal((await ssm.send(new GetParameterCommand({ Name: 'plain-name:prod' }))).Parameter!.Value, 'two');
  // Moving a label: attaching it to version 3 takes it from version 2.
  await ssm.send(new LabelParameterVersionCommand({ Name: 'plain-name', Labels: ['prod'] }));
  assert.equal((await ssm.send(new GetParameterCommand({ Name: 'plain-name:prod' }))).Parameter!.Value, 'three');
  const hist = await ssm.send(new GetParameterHistoryCommand({ Name: 'plain-name' }));
  assert.deepEqual(hist.Parameters!.map((p) => [p.Version, p.Labels, p.Description]), [
    [1, [], 'v=one'],
    [2, ['ok_label'], 'v=two'],
    [3, ['prod'], 'v=three'],
  ]);
  const unl = await ssm.send(new UnlabelParameterVersionCommand({ Name: 'plain-name', ParameterVersion: 3, Labels: ['prod', 'nope'] }));
  assert.deepEqual(unl, { $metadata: unl.$metadata, RemovedLabels: ['prod'], InvalidLabels: ['nope'] });

  const many = await ssm.send(new GetParametersCommand({ Names: ['plain-name', 'plain-name:2', 'plain-name:9', 'plain-name:prod', 'ghost'] }));
  assert.deepEqual(many.Parameters!.map((p) => p.Value), ['three', 'two']);
  assert.deepEqual(many.InvalidParameters, ['plain-name:9', 'plain-name:prod', 'ghost']);

  assert.equal((await errorOf(ssm.send(new GetParameterCommand({ Name: 'plain-name:9' })))).name, 'ParameterVersionNotFound');
  assert.equal((await errorOf(ssm.send(new LabelParameterVersionCommand({ Name: 'plain-name', ParameterVersion: 9, Labels: ['x'] })))).name, 'ParameterVersionNotFound');
  assert.equal((await errorOf(ssm.send(new LabelParameterVersionCommand({ Name: 'ghost', Labels: ['x'] })))).name, 'ParameterNotFound');

  // History paging.
  const pages: number[][] = [];
  let NextToken: string | undefined;
  do {
    const out = await ssm.send(new GetParameterHistoryCommand({ Name: 'plain-name', MaxResults: 2, NextToken }));
    pages.push(out.Parameters!.map((p) => p.Version!));
    NextToken = out.NextToken;
  } while (NextToken);
  assert.deepEqual(pages, [[1, 2], [3]]);
});

test('100 versions: the oldest goes, unless it is labelled', async () => {
  for (let i = 1; i <= 100; i++) await ssm.send(new PutParameterCommand({ Name: '/limit/p', Type: 'String', Value: `v${i}`, Overwrite: true }));
  await ssm.send(new LabelParameterVersionCommand({ Name: '/limit/p', ParameterVersion: 1, Labels: ['keep'] }));
  assert.equal((await errorOf(ssm.send(new PutParameterCommand({ Name: '/limit/p', Type: 'String', Value: 'v101', Overwrite: true })))).name, 'ParameterMaxVersionLimitExceeded');
  await ssm.send(new UnlabelParameterVersionCommand({ Name: '/limit/p', ParameterVersion: 1, Labels: ['keep'] }));
  const out = await ssm.send(new PutParameterCommand({ Name: '/limit/p', Type: 'String', Value: 'v101', Overwrite: true }));
  assert.equal(out.Version, 101);
  assert.equal((await errorOf(ssm.send(new GetParameterCommand({ Name: '/limit/p:1' })))).name, 'ParameterVersionNotFound');
  assert.equal((await ssm.send(new GetParameterCommand({ Name: '/limit/p:2' }))).Parameter!.Value, 'v2');
});

test('GetParametersByPath and DescribeParameters: recursion, filters, pagination, tags', async () => {
  await ssm.send(new PutParameterCommand({ Name: '/svc/a', Type: 'String', Value: 'a' }));
  await ssm.send(new PutParameterCommand({ Name: '/svc/b', Type: 'StringList', Value: 'x,y,z' }));
  await ssm.send(new PutParameterCommand({ Name: '/svc/c', Type: 'SecureString', Value: 'hidden-c', KeyId: 'alias/custom' }));
  await ssm.send(new PutParameterCommand({ Name: '/svc/deep/d', Type: 'String', Value: 'd', Tags: [{ Key: 'team', Value: 'core' }] }));
  await ssm.send(new PutParameterCommand({ Name: '/svc/deep/er/e', Type: 'String', Value: 'e' }));
  await ssm.send(new LabelParameterVersionCommand({ Name: '/svc/a', Labels: ['live'] }));

  const oneLevel = await ssm.send(new GetParametersByPathCommand({ Path: '/svc' }));
  assert.deepEqual(oneLevel.Parameters!.map((p) => p.Name), ['/svc/a', '/svc/b', '/svc/c']);
  assert.notEqual(oneLevel.Parameters![2]!.Value, 'hidden-c');
  const names: string[] = [];
  const values: string[] = [];
  let NextToken: string | undefined;
  let pages = 0;
  do {
    const out: GetParametersByPathCommandOutput = await ssm.send(new GetParametersByPathCommand({ Path: '/svc/', Recursive: true, WithDecryption: true, MaxResults: 2, NextToken }));
    names.push(...out.Parameters!.map((p) => p.Name!));
    values.push(...out.Parameters!.map((p) => p.Value!));
    NextToken = out.NextToken;
    pages++;
  } while (NextToken);
  assert.deepEqual(names, ['/svc/a', '/svc/b', '/svc/c', '/svc/deep/d', '/svc/deep/er/e']);
  assert.equal(values[2], 'hidden-c');
  assert.equal(pages, 3);
  const secure = await ssm.send(new GetParametersByPathCommand({ Path: '/svc', Recursive: true, ParameterFilters: [{ Key: 'Type', Values: ['SecureString'] }] }));
  assert.deepEqual(secure.Parameters!.map((p) => p.Name), ['/svc/c']);
  const labelled = await ssm.send(new GetParametersByPathCommand({ Path: '/svc', ParameterFilters: [{ Key: 'Label', Option: 'Equals', Values: ['live'] }] }));
  assert.deepEqual(labelled.Parameters!.map((p) => p.Name), ['/svc/a']);
  assert.equal((await errorOf(ssm.send(new GetParametersByPathCommand({ Path: '/svc', ParameterFilters: [{ Key: 'Name', Values: ['x'] }] })))).name, 'InvalidFilterKey');
  assert.equal((await errorOf(ssm.send(new GetParametersByPathCommand({ Path: '/svc', MaxResults: 11 })))).name, 'ValidationException');
  assert.equal((await errorOf(ssm.send(new GetParametersByPathCommand({ Path: '/svc', NextToken: 'bogus!' })))).name, 'InvalidNextToken');

  const d = async (input: ConstructorParameters<typeof DescribeParametersCommand>[0]) => (await ssm.send(new DescribeParametersCommand({ MaxResults: 50, ...input }))).Parameters!.map((p) => p.Name);
  assert.deepEqual(await d({ ParameterFilters: [{ Key: 'Path', Values: ['/svc/deep'] }] }), ['/svc/deep/d']);
  assert.deepEqual(await d({ ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/svc/deep'] }] }), ['/svc/deep/d', '/svc/deep/er/e']);
  assert.deepEqual(await d({ ParameterFilters: [{ Key: 'Name', Option: 'BeginsWith', Values: ['/svc/deep'] }] }), ['/svc/deep/d', '/svc/deep/er/e']);
  assert.deepEqual(await d({ ParameterFilters: [{ Key: 'KeyId', Values: ['alias/custom'] }] }), ['/svc/c']);
  assert.deepEqual(await d({ ParameterFilters: [{ Key: 'tag:team', Values: ['core'] }] }), ['/svc/deep/d']);
  assert.deepEqual(await d({ Filters: [{ Key: 'Type', Values: ['StringList'] }] }), ['/svc/b']);
  const meta = (await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: ['/svc/c'] }] }))).Parameters![0]!;
  assert.equal(meta.KeyId, 'alias/custom');
  assert.equal(meta.Tier, 'Standard');
  assert.equal((await errorOf(ssm.send(new DescribeParametersCommand({ Filters: [{ Key: 'Type', Values: ['String'] }], ParameterFilters: [{ Key: 'Type', Values: ['String'] }] })))).name, 'ValidationException');
  assert.equal((await errorOf(ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Path', Option: 'Sideways', Values: ['/svc'] }] })))).name, 'InvalidFilterOption');
  let count = 0;
  NextToken = undefined;
  do {
    const out: DescribeParametersCommandOutput = await ssm.send(new DescribeParametersCommand({ MaxResults: 2, NextToken, ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/svc'] }] }));
    count += out.Parameters!.length;
    NextToken = out.NextToken;
  } while (NextToken);
  assert.equal(count, 5);

  // Tags.
  await ssm.send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: '/svc/a', Tags: [{ Key: 'env', Value: 'dev' }] }));
  await ssm.send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: '/svc/a', Tags: [{ Key: 'env', Value: 'prod' }, { Key: 'x', Value: '1' }] }));
  await ssm.send(new RemoveTagsFromResourceCommand({ ResourceType: 'Parameter', ResourceId: '/svc/a', TagKeys: ['x'] }));
  assert.deepEqual((await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/svc/a' }))).TagList, [{ Key: 'env', Value: 'prod' }]);
  assert.equal((await errorOf(ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/svc/none' })))).name, 'InvalidResourceId');
  assert.equal((await errorOf(ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Document', ResourceId: '/svc/a' })))).name, 'InvalidResourceType');

  // Deletes.
  const del = await ssm.send(new DeleteParametersCommand({ Names: ['/svc/a', '/svc/zzz'] }));
  assert.deepEqual([del.DeletedParameters, del.InvalidParameters], [['/svc/a'], ['/svc/zzz']]);
  await ssm.send(new DeleteParameterCommand({ Name: '/svc/b' }));
  assert.equal((await errorOf(ssm.send(new DeleteParameterCommand({ Name: '/svc/b' })))).name, 'ParameterNotFound');
});

test('bad input gets the AWS error, never a 500', async () => {
  const put = (input: Partial<ConstructorParameters<typeof PutParameterCommand>[0]>) =>
    errorOf(ssm.send(new PutParameterCommand({ Name: '/bad/x', Type: 'String', Value: 'v', ...input } as ConstructorParameters<typeof PutParameterCommand>[0])));
  const cases: Array<[Promise<{ name: string; status?: number }>, string]> = [
    [put({ Name: 'a/b' }), 'ValidationException'],
    [put({ Name: '/aws/thing' }), 'ValidationException'],
    [put({ Name: 'SSM-param' }), 'ValidationException'],
    [put({ Name: '/has space' }), 'ValidationException'],
    [put({ Name: '/a//b' }), 'ValidationException'],
    [put({ Name: '/' + Array.from({ length: 16 }, (_, i) => `l${i}`).join('/') }), 'HierarchyLevelLimitExceededException'],
    [put({ Name: '/' + 'n'.repeat(2040) }), 'ValidationException'],
    [put({ Type: 'Number' as never }), 'ValidationException'],
    [put({ Type: undefined }), 'ValidationException'],
    [put({ AllowedPattern: '[unclosed' }), 'InvalidAllowedPatternException'],
    [put({ AllowedPattern: '^\\d+$', Value: 'abc' }), 'ParameterPatternMismatchException'],
    [put({ Value: 'x'.repeat(4097) }), 'ValidationException'],
    [put({ Value: 'x'.repeat(8193), Tier: 'Advanced' }), 'ValidationException'],
    [put({ KeyId: 'alias/k' }), 'ValidationException'],
    [put({ DataType: 'aws:ec2:image', Value: 'not-an-ami' }), 'ValidationException'],
    [put({ DataType: 'number' }), 'ValidationException'],
    [put({ Overwrite: true, Tags: [{ Key: 'a', Value: 'b' }] }), 'ValidationException'],
    [errorOf(ssm.send(new GetParameterCommand({ Name: '/bad/none' }))), 'ParameterNotFound'],
    [errorOf(ssm.send(new GetParametersByPathCommand({ Path: 'relative' }))), 'ValidationException'],
    [errorOf(ssm.send(new GetParameterHistoryCommand({ Name: '/bad/none' }))), 'ParameterNotFound'],
  ];
  for (const [p, code] of cases) {
    const e = await p;
    assert.equal(e.name, code);
    assert.equal(e.status, 400, `${code} should be a 400`);
  }
  // Tiers: Advanced takes 8 KB; Intelligent-Tiering picks by size; no downgrade.
  const adv = await ssm.send(new PutParameterCommand({ Name: '/bad/big', Type: 'String', Value: 'x'.repeat(6000), Tier: 'Intelligent-Tiering' }));
  assert.equal(adv.Tier, 'Advanced');
  assert.equal((await put({ Name: '/bad/big', Overwrite: true, Tier: 'Standard' })).name, 'ValidationException');
  const small = await ssm.send(new PutParameterCommand({ Name: '/bad/small', Type: 'String', Value: 'x', Tier: 'Intelligent-Tiering' }));
  assert.equal(small.Tier, 'Standard');
  // A failed put changes nothing.
  await ssm.send(new PutParameterCommand({ Name: '/bad/kept', Type: 'String', Value: '123', AllowedPattern: '^\\d+$' }));
  assert.equal((await put({ Name: '/bad/kept', Value: 'abc', Overwrite: true })).name, 'ParameterPatternMismatchException');
  const kept = await ssm.send(new GetParameterCommand({ Name: '/bad/kept' }));
  assert.deepEqual([kept.Parameter!.Value, kept.Parameter!.Version], ['123', 1]);
  assert.equal((await ssm.send(new PutParameterCommand({ Name: '/bad/ami', Type: 'String', DataType: 'aws:ec2:image', Value: 'ami-0123456789abcdef0' }))).Version, 1);
});
