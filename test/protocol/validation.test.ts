// Generic constraint failures read as AWS writes them, through the real clients: "1 validation
// error detected: Value '51' at 'maxResults' failed to satisfy constraint: ...", several as
// "N validation errors detected: ...; ...", members named as AWS names them (the wire name with
// a lower-case first letter, `.N.member` for list items), lists and maps of scalars judged as a
// whole, and each service's validation code (SSM ValidationException, ELBv2 ValidationError,
// CloudWatch Logs and ECS InvalidParameterException).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeParametersCommand, GetParametersByPathCommand, GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { CreateTargetGroupCommand, DescribeLoadBalancersCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudWatchLogsClient, DescribeLogGroupsCommand, TagLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { aws, errorOf, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { signRequest } from '../../src/protocol/sigv4.js';

let berth: TestBerth;
let ssm: SSMClient;
let elb: ElasticLoadBalancingV2Client;
let logs: CloudWatchLogsClient;

before(async () => {
  berth = await startTestBerth();
  ssm = new SSMClient(berth.clientConfig);
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  logs = new CloudWatchLogsClient(berth.clientConfig);
});
after(async () => {
  ssm.destroy();
  elb.destroy();
  logs.destroy();
  await berth.close();
});

test('SSM: one failed constraint, in AWS words, with the member as AWS names it', async () => {
  const e = await errorOf(ssm.send(new DescribeParametersCommand({ MaxResults: 51 })));
  assert.equal(e.name, 'ValidationException');
  assert.equal(e.status, 400);
  assert.equal(e.message, "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50");
});

test('SSM: several failures are counted and joined with "; "', async () => {
  const e = await errorOf(ssm.send(new GetParametersByPathCommand({ Path: 'x'.repeat(2049), MaxResults: 11 })));
  assert.equal(e.name, 'ValidationException');
  assert.match(e.message, /^2 validation errors detected: /);
  assert.match(e.message, /Value '11' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10/);
  assert.match(e.message, /; Value 'x{256}\.\.\.' at 'path' failed to satisfy constraint: Member must have length less than or equal to 2048$/);
});

test('SSM: a list of names is judged as a whole: its length, and its members by every constraint they have', async () => {
  const tooMany = await errorOf(ssm.send(new GetParametersCommand({ Names: Array.from({ length: 11 }, (_, i) => `n${i}`) })));
  assert.equal(tooMany.message, "1 validation error detected: Value '[n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, ... (11 items)]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10");
  const empty = await errorOf(ssm.send(new GetParametersCommand({ Names: ['ok', ''] })));
  assert.equal(
    empty.message,
    "1 validation error detected: Value '[ok, ]' at 'names' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1]",
  );
  // Inside a list of structures, each item's members are named by position.
  const filter = await errorOf(ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: ['a'] }, { Key: `tag:${'x'.repeat(129)}`, Values: ['a'] }] })));
  assert.match(filter.message, /^1 validation error detected: Value 'tag:x+' at 'parameterFilters\.2\.member\.key' failed to satisfy constraint: Member must have length less than or equal to 132$/);
});

test('the aws CLI shows the same message', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const r = await aws(berth.awsEnv, ['ssm', 'describe-parameters', '--max-results', '51']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /\(ValidationException\) when calling the DescribeParameters operation.*: 1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50/);
});

test('ELBv2 (awsQuery): ValidationError, members named as serialized, first letter lower-case', async () => {
  const one = await errorOf(elb.send(new DescribeLoadBalancersCommand({ PageSize: 500 })));
  assert.equal(one.name, 'ValidationError');
  assert.equal(one.message, "1 validation error detected: Value '500' at 'pageSize' failed to satisfy constraint: Member must have value less than or equal to 400");
  const two = await errorOf(elb.send(new CreateTargetGroupCommand({ Name: 'tg', Protocol: 'SMTP' as never, Port: 80, HealthCheckIntervalSeconds: 1 })));
  assert.equal(two.name, 'ValidationError');
  assert.match(two.message, /^2 validation errors detected: /);
  assert.match(two.message, /Value '1' at 'healthCheckIntervalSeconds' failed to satisfy constraint: Member must have value greater than or equal to 5/);
  assert.match(two.message, /Value 'SMTP' at 'protocol' failed to satisfy constraint: Member must satisfy enum value set: \[HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP, GENEVE, QUIC, TCP_QUIC\]/);
});

test('ELBv2: a query value that is not of its type is a validation error in the same form', async () => {
  const url = new URL(berth.url + '/');
  const body = 'Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=lots&Names.member.1=a&Names.member.2=b';
  const headers = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, ...berth.credentials, region: 'us-east-1', service: 'elasticloadbalancing' });
  delete headers.host;
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  assert.equal(res.status, 400);
  assert.match(text, /<Code>ValidationError<\/Code>/);
  assert.match(text, /<Message>1 validation error detected: Value &apos;lots&apos; at &apos;pageSize&apos; failed to satisfy constraint: Member must be an Integer/);
});

test('CloudWatch Logs: InvalidParameterException; a map of tags judged by its keys and values', async () => {
  const limit = await errorOf(logs.send(new DescribeLogGroupsCommand({ limit: 51 })));
  assert.equal(limit.name, 'InvalidParameterException');
  assert.equal(limit.message, "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50");
  const tags = await errorOf(logs.send(new TagLogGroupCommand({ logGroupName: 'g', tags: { ['k'.repeat(129)]: 'v' } })));
  assert.equal(tags.name, 'InvalidParameterException');
  assert.match(tags.message, /^1 validation error detected: Value '\{k+\.\.\.=v\}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: \[Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: .+\]$/);
});
