// The ELBv2 control plane through the real @aws-sdk v3 client and the aws CLI: load balancers,
// target groups, listeners, rules, tags, attributes, pagination and AWS's error codes. Nothing
// here sends traffic (test/lb does).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import {
  ElasticLoadBalancingV2Client,
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  DeleteLoadBalancerCommand,
  DescribeLoadBalancerAttributesCommand,
  ModifyLoadBalancerAttributesCommand,
  CreateTargetGroupCommand,
  DescribeTargetGroupsCommand,
  ModifyTargetGroupCommand,
  DeleteTargetGroupCommand,
  DescribeTargetGroupAttributesCommand,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
  DeregisterTargetsCommand,
  CreateListenerCommand,
  DescribeListenersCommand,
  ModifyListenerCommand,
  DeleteListenerCommand,
  CreateRuleCommand,
  DescribeRulesCommand,
  ModifyRuleCommand,
  DeleteRuleCommand,
  SetRulePrioritiesCommand,
  AddTagsCommand,
  RemoveTagsCommand,
  DescribeTagsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { startTestBerth, aws, awsOk, type TestBerth } from '../helpers/fixture.js';
import { freePort } from '../lb/backends.js';

let berth: TestBerth;
let elb: ElasticLoadBalancingV2Client;

before(async () => {
  berth = await startTestBerth();
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
});
after(async () => {
  elb?.destroy();
  await berth?.close();
});

/**
 * Runs `fn` and returns the AWS error code it failed with (fails the test if it succeeded). The
 * SDK names modeled errors `<Code>Exception`; the wire code is that name without the suffix.
 */
async function errorCode(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    assert.ok((err.$metadata?.httpStatusCode ?? 0) >= 400 && (err.$metadata?.httpStatusCode ?? 0) < 500, `4xx for ${err.name}`);
    return (err.Code ?? err.name ?? '').replace(/Exception$/, '');
  }
  assert.fail('expected an error');
}

async function lb(name: string, extra: Record<string, unknown> = {}) {
  return (await elb.send(new CreateLoadBalancerCommand({ Name: name, Subnets: ['subnet-1', 'subnet-2'], ...extra }))).LoadBalancers![0]!;
}
async function tg(name: string, extra: Record<string, unknown> = {}) {
  return (await elb.send(new CreateTargetGroupCommand({ Name: name, Protocol: 'HTTP', Port: 80, VpcId: 'vpc-1', ...extra }))).TargetGroups![0]!;
}

