// Requests for AWS services Berth does not provide get one clear answer naming the service, in
// the error shape that service's clients parse (EC2's query errors, awsJson, awsQuery,
// REST-XML, REST-JSON): UnsupportedService, HTTP 501, which the aws CLI and the SDKs report
// without retrying. A known service's unknown operation is still UnknownOperation/InvalidAction,
// and an unknown access key is still refused first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { aws, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { signRequest } from '../../src/protocol/sigv4.js';

let berth: TestBerth;

before(async () => {
  berth = await startTestBerth();
});
after(async () => {
  await berth.close();
});

// The APIs served today are named, in whatever order (others may join them).
const SERVED = /this endpoint serves only (?=[^.]*\bECS\b)(?=[^.]*\bSTS\b)(?=[^.]*Elastic Load Balancing v2)(?=[^.]*CloudWatch Logs)(?=[^.]*\bSSM\b)/;

/** A request signed for `service` (with the root credentials unless `accessKeyId` says otherwise). */
async function signed(opts: { service: string; method?: string; path?: string; headers?: Record<string, string>; body?: string; accessKeyId?: string }) {
  const url = new URL(berth.url + (opts.path ?? '/'));
  const method = opts.method ?? 'POST';
  const headers = signRequest({
    method,
    url,
    headers: opts.headers ?? {},
    body: opts.body ?? '',
    accessKeyId: opts.accessKeyId ?? berth.credentials.accessKeyId,
    secretAccessKey: berth.credentials.secretAccessKey,
    region: 'us-east-1',
    service: opts.service,
  });
  delete headers.host;
  const res = await fetch(url, { method, headers, body: method === 'GET' ? undefined : (opts.body ?? '') });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

test('aws CLI: EC2 RunInstances is answered as a service Berth does not provide, in EC2 error form', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const r = await aws(berth.awsEnv, ['ec2', 'run-instances', '--image-id', 'ami-12345678', '--instance-type', 't3.micro']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /An error occurred \(UnsupportedService\) when calling the RunInstances operation/);
  assert.match(r.stderr, /Berth does not provide Amazon EC2 \(credential scope 'ec2'\)/);
  assert.match(r.stderr, SERVED);
  assert.doesNotMatch(r.stderr, /retries: [1-9]/);
});

test('aws CLI: DynamoDB (awsJson 1.0), SQS, Lambda (REST-JSON) and S3 (REST-XML)', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const cases: Array<[string[], RegExp]> = [
    [['dynamodb', 'list-tables'], /\(UnsupportedService\) when calling the ListTables operation.*Berth does not provide Amazon DynamoDB \(credential scope 'dynamodb', X-Amz-Target DynamoDB_20120810\.ListTables\)/],
    [['sqs', 'list-queues'], /\(UnsupportedService\) when calling the ListQueues operation.*Berth does not provide Amazon SQS/],
    [['lambda', 'list-functions'], /\(UnsupportedService\) when calling the ListFunctions operation.*Berth does not provide AWS Lambda \(credential scope 'lambda'\)/],
    [['s3api', 'list-buckets'], /\(UnsupportedService\) when calling the ListBuckets operation.*Berth does not provide Amazon S3 \(credential scope 's3'\)/],
  ];
  for (const [args, want] of cases) {
    const r = await aws(berth.awsEnv, args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, want, args.join(' '));
    assert.match(r.stderr, SERVED, args.join(' '));
  }
});

test('each protocol gets its own error shape, status 501', async () => {
  const ec2 = await signed({ service: 'ec2', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: 'Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=1&MaxCount=1' });
  assert.equal(ec2.status, 501);
  assert.match(ec2.text, /^<\?xml version="1\.0" encoding="UTF-8"\?><Response><Errors><Error><Code>UnsupportedService<\/Code><Message>Berth does not provide Amazon EC2/);
  assert.match(ec2.text, /<RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);

  const json = await signed({ service: 'dynamodb', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' }, body: '{}' });
  assert.equal(json.status, 501);
  assert.equal(json.headers.get('x-amzn-errortype'), 'UnsupportedService');
  const body = JSON.parse(json.text);
  assert.equal(body.__type, 'UnsupportedService');
  assert.match(body.message, /^Berth does not provide Amazon DynamoDB \(credential scope 'dynamodb', X-Amz-Target DynamoDB_20120810\.PutItem\): /);

  // A query service with an unknown credential scope: awsQuery's ErrorResponse, naming the scope.
  const query = await signed({ service: 'frobnicator', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=Frob&Version=2020-01-01' });
  assert.equal(query.status, 501);
  assert.match(query.text, /<ErrorResponse xmlns=""><Error><Type>Receiver<\/Type><Code>UnsupportedService<\/Code><Message>Berth does not provide the &apos;frobnicator&apos; service \(credential scope &apos;frobnicator&apos;\)/);

  const s3 = await signed({ service: 's3', method: 'GET', path: '/my-bucket?list-type=2', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  assert.equal(s3.status, 501);
  assert.match(s3.text, /<Error><Code>UnsupportedService<\/Code><Message>Berth does not provide Amazon S3/);

  // A presigned GET for an unserved query service says so too, with its action.
  const get = await signed({ service: 'iam', method: 'GET', path: '/?Action=ListUsers&Version=2010-05-08' });
  assert.equal(get.status, 501);
  assert.match(get.text, /Berth does not provide AWS IAM \(credential scope &apos;iam&apos;, action ListUsers\)/);
});

test('a served service keeps its own errors; an unknown access key is refused first; unsigned paths are still 404', async () => {
  // An unknown operation of ECS (a served scope) stays UnknownOperationException.
  const ecs = await signed({ service: 'ecs', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113X.ListClusters' }, body: '{}' });
  assert.equal(ecs.status, 400);
  assert.equal(JSON.parse(ecs.text).__type, 'UnknownOperationException');
  // STS with an unknown action stays InvalidAction.
  const sts = await signed({ service: 'sts', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=AssumeRoleWithMagic&Version=2011-06-15' });
  assert.equal(sts.status, 400);
  assert.match(sts.text, /<Code>InvalidAction<\/Code>/);
  // Someone else's key learns nothing about the service.
  const stranger = await signed({ service: 'ec2', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=RunInstances' });
  assert.equal(stranger.status, 403);
  assert.match(stranger.text, /<Code>InvalidClientTokenId<\/Code>/);
  // An unsigned request for some other path is not an AWS request at all.
  const plain = await fetch(`${berth.url}/index.html`);
  assert.equal(plain.status, 404);
});
