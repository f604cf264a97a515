// Parameter Store edges through @aws-sdk/client-ssm and the aws CLI: a root-level name with and
// without its leading slash is one parameter (versions, tags, history, deletion, paths under
// `/`), also for a parameter an older Berth stored as `/x`; DescribeParameters and
// GetParametersByPath check their filters as AWS does (InvalidFilterKey, InvalidFilterOption,
// InvalidFilterValue, reserved paths) and take BeginsWith where AWS does; the operations' own
// errors win over generic validation where the model lists them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  DescribeParametersCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  LabelParameterVersionCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  RemoveTagsFromResourceCommand,
  SSMClient,
  type ParameterStringFilter,
} from '@aws-sdk/client-ssm';
import { awsOk, errorOf, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { MasterKey } from '../../src/domain/ssm/masterKey.js';

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

const names = (ps: Array<{ Name?: string }> | undefined) => (ps ?? []).map((p) => p.Name);

test('a root-level name with and without its leading slash is the same parameter', async () => {
  const arn = `arn:aws:ssm:us-east-1:${berth.credentials.accountId}:parameter/solo`;
  await ssm.send(new PutParameterCommand({ Name: '/solo', Type: 'String', Value: 'one', Tags: [{ Key: 'team', Value: 'core' }] }));
  assert.equal((await errorOf(ssm.send(new PutParameterCommand({ Name: 'solo', Type: 'String', Value: 'again' })))).name, 'ParameterAlreadyExists');
  // Either spelling reads it; GetParameter reports the name as asked, with the one ARN.
  const bare = (await ssm.send(new GetParameterCommand({ Name: 'solo' }))).Parameter!;
  const slashed = (await ssm.send(new GetParameterCommand({ Name: '/solo' }))).Parameter!;
  assert.deepEqual([bare.Name, bare.Value, bare.ARN], ['solo', 'one', arn]);
  assert.deepEqual([slashed.Name, slashed.Value, slashed.ARN], ['/solo', 'one', arn]);
  assert.equal((await ssm.send(new GetParameterCommand({ Name: arn }))).Parameter!.Value, 'one');
  // A new version through the other spelling.
  assert.equal((await ssm.send(new PutParameterCommand({ Name: 'solo', Type: 'String', Value: 'two', Overwrite: true }))).Version, 2);
  const history = await ssm.send(new GetParameterHistoryCommand({ Name: '/solo' }));
  assert.deepEqual(history.Parameters!.map((p) => [p.Name, p.Value]), [['solo', 'one'], ['solo', 'two']]);
  const many = await ssm.send(new GetParametersCommand({ Names: ['solo', '/solo:1'] }));
  assert.deepEqual(many.Parameters!.map((p) => [p.Name, p.Value]), [['solo', 'two'], ['/solo', 'one']]);
  // Labels and tags through either spelling, the tags made at creation included.
  await ssm.send(new LabelParameterVersionCommand({ Name: '/solo', ParameterVersion: 1, Labels: ['first'] }));
  assert.equal((await ssm.send(new GetParameterCommand({ Name: 'solo:first' }))).Parameter!.Value, 'one');
  await ssm.send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: 'solo', Tags: [{ Key: 'env', Value: 'prod' }] }));
  const tags = await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/solo' }));
  assert.deepEqual(tags.TagList, [{ Key: 'team', Value: 'core' }, { Key: 'env', Value: 'prod' }]);
  await ssm.send(new RemoveTagsFromResourceCommand({ ResourceType: 'Parameter', ResourceId: '/solo', TagKeys: ['team'] }));
  assert.deepEqual((await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: arn }))).TagList, [{ Key: 'env', Value: 'prod' }]);
  // Listed once, without the slash, however it is filtered for.
  const described = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: ['/solo'] }] }));
  assert.deepEqual(names(described.Parameters), ['solo']);
  assert.deepEqual(names((await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: ['solo'] }] }))).Parameters), ['solo']);
  await ssm.send(new DeleteParameterCommand({ Name: '/solo' }));
  assert.equal((await errorOf(ssm.send(new GetParameterCommand({ Name: 'solo' })))).name, 'ParameterNotFound');
});