test('load balancers: create (idempotent), describe, DNS name, pagination, attributes, delete', async () => {
  const a = await lb('alpha', { SecurityGroups: ['sg-123'], Scheme: 'internal' });
  assert.match(a.LoadBalancerArn!, /^arn:aws:elasticloadbalancing:us-east-1:\d{12}:loadbalancer\/app\/alpha\/[0-9a-f]{16}$/);
  assert.match(a.DNSName!, /^internal-alpha-[0-9a-f]{16}\.us-east-1\.elb\.localhost$/);
  assert.equal(a.State?.Code, 'provisioning');
  assert.equal(a.Type, 'application');
  assert.deepEqual(a.SecurityGroups, ['sg-123']);
  assert.deepEqual(a.AvailabilityZones?.map((z) => z.SubnetId), ['subnet-1', 'subnet-2']);
  assert.ok(a.CanonicalHostedZoneId);
  const again = await lb('alpha', { SecurityGroups: ['sg-123'], Scheme: 'internal' });
  assert.equal(again.LoadBalancerArn, a.LoadBalancerArn, 'same settings: the same load balancer');
  assert.equal(await errorCode(() => lb('alpha', { Subnets: ['subnet-9'] })), 'DuplicateLoadBalancerName');
  assert.equal(await errorCode(() => lb('-bad')), 'ValidationError');
  assert.equal(await errorCode(() => lb('internal-x')), 'ValidationError');
  assert.equal(await errorCode(() => lb('net', { Type: 'network' })), 'ValidationError');

  const d = (await elb.send(new DescribeLoadBalancersCommand({ Names: ['alpha'] }))).LoadBalancers!;
  assert.equal(d[0]!.State?.Code, 'active');
  assert.equal(await errorCode(() => elb.send(new DescribeLoadBalancersCommand({ Names: ['nope'] }))), 'LoadBalancerNotFound');

  for (const n of ['p1', 'p2', 'p3', 'p4']) await lb(n);
  const names: string[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await elb.send(new DescribeLoadBalancersCommand({ PageSize: 2, Marker: marker }));
    names.push(...page.LoadBalancers!.map((x) => x.LoadBalancerName!));
    marker = page.NextMarker;
    pages++;
  } while (marker);
  assert.deepEqual(names.sort(), ['alpha', 'p1', 'p2', 'p3', 'p4']);
  assert.equal(pages, 3);
  assert.equal(await errorCode(() => elb.send(new DescribeLoadBalancersCommand({ Marker: 'garbage' }))), 'ValidationError');

  const attrs = (await elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: a.LoadBalancerArn }))).Attributes!;
  assert.equal(attrs.find((x) => x.Key === 'idle_timeout.timeout_seconds')?.Value, '60');
  const mod = await elb.send(
    new ModifyLoadBalancerAttributesCommand({
      LoadBalancerArn: a.LoadBalancerArn,
      Attributes: [{ Key: 'idle_timeout.timeout_seconds', Value: '120' }, { Key: 'deletion_protection.enabled', Value: 'true' }],
    }),
  );
  assert.equal(mod.Attributes!.find((x) => x.Key === 'idle_timeout.timeout_seconds')?.Value, '120');
  assert.equal(
    await errorCode(() => elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: a.LoadBalancerArn, Attributes: [{ Key: 'idle_timeout.timeout_seconds', Value: '0' }] }))),
    'ValidationError',
  );
  assert.equal(
    await errorCode(() => elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: a.LoadBalancerArn, Attributes: [{ Key: 'made.up', Value: '1' }] }))),
    'ValidationError',
  );
  assert.equal(await errorCode(() => elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: a.LoadBalancerArn }))), 'OperationNotPermitted');
  await elb.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: a.LoadBalancerArn, Attributes: [{ Key: 'deletion_protection.enabled', Value: 'false' }] }));
  await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: a.LoadBalancerArn }));
  await elb.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: a.LoadBalancerArn })); // deleting again succeeds, as on AWS
  assert.equal(await errorCode(() => elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [a.LoadBalancerArn!] }))), 'LoadBalancerNotFound');
});

test('regions are separate', async () => {
  const a = await lb('regional');
  const west = new ElasticLoadBalancingV2Client({ ...berth.clientConfig, region: 'us-west-2' });
  try {
    assert.equal(await errorCode(() => west.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [a.LoadBalancerArn!] }))), 'LoadBalancerNotFound');
    assert.deepEqual((await west.send(new DescribeLoadBalancersCommand({}))).LoadBalancers, []);
  } finally {
    west.destroy();
  }
});

