// AWS's public parameters (/aws/service/...) that templates read for their AMI: every one answers
// "a Berth agent host", through GetParameter, GetParameters and GetParametersByPath, with the
// real @aws-sdk/client-ssm v3 and the aws CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SSMClient, GetParameterCommand, GetParametersCommand, GetParametersByPathCommand, PutParameterCommand, paginateGetParametersByPath } from '@aws-sdk/client-ssm';
import { startTestBerth, aws, awsOk, errorOf, hasAwsCli, type TestBerth } from '../helpers/fixture.js';
import { BERTH_AGENT_IMAGE_ID } from '../../src/domain/ssm/publicParameters.js';

let berth: TestBerth;
let ssm: SSMClient;

before(async () => {
  berth = await startTestBerth();
  ssm = new SSMClient(berth.clientConfig);
});
after(async () => {
  ssm?.destroy();
  await berth?.close();
});

const ECS_AL2 = '/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id';

test('the ECS-optimized and Amazon Linux AMI parameters answer the Berth agent host image', async () => {
  const p = (await ssm.send(new GetParameterCommand({ Name: ECS_AL2 }))).Parameter!;
  assert.deepEqual([p.Name, p.Value, p.Type, p.Version, p.DataType], [ECS_AL2, BERTH_AGENT_IMAGE_ID, 'String', 1, 'aws:ec2:image']);
  assert.equal(p.ARN, `arn:aws:ssm:us-east-1::parameter${ECS_AL2}`);
  const json = JSON.parse((await ssm.send(new GetParameterCommand({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended' }))).Parameter!.Value!);
  assert.equal(json.image_id, BERTH_AGENT_IMAGE_ID);
  const many = await ssm.send(
    new GetParametersCommand({ Names: ['/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64', '/aws/service/bottlerocket/aws-ecs-2/x86_64/latest/image_id', '/aws/service/nope/image_id'] }),
  );
  assert.deepEqual(many.Parameters!.map((x) => x.Value), [BERTH_AGENT_IMAGE_ID, BERTH_AGENT_IMAGE_ID]);
  assert.deepEqual(many.InvalidParameters, ['/aws/service/nope/image_id']);
  assert.equal((await errorOf(ssm.send(new GetParameterCommand({ Name: '/aws/service/ecs/optimized-ami/amazon-linux-9/recommended/image_id' })))).name, 'ParameterNotFound');
  // Read-only: the namespace is AWS's.
  assert.equal((await errorOf(ssm.send(new PutParameterCommand({ Name: ECS_AL2, Value: 'ami-1', Type: 'String', Overwrite: true })))).name, 'ValidationException');
});

test('GetParametersByPath walks the public namespace, one level or recursively, in pages', async () => {
  const oneLevel = await ssm.send(new GetParametersByPathCommand({ Path: '/aws/service/ecs/optimized-ami/amazon-linux-2/recommended' }));
  assert.ok(oneLevel.Parameters!.some((p) => p.Name === ECS_AL2));
  assert.ok(oneLevel.Parameters!.every((p) => p.Name!.split('/').length === ECS_AL2.split('/').length));
  const names: string[] = [];
  for await (const page of paginateGetParametersByPath({ client: ssm, pageSize: 4 }, { Path: '/aws/service/ami-amazon-linux-latest', Recursive: true })) {
    assert.ok(page.Parameters!.length <= 4);
    names.push(...page.Parameters!.map((p) => p.Name!));
  }
  assert.ok(names.includes('/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2'));
  assert.equal(new Set(names).size, names.length, 'no parameter twice across pages');
  const all = await ssm.send(new GetParametersByPathCommand({ Path: '/aws/service', Recursive: true, MaxResults: 10 }));
  assert.equal(all.Parameters!.length, 10);
  assert.ok(all.NextToken);
});

test('the aws CLI reads them as deploy scripts do', { skip: !hasAwsCli() && 'the aws CLI is not installed' }, async () => {
  const v = await awsOk(berth.awsEnv, ['ssm', 'get-parameters', '--names', ECS_AL2, '--query', 'Parameters[0].Value', '--output', 'text']);
  assert.equal(v, BERTH_AGENT_IMAGE_ID);
  const missing = await aws(berth.awsEnv, ['ssm', 'get-parameter', '--name', '/aws/service/ecs/optimized-ami/unknown/recommended/image_id']);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /ParameterNotFound/);
});