test('GetParametersByPath and the Path filter: root-level parameters are under "/"', async () => {
  for (const [Name, Value] of [['top-a', 'a'], ['/top-b', 'b'], ['/tree/leaf', 'leaf'], ['/tree/deep/leaf', 'deep']]) {
    await ssm.send(new PutParameterCommand({ Name, Type: 'String', Value }));
  }
  const oneLevel = await ssm.send(new GetParametersByPathCommand({ Path: '/' }));
  assert.deepEqual(names(oneLevel.Parameters), ['top-a', 'top-b']);
  const all = await ssm.send(new GetParametersByPathCommand({ Path: '/', Recursive: true, MaxResults: 10 }));
  assert.deepEqual(names(all.Parameters), ['/tree/deep/leaf', '/tree/leaf', 'top-a', 'top-b']);
  // Paging over `/` keeps its place.
  const paged: string[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ssm.send(new GetParametersByPathCommand({ Path: '/', Recursive: true, MaxResults: 1, NextToken }));
    paged.push(...(names(out.Parameters) as string[]));
    NextToken = out.NextToken;
  } while (NextToken);
  assert.deepEqual(paged, ['/tree/deep/leaf', '/tree/leaf', 'top-a', 'top-b']);
  const describeRoot = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Path', Values: ['/'] }] }));
  assert.deepEqual(names(describeRoot.Parameters), ['top-a', 'top-b']);
  assert.deepEqual(names((await ssm.send(new GetParametersByPathCommand({ Path: '/tree' }))).Parameters), ['/tree/leaf']);
});

test('a root-level parameter an older Berth stored as "/x" is the same parameter, and its SecureString still opens', async () => {
  // Written as Berth did before root-level names were folded: key `<region>//legacy`, name `/legacy`.
  const key = MasterKey.load(berth.dataDir, {});
  const version = {
    version: 1,
    type: 'SecureString',
    value: key.seal('ssm:us-east-1//legacy', 'old-secret'),
    keyId: 'alias/aws/ssm',
    tier: 'Standard',
    dataType: 'text',
    labels: [],
    policies: [],
    lastModified: Date.now(),
    lastModifiedUser: 'arn:aws:iam::000000000000:root',
  };
  await berth.platform.store.commit([{ kind: 'ssm.parameter', key: 'us-east-1//legacy', value: { name: '/legacy', tags: [], versions: [version] }, expectRev: 0 }]);
  for (const Name of ['legacy', '/legacy']) {
    assert.equal((await ssm.send(new GetParameterCommand({ Name, WithDecryption: true }))).Parameter!.Value, 'old-secret');
  }
  assert.equal((await errorOf(ssm.send(new PutParameterCommand({ Name: 'legacy', Type: 'String', Value: 'x' })))).name, 'ParameterAlreadyExists');
  assert.equal((await ssm.send(new PutParameterCommand({ Name: 'legacy', Type: 'SecureString', Value: 'new-secret', Overwrite: true }))).Version, 2);
  const history = await ssm.send(new GetParameterHistoryCommand({ Name: 'legacy', WithDecryption: true }));
  assert.deepEqual(history.Parameters!.map((p) => [p.Name, p.Value]), [['legacy', 'old-secret'], ['legacy', 'new-secret']]);
  assert.ok(names((await ssm.send(new GetParametersByPathCommand({ Path: '/' }))).Parameters).includes('legacy'));
  await ssm.send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: 'legacy', Tags: [{ Key: 'k', Value: 'v' }] }));
  assert.deepEqual((await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: '/legacy' }))).TagList, [{ Key: 'k', Value: 'v' }]);
  await ssm.send(new DeleteParameterCommand({ Name: 'legacy' }));
  assert.equal((await errorOf(ssm.send(new GetParameterCommand({ Name: '/legacy' })))).name, 'ParameterNotFound');
  // Written again, it lives under the name without the slash.
  await ssm.send(new PutParameterCommand({ Name: '/legacy', Type: 'String', Value: 'fresh' }));
  assert.equal((await berth.platform.store.get<{ name: string }>('ssm.parameter', 'us-east-1/legacy'))?.value.name, 'legacy');
});