test('target groups: defaults, health check validation, attributes, in-use protection', async () => {
  const t = await tg('web', { TargetType: 'ip' });
  assert.equal(t.HealthCheckPort, 'traffic-port');
  assert.equal(t.HealthCheckPath, '/');
  assert.equal(t.HealthCheckIntervalSeconds, 30);
  assert.equal(t.HealthCheckTimeoutSeconds, 5);
  assert.equal(t.HealthyThresholdCount, 5);
  assert.equal(t.UnhealthyThresholdCount, 2);
  assert.deepEqual(t.Matcher, { HttpCode: '200' });
  assert.equal(t.TargetType, 'ip');
  assert.equal(await errorCode(() => tg('web', { Port: 8080 })), 'DuplicateTargetGroupName');
  assert.equal(await errorCode(() => tg('m1', { Matcher: { HttpCode: '600' } })), 'ValidationError');
  assert.equal(await errorCode(() => tg('m2', { HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 6 })), 'ValidationError');
  assert.equal(await errorCode(() => tg('m3', { HealthCheckIntervalSeconds: 1 })), 'ValidationError');
  assert.equal(await errorCode(() => tg('m4', { Protocol: 'TCP' })), 'ValidationError');
  const ok = await tg('m5', { Matcher: { HttpCode: '200,302' } });
  assert.equal(ok.Matcher?.HttpCode, '200,302');
  const modified = (await elb.send(new ModifyTargetGroupCommand({ TargetGroupArn: t.TargetGroupArn, HealthCheckPath: '/healthz', Matcher: { HttpCode: '200-299' } }))).TargetGroups![0]!;
  assert.equal(modified.HealthCheckPath, '/healthz');
  assert.equal(modified.Matcher?.HttpCode, '200-299');

  const attrs = (await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: t.TargetGroupArn }))).Attributes!;
  const get = (k: string) => attrs.find((a) => a.Key === k)?.Value;
  assert.equal(get('deregistration_delay.timeout_seconds'), '300');
  assert.equal(get('stickiness.enabled'), 'false');
  assert.equal(get('stickiness.type'), 'lb_cookie');
  assert.equal(get('load_balancing.algorithm.type'), 'round_robin');
  assert.equal(get('slow_start.duration_seconds'), '0');
  const set = await elb.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: t.TargetGroupArn,
      Attributes: [{ Key: 'load_balancing.algorithm.type', Value: 'least_outstanding_requests' }, { Key: 'slow_start.duration_seconds', Value: '30' }],
    }),
  );
  assert.equal(set.Attributes!.find((a) => a.Key === 'load_balancing.algorithm.type')?.Value, 'least_outstanding_requests');
  for (const bad of [{ Key: 'load_balancing.algorithm.type', Value: 'random' }, { Key: 'slow_start.duration_seconds', Value: '10' }, { Key: 'deregistration_delay.timeout_seconds', Value: '4000' }]) {
    assert.equal(await errorCode(() => elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: t.TargetGroupArn, Attributes: [bad] }))), 'ValidationError', bad.Key);
  }

  // Targets: ip targets must be addresses; deregistering an unknown target is InvalidTarget.
  assert.equal(await errorCode(() => elb.send(new RegisterTargetsCommand({ TargetGroupArn: t.TargetGroupArn, Targets: [{ Id: 'i-0123456789abcdef0', Port: 80 }] }))), 'ValidationError');
  assert.equal(await errorCode(() => elb.send(new DeregisterTargetsCommand({ TargetGroupArn: t.TargetGroupArn, Targets: [{ Id: '10.0.0.1', Port: 80 }] }))), 'InvalidTarget');

  // In use by a listener: ResourceInUse; the group names its load balancer.
  const l = await lb('uses-tg');
  const port = await freePort();
  const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: t.TargetGroupArn }] }))).Listeners![0]!;
  assert.equal(await errorCode(() => elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: t.TargetGroupArn }))), 'ResourceInUse');
  const described = (await elb.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: l.LoadBalancerArn }))).TargetGroups!;
  assert.deepEqual(described.map((x) => x.TargetGroupName), ['web']);
  assert.deepEqual(described[0]!.LoadBalancerArns, [l.LoadBalancerArn]);
  await elb.send(new DeleteListenerCommand({ ListenerArn: listener.ListenerArn }));
  await elb.send(new DeleteTargetGroupCommand({ TargetGroupArn: t.TargetGroupArn }));
  assert.equal(await errorCode(() => elb.send(new DescribeTargetGroupsCommand({ Names: ['web'] }))), 'TargetGroupNotFound');
});

