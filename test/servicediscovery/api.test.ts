// AWS Cloud Map through the real aws CLI: namespaces of the three kinds, services with DNS
// records and custom health checks, instances registered and discovered by attribute, operations
// that complete at once, tags, and AWS's errors for what does not exist, is in use, or is bad input
// (with nothing changed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { aws, awsOk, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { startHostPrefixProxy, type HostPrefixProxy } from './hostPrefixProxy.js';

const skip = !hasAwsCli() && 'aws CLI not installed';
let berth: TestBerth;
let proxy: HostPrefixProxy;
before(async () => {
  berth = await startTestBerth();
  proxy = await startHostPrefixProxy(berth.url);
});
after(async () => {
  await proxy.close();
  await berth.close();
});

/** The CLI's environment: DiscoverInstances (sent to `data-<host>`) goes through the proxy. */
const envFor = (args: string[]) => (args[0] === 'discover-instances' ? proxy.env(berth.awsEnv) : berth.awsEnv);
const sd = (...args: string[]) => awsOk(envFor(args), ['servicediscovery', ...args]);
/** The error code of a failing call (from the CLI's "An error occurred (Code)"). */
async function sdError(...args: string[]): Promise<string> {
  const r = await aws(envFor(args), ['servicediscovery', ...args]);
  assert.notEqual(r.status, 0, `expected ${args.join(' ')} to fail`);
  return /An error occurred \(([A-Za-z]+)\)/.exec(r.stderr)?.[1] ?? r.stderr;
}
const namespaceIdOf = async (operationId: string) => (await sd('get-operation', '--operation-id', operationId)).Operation.Targets.NAMESPACE as string;

test('a private DNS namespace, a service, instances and discovery, then the in-use rules on delete', { skip }, async () => {
  const vpc = (await awsOk(berth.awsEnv, ['ec2', 'create-vpc', '--cidr-block', '10.5.0.0/16'])).Vpc.VpcId;
  const created = await sd('create-private-dns-namespace', '--name', 'service.production', '--vpc', vpc, '--creator-request-id', 'req-1');
  const op = (await sd('get-operation', '--operation-id', created.OperationId)).Operation;
  assert.equal(op.Status, 'SUCCESS');
  assert.equal(op.Type, 'CREATE_NAMESPACE');
  const nsId = op.Targets.NAMESPACE;
  assert.match(nsId, /^ns-[0-9a-f]{16}$/);
  assert.equal((await sd('create-private-dns-namespace', '--name', 'service.production', '--vpc', vpc, '--creator-request-id', 'req-1')).OperationId, created.OperationId, 'a repeated request answers the same operation');
  assert.equal(await sdError('create-private-dns-namespace', '--name', 'service.production', '--vpc', vpc), 'NamespaceAlreadyExists');
  const ns = (await sd('get-namespace', '--id', nsId)).Namespace;
  assert.equal(ns.Type, 'DNS_PRIVATE');
  assert.equal(ns.Arn, `arn:aws:servicediscovery:us-east-1:${berth.credentials.accountId}:namespace/${nsId}`);

  const svc = (await sd('create-service', '--name', 'web', '--dns-config', `NamespaceId=${nsId},DnsRecords=[{Type=A,TTL=10}]`, '--health-check-custom-config', 'FailureThreshold=1')).Service;
  assert.match(svc.Id, /^srv-[0-9a-f]{16}$/);
  assert.equal(svc.DnsConfig.RoutingPolicy, 'MULTIVALUE');
  assert.equal(svc.NamespaceId, nsId);
  assert.equal(await sdError('create-service', '--name', 'web', '--namespace-id', nsId, '--dns-config', 'DnsRecords=[{Type=A,TTL=10}]'), 'ServiceAlreadyExists');
  assert.equal(await sdError('register-instance', '--service-id', svc.Id, '--instance-id', 'i1', '--attributes', 'AWS_INSTANCE_PORT=80'), 'InvalidInput', 'an A record needs an IPv4 address');

  await sd('register-instance', '--service-id', svc.Id, '--instance-id', 'i1', '--attributes', 'AWS_INSTANCE_IPV4=10.5.0.10,AWS_INSTANCE_PORT=80,stage=blue');
  await sd('register-instance', '--service-id', svc.Id, '--instance-id', 'i2', '--attributes', 'AWS_INSTANCE_IPV4=10.5.0.11,AWS_INSTANCE_PORT=80,stage=green');
  assert.equal((await sd('get-service', '--id', svc.Id)).Service.InstanceCount, 2);
  assert.deepEqual((await sd('get-instance', '--service-id', svc.Id, '--instance-id', 'i2')).Instance.Attributes, { AWS_INSTANCE_IPV4: '10.5.0.11', AWS_INSTANCE_PORT: '80', stage: 'green' });
  const all = (await sd('discover-instances', '--namespace-name', 'service.production', '--service-name', 'web')).Instances;
  assert.deepEqual(all.map((i: { InstanceId: string; HealthStatus: string }) => [i.InstanceId, i.HealthStatus]).sort(), [['i1', 'HEALTHY'], ['i2', 'HEALTHY']]);
  const blue = (await sd('discover-instances', '--namespace-name', 'service.production', '--service-name', 'web', '--query-parameters', 'stage=blue')).Instances;
  assert.deepEqual(blue.map((i: { InstanceId: string }) => i.InstanceId), ['i1']);
  const fallback = (await sd('discover-instances', '--namespace-name', 'service.production', '--service-name', 'web', '--optional-parameters', 'stage=red')).Instances;
  assert.equal(fallback.length, 2, 'optional parameters that match nothing fall back to all');
  assert.equal(await sdError('discover-instances', '--namespace-name', 'nope.local', '--service-name', 'web'), 'NamespaceNotFound');
  assert.equal(await sdError('discover-instances', '--namespace-name', 'service.production', '--service-name', 'nope'), 'ServiceNotFound');

  assert.equal(await sdError('delete-namespace', '--id', nsId), 'ResourceInUse');
  assert.equal(await sdError('delete-service', '--id', svc.Id), 'ResourceInUse');
  const dereg = await sd('deregister-instance', '--service-id', svc.Id, '--instance-id', 'i1');
  assert.equal((await sd('get-operation', '--operation-id', dereg.OperationId)).Operation.Type, 'DEREGISTER_INSTANCE');
  assert.equal(await sdError('deregister-instance', '--service-id', svc.Id, '--instance-id', 'i1'), 'InstanceNotFound');
  assert.equal(await sdError('get-instance', '--service-id', svc.Id, '--instance-id', 'i1'), 'InstanceNotFound');
  await sd('deregister-instance', '--service-id', svc.Id, '--instance-id', 'i2');
  await sd('delete-service', '--id', svc.Id);
  assert.equal(await sdError('get-service', '--id', svc.Id), 'ServiceNotFound');
  const deleted = await sd('delete-namespace', '--id', nsId);
  assert.equal((await sd('get-operation', '--operation-id', deleted.OperationId)).Operation.Type, 'DELETE_NAMESPACE');
  assert.equal(await sdError('get-namespace', '--id', nsId), 'NamespaceNotFound');
});