test('aws CLI: put with the slash, get without it', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  await awsOk(berth.awsEnv, ['ssm', 'put-parameter', '--name', '/cli-root', '--type', 'String', '--value', 'v']);
  const got = await awsOk(berth.awsEnv, ['ssm', 'get-parameter', '--name', 'cli-root']);
  assert.deepEqual([got.Parameter.Name, got.Parameter.Value], ['cli-root', 'v']);
});

test('DescribeParameters and GetParametersByPath check their filters as AWS does', async () => {
  const describe = (ParameterFilters: ParameterStringFilter[]) => errorOf(ssm.send(new DescribeParametersCommand({ ParameterFilters })));
  const byPath = (ParameterFilters: ParameterStringFilter[]) => errorOf(ssm.send(new GetParametersByPathCommand({ Path: '/', ParameterFilters })));
  const cases: Array<[Promise<{ name: string; message: string; status?: number }>, string, RegExp]> = [
    [describe([{ Key: 'Label', Values: ['x'] }]), 'InvalidFilterKey', /^The following filter key is not valid: Label\. Valid filter keys include: \[Path, Name, Type, KeyId, Tier, DataType, tag:<key>\]\.$/],
    [byPath([{ Key: 'Name', Values: ['x'] }]), 'InvalidFilterKey', /^The following filter key is not valid: Name\. Valid filter keys include: \[Type, KeyId, Label\]\.$/],
    [byPath([{ Key: 'tag:team', Values: ['x'] }]), 'InvalidFilterKey', /filter key is not valid: tag:team/],
    [describe([{ Key: 'Name' }]), 'InvalidFilterValue', /^The following filter values are missing : null for filter key Name\.$/],
    [describe([{ Key: 'Name', Values: ['a'] }, { Key: 'Name', Values: ['b'] }]), 'InvalidFilterKey', /^The following filter is duplicated in the request: Name\. A request can contain only one occurrence of a specific filter\.$/],
    [describe([{ Key: 'Path', Option: 'Equals', Values: ['/x'] }]), 'InvalidFilterOption', /^The following filter option is not valid: Equals\. Valid options include: \[Recursive, OneLevel\]\.$/],
    [describe([{ Key: 'Path', Values: ['/aws/service'] }]), 'ValidationException', /^Filters for common parameters can't be prefixed with "aws" or "ssm" \(case-insensitive\)\./],
    [describe([{ Key: 'Path', Values: ['/SSM'] }]), 'ValidationException', /can't be prefixed with "aws" or "ssm"/],
    [describe([{ Key: 'Path', Values: ['relative/path'] }]), 'ValidationException', /^The parameter doesn't meet the parameter name requirements\. The parameter name must begin with a forward slash "\/"\./],
    [describe([{ Key: 'Path', Values: ['/a//b'] }]), 'ValidationException', /doesn't meet the parameter name requirements/],
    [describe([{ Key: 'Tier', Values: ['Premium'] }]), 'InvalidFilterValue', /^The following filter value is not valid: Premium\. Valid values include: \[Standard, Advanced, Intelligent-Tiering\]\.$/],
    [describe([{ Key: 'Type', Values: ['Number'] }]), 'InvalidFilterValue', /^The following filter value is not valid: Number\. Valid values include: \[String, StringList, SecureString\]\.$/],
    [describe([{ Key: 'Type', Option: 'Contains', Values: ['String'] }]), 'InvalidFilterOption', /^The following filter option is not valid: Contains\. Valid options include: \[BeginsWith, Equals\]\.$/],
    [describe([{ Key: 'Name', Option: 'Near', Values: ['x'] }]), 'InvalidFilterOption', /Valid options include: \[BeginsWith, Equals, Contains\]\.$/],
    [byPath([{ Key: 'Label', Option: 'BeginsWith', Values: ['x'] }]), 'InvalidFilterOption', /^The following filter option is not valid: BeginsWith\. Valid options include: \[Equals\]\.$/],
    // The model's own constraints come first, in AWS's generic words.
    [describe([{ Key: 'Colour', Values: ['x'] }]), 'ValidationException', /^1 validation error detected: Value 'Colour' at 'parameterFilters\.1\.member\.key' failed to satisfy constraint: Member must satisfy regular expression pattern: /],
    [errorOf(ssm.send(new GetParametersByPathCommand({ Path: 'relative' }))), 'ValidationException', /^The parameter doesn't meet the parameter name requirements/],
  ];
  for (const [p, code, message] of cases) {
    const e = await p;
    assert.equal(e.name, code, e.message);
    assert.equal(e.status, 400);
    assert.match(e.message, message);
  }
});

test('BeginsWith where AWS takes it: every DescribeParameters key but Path, and Type and KeyId by path', async () => {
  await ssm.send(new PutParameterCommand({ Name: '/bw/list', Type: 'StringList', Value: 'a,b', Tags: [{ Key: 'owner', Value: 'team-blue' }] }));
  await ssm.send(new PutParameterCommand({ Name: '/bw/secret', Type: 'SecureString', Value: 's', KeyId: 'alias/team-key' }));
  await ssm.send(new PutParameterCommand({ Name: '/bw/plain', Type: 'String', Value: 'p', Tier: 'Advanced' }));
  const d = async (f: ParameterStringFilter) => names((await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Path', Values: ['/bw'] }, f] }))).Parameters);
  assert.deepEqual(await d({ Key: 'Type', Option: 'BeginsWith', Values: ['String'] }), ['/bw/list', '/bw/plain']);
  assert.deepEqual(await d({ Key: 'KeyId', Option: 'BeginsWith', Values: ['alias/team'] }), ['/bw/secret']);
  assert.deepEqual(await d({ Key: 'Tier', Option: 'BeginsWith', Values: ['Adv'] }), ['/bw/plain']);
  assert.deepEqual(await d({ Key: 'DataType', Option: 'BeginsWith', Values: ['te'] }), ['/bw/list', '/bw/plain', '/bw/secret']);
  assert.deepEqual(await d({ Key: 'tag:owner', Option: 'BeginsWith', Values: ['team-'] }), ['/bw/list']);
  assert.deepEqual(await d({ Key: 'tag:owner' }), ['/bw/list']);
  assert.deepEqual(await d({ Key: 'Name', Option: 'Contains', Values: ['cre'] }), ['/bw/secret']);
  const p = await ssm.send(new GetParametersByPathCommand({ Path: '/bw', ParameterFilters: [{ Key: 'Type', Option: 'BeginsWith', Values: ['Secure'] }] }));
  assert.deepEqual(names(p.Parameters), ['/bw/secret']);
});

test("the operations' own errors win over generic validation where the model lists them", async () => {
  await ssm.send(new PutParameterCommand({ Name: '/own/p', Type: 'String', Value: 'v' }));
  const labels = Array.from({ length: 11 }, (_, i) => `l${i}`);
  const tooMany = await errorOf(ssm.send(new LabelParameterVersionCommand({ Name: '/own/p', Labels: labels })));
  assert.equal(tooMany.name, 'ParameterVersionLabelLimitExceeded');
  assert.match(tooMany.message, /maximum of ten labels/);
  for (const ResourceType of ['Bucket', 'Document']) {
    const add = await errorOf(ssm.send(new AddTagsToResourceCommand({ ResourceType: ResourceType as never, ResourceId: '/own/p', Tags: [{ Key: 'a', Value: 'b' }] })));
    assert.equal(add.name, 'InvalidResourceType', ResourceType);
    const list = await errorOf(ssm.send(new ListTagsForResourceCommand({ ResourceType: ResourceType as never, ResourceId: '/own/p' })));
    assert.equal(list.name, 'InvalidResourceType', ResourceType);
  }
  const legacyKey = await errorOf(ssm.send(new DescribeParametersCommand({ Filters: [{ Key: 'Colour' as never, Values: ['x'] }] })));
  assert.equal(legacyKey.name, 'InvalidFilterKey');
  const legacyValues = await errorOf(ssm.send(new DescribeParametersCommand({ Filters: [{ Key: 'Name', Values: [] }] })));
  assert.equal(legacyValues.name, 'InvalidFilterValue');
  // A member the operation has no error of its own for stays a ValidationException.
  assert.equal((await errorOf(ssm.send(new LabelParameterVersionCommand({ Name: '/own/p', Labels: ['x'.repeat(101)] })))).name, 'ValidationException');
});