test('listeners and rules: duplicates, priorities, conditions, default rule, errors', async () => {
  const l = await lb('rules');
  const a = await tg('ra');
  const b = await tg('rb');
  const port = await freePort();
  const fixed = [{ Type: 'fixed-response' as const, FixedResponseConfig: { StatusCode: '404' } }];
  const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTP', Port: port, DefaultActions: fixed }))).Listeners![0]!;
  assert.equal(listener.Port, port);
  assert.equal(
    await errorCode(() => elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: a.TargetGroupArn }] }))),
    'DuplicateListener',
  );
  const other = await lb('rules-other');
  assert.equal(
    await errorCode(() => elb.send(new CreateListenerCommand({ LoadBalancerArn: other.LoadBalancerArn, Protocol: 'HTTP', Port: port, DefaultActions: fixed }))),
    'InvalidConfigurationRequest',
  );
  assert.equal(await errorCode(() => elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTPS', Port: port + 1, DefaultActions: fixed }))), 'ValidationError');
  assert.equal(
    await errorCode(() =>
      elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: l.LoadBalancerArn,
          Protocol: 'HTTPS',
          Port: port + 1,
          Certificates: [{ CertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/nope' }],
          DefaultActions: fixed,
        }),
      ),
    ),
    'CertificateNotFound',
  );
  assert.equal(
    await errorCode(() => elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTP', Port: port + 2, DefaultActions: [{ Type: 'forward', TargetGroupArn: a.TargetGroupArn!.replace(/\/[0-9a-f]+$/, '/0000000000000000') }] }))),
    'TargetGroupNotFound',
  );

  const rule = (priority: number, conditions: object[], tgArn = a.TargetGroupArn!) =>
    elb.send(new CreateRuleCommand({ ListenerArn: listener.ListenerArn, Priority: priority, Conditions: conditions, Actions: [{ Type: 'forward', TargetGroupArn: tgArn }] }));
  const r10 = (await rule(10, [{ Field: 'path-pattern', Values: ['/a*'] }])).Rules![0]!;
  assert.equal(r10.Priority, '10');
  assert.deepEqual(r10.Conditions![0]!.PathPatternConfig?.Values, ['/a*']);
  assert.deepEqual(r10.Conditions![0]!.Values, ['/a*']);
  assert.equal(r10.Actions![0]!.ForwardConfig?.TargetGroups?.[0]?.Weight, 1);
  const r20 = (await rule(20, [{ Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.0/8', '::1/128'] } }], b.TargetGroupArn)).Rules![0]!;
  assert.equal(await errorCode(() => rule(10, [{ Field: 'path-pattern', Values: ['/b'] }])), 'PriorityInUse');
  // More than five condition values in one rule (ALB's words and code are in test/elbv2/edges.test.ts).
  assert.equal(
    await errorCode(() =>
      rule(30, [
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/1', '/2', '/3'] } },
        { Field: 'host-header', HostHeaderConfig: { Values: ['a.example.com', 'b.example.com', 'c.example.com'] } },
      ]),
    ),
    'ValidationError',
  );
  assert.equal(await errorCode(() => rule(31, [{ Field: 'path-pattern', Values: ['/x'], PathPatternConfig: { Values: ['/y'] } }])), 'ValidationError');
  assert.equal(await errorCode(() => rule(32, [{ Field: 'source-ip', SourceIpConfig: { Values: ['10.0.0.0/33'] } }])), 'ValidationError');
  assert.equal(await errorCode(() => rule(33, [{ Field: 'cookie', Values: ['x'] }])), 'ValidationError');
  assert.equal(await errorCode(() => rule(50001, [{ Field: 'path-pattern', Values: ['/z'] }])), 'ValidationError');

  const rules = (await elb.send(new DescribeRulesCommand({ ListenerArn: listener.ListenerArn }))).Rules!;
  assert.deepEqual(rules.map((r) => r.Priority), ['10', '20', 'default']);
  const def = rules[2]!;
  assert.equal(def.IsDefault, true);
  assert.equal(await errorCode(() => elb.send(new DeleteRuleCommand({ RuleArn: def.RuleArn }))), 'OperationNotPermitted');

  const swapped = await elb.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: r10.RuleArn, Priority: 20 }, { RuleArn: r20.RuleArn, Priority: 10 }] }));
  assert.deepEqual(swapped.Rules!.map((r) => r.Priority).sort(), ['10', '20']);
  assert.deepEqual((await elb.send(new DescribeRulesCommand({ ListenerArn: listener.ListenerArn }))).Rules!.map((r) => r.RuleArn), [r20.RuleArn, r10.RuleArn, def.RuleArn]);
  assert.equal(await errorCode(() => elb.send(new SetRulePrioritiesCommand({ RulePriorities: [{ RuleArn: r10.RuleArn, Priority: 10 }] }))), 'PriorityInUse');

  const m = (await elb.send(new ModifyRuleCommand({ RuleArn: r10.RuleArn, Conditions: [{ Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['POST'] } }] }))).Rules![0]!;
  assert.equal(m.Conditions![0]!.Field, 'http-request-method');
  const md = (await elb.send(new ModifyRuleCommand({ RuleArn: def.RuleArn, Actions: [{ Type: 'forward', TargetGroupArn: b.TargetGroupArn }] }))).Rules![0]!;
  assert.equal(md.IsDefault, true);
  const ls = (await elb.send(new DescribeListenersCommand({ LoadBalancerArn: l.LoadBalancerArn }))).Listeners!;
  assert.equal(ls[0]!.DefaultActions![0]!.TargetGroupArn, b.TargetGroupArn);

  // Paging rules.
  const p1 = await elb.send(new DescribeRulesCommand({ ListenerArn: listener.ListenerArn, PageSize: 2 }));
  assert.equal(p1.Rules!.length, 2);
  const p2 = await elb.send(new DescribeRulesCommand({ ListenerArn: listener.ListenerArn, PageSize: 2, Marker: p1.NextMarker }));
  assert.deepEqual(p2.Rules!.map((r) => r.IsDefault), [true]);
  assert.equal(p2.NextMarker, undefined);

  await elb.send(new DeleteRuleCommand({ RuleArn: r10.RuleArn }));
  assert.equal(await errorCode(() => elb.send(new DeleteRuleCommand({ RuleArn: r10.RuleArn }))), 'RuleNotFound');
  const newPort = await freePort();
  const moved = (await elb.send(new ModifyListenerCommand({ ListenerArn: listener.ListenerArn, Port: newPort }))).Listeners![0]!;
  assert.equal(moved.Port, newPort);
  await elb.send(new DeleteListenerCommand({ ListenerArn: listener.ListenerArn }));
  assert.equal(await errorCode(() => elb.send(new DescribeListenersCommand({ ListenerArns: [listener.ListenerArn!] }))), 'ListenerNotFound');
  assert.equal(await errorCode(() => elb.send(new DescribeRulesCommand({ RuleArns: [r20.RuleArn!] }))), 'RuleNotFound');
});