test('HTTP and public namespaces, listing with filters and pages, updates, operations and tags', { skip }, async () => {
  const http = await namespaceIdOf((await sd('create-http-namespace', '--name', 'apps', '--tags', 'Key=team,Value=a')).OperationId);
  const pub = await namespaceIdOf((await sd('create-public-dns-namespace', '--name', 'example.test')).OperationId);
  const types = (await sd('list-namespaces', '--filters', 'Name=TYPE,Values=HTTP,Condition=EQ')).Namespaces.map((n: { Id: string }) => n.Id);
  assert.deepEqual(types, [http]);
  const paged = await sd('list-namespaces', '--max-items', '1');
  assert.equal(paged.Namespaces.length, 1);
  assert.ok(paged.NextToken, 'a second page exists');

  assert.equal(await sdError('create-service', '--name', 'api', '--namespace-id', http, '--dns-config', 'DnsRecords=[{Type=A,TTL=10}]'), 'InvalidInput', 'an HTTP namespace takes no DNS records');
  const api = (await sd('create-service', '--name', 'api', '--namespace-id', http)).Service;
  assert.equal(api.Type, 'HTTP');
  const www = (await sd('create-service', '--name', 'www', '--dns-config', `NamespaceId=${pub},DnsRecords=[{Type=A,TTL=60}]`)).Service;
  const inHttp = (await sd('list-services', '--filters', `Name=NAMESPACE_ID,Values=${http},Condition=EQ`)).Services;
  assert.deepEqual(inHttp.map((x: { Id: string }) => x.Id), [api.Id]);
  const upd = await sd('update-service', '--id', www.Id, '--service', 'Description=front,DnsConfig={DnsRecords=[{Type=A,TTL=300}]}');
  const after = (await sd('get-service', '--id', www.Id)).Service;
  assert.equal(after.Description, 'front');
  assert.equal(after.DnsConfig.DnsRecords[0].TTL, 300);
  const ops = (await sd('list-operations', '--filters', `Name=SERVICE_ID,Values=${www.Id},Condition=EQ`)).Operations;
  assert.deepEqual(ops, [{ Id: upd.OperationId, Status: 'SUCCESS' }]);

  const arn = (await sd('get-namespace', '--id', http)).Namespace.Arn;
  await sd('tag-resource', '--resource-arn', arn, '--tags', 'Key=env,Value=prod');
  assert.deepEqual((await sd('list-tags-for-resource', '--resource-arn', arn)).Tags, [{ Key: 'team', Value: 'a' }, { Key: 'env', Value: 'prod' }]);
  await sd('untag-resource', '--resource-arn', arn, '--tag-keys', 'team');
  assert.deepEqual((await sd('list-tags-for-resource', '--resource-arn', arn)).Tags, [{ Key: 'env', Value: 'prod' }]);
  assert.equal(await sdError('list-tags-for-resource', '--resource-arn', `arn:aws:servicediscovery:us-east-1:${berth.credentials.accountId}:namespace/ns-0000000000000000`), 'ResourceNotFoundException');
  assert.equal(await sdError('tag-resource', '--resource-arn', arn, '--tags', 'Key=aws:x,Value=y'), 'InvalidInput');

  // Bad input: AWS's codes, nothing made.
  const before = (await sd('list-namespaces')).Namespaces.length;
  assert.equal(await sdError('create-private-dns-namespace', '--name', 'x.local', '--vpc', 'vpc-0000000000000000a'), 'InvalidInput');
  assert.equal(await sdError('create-http-namespace', '--name', 'a'.repeat(1025)), 'InvalidInput');
  assert.equal(await sdError('get-operation', '--operation-id', 'nope'), 'OperationNotFound');
  assert.equal(await sdError('get-service', '--id', 'srv-0000000000000000'), 'ServiceNotFound');
  const attrs = Array.from({ length: 31 }, (_, i) => `k${i}=v`).join(',');
  assert.equal(await sdError('register-instance', '--service-id', api.Id, '--instance-id', 'x', '--attributes', attrs), 'InvalidInput');
  assert.equal((await sd('list-namespaces')).Namespaces.length, before);
  assert.equal((await sd('list-instances', '--service-id', api.Id)).Instances.length, 0);
});