test('tags on load balancers and target groups', async () => {
  const l = await lb('tagged', { Tags: [{ Key: 'env', Value: 'dev' }] });
  const t = await tg('tagged');
  await elb.send(new AddTagsCommand({ ResourceArns: [l.LoadBalancerArn!, t.TargetGroupArn!], Tags: [{ Key: 'team', Value: 'core' }] }));
  await elb.send(new RemoveTagsCommand({ ResourceArns: [l.LoadBalancerArn!], TagKeys: ['env'] }));
  const d = (await elb.send(new DescribeTagsCommand({ ResourceArns: [l.LoadBalancerArn!, t.TargetGroupArn!] }))).TagDescriptions!;
  assert.deepEqual(d[0]!.Tags, [{ Key: 'team', Value: 'core' }]);
  assert.deepEqual(d[1]!.Tags, [{ Key: 'team', Value: 'core' }]);
  assert.equal(await errorCode(() => elb.send(new AddTagsCommand({ ResourceArns: [l.LoadBalancerArn!], Tags: [{ Key: 'aws:x', Value: '1' }] }))), 'ValidationError');
  const many = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
  assert.equal(await errorCode(() => elb.send(new AddTagsCommand({ ResourceArns: [l.LoadBalancerArn!], Tags: many }))), 'TooManyTags');
  // Nothing was half-applied.
  assert.equal((await elb.send(new DescribeTagsCommand({ ResourceArns: [l.LoadBalancerArn!] }))).TagDescriptions![0]!.Tags!.length, 1);
});

test('the aws CLI: describe, errors with AWS codes, tags in shorthand', async () => {
  await awsOk(berth.awsEnv, ['elbv2', 'create-load-balancer', '--name', 'cli-lb', '--subnets', 'subnet-1', '--tags', 'Key=owner,Value=cli']);
  const out = await awsOk(berth.awsEnv, ['elbv2', 'describe-load-balancers', '--names', 'cli-lb']);
  assert.equal(out.LoadBalancers[0].LoadBalancerName, 'cli-lb');
  const tags = await awsOk(berth.awsEnv, ['elbv2', 'describe-tags', '--resource-arns', out.LoadBalancers[0].LoadBalancerArn]);
  assert.deepEqual(tags.TagDescriptions[0].Tags, [{ Key: 'owner', Value: 'cli' }]);
  const r = await aws(berth.awsEnv, ['elbv2', 'describe-target-groups', '--names', 'missing']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /TargetGroupNotFound/);
});

test('HTTPS listeners serve a certificate found by file:// CertificateArn', { skip: !hasOpenssl() && 'openssl not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const pem = join(dir, 'both.pem');
    writeFileSync(pem, execFileSync('cat', [join(dir, 'cert.pem'), join(dir, 'key.pem')]));
    const l = await lb('tls');
    const port = await freePort();
    await elb.send(
      new CreateListenerCommand({
        LoadBalancerArn: l.LoadBalancerArn,
        Protocol: 'HTTPS',
        Port: port,
        Certificates: [{ CertificateArn: `file://${pem}` }],
        DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200', ContentType: 'text/plain', MessageBody: 'secure' } }],
      }),
    );
    const body = await new Promise<string>((resolve, reject) => {
      const attempt = (n: number) => {
        const req = httpsRequest({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(b));
        });
        req.on('error', (e) => (n > 0 ? setTimeout(() => attempt(n - 1), 50) : reject(e)));
        req.end();
      };
      attempt(100);
    });
    assert.equal(body, 'secure');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
