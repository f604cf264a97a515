// ELBv2 edges through @aws-sdk/client-elastic-load-balancing-v2, the aws CLI and real TLS
// clients: DescribeAccountLimits, DescribeSSLPolicies (AWS's policies, protocols and ciphers,
// enforced by the data plane), listener certificates with SNI (the HTTPS listener serves the
// certificate matching each client's server name), SetSubnets, SetIpAddressType,
// DescribeCapacityReservation, and AWS's validation of listener protocols, fixed responses,
// rule conditions and names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import {
  AddListenerCertificatesCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeAccountLimitsCommand,
  DescribeCapacityReservationCommand,
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeSSLPoliciesCommand,
  ElasticLoadBalancingV2Client,
  ModifyListenerCommand,
  RemoveListenerCertificatesCommand,
  SetIpAddressTypeCommand,
  SetSubnetsCommand,
  type Action,
  type RuleCondition,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { awsOk, errorOf, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { freePort } from '../lb/backends.js';

let berth: TestBerth;
let elb: ElasticLoadBalancingV2Client;
let certDir: string;

before(async () => {
  berth = await startTestBerth();
  elb = new ElasticLoadBalancingV2Client(berth.clientConfig);
  certDir = mkdtempSync(join(tmpdir(), 'berth-sni-'));
});
after(async () => {
  elb?.destroy();
  await berth?.close();
  rmSync(certDir, { recursive: true, force: true });
});

const ok: Action[] = [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200', ContentType: 'text/plain', MessageBody: 'ok' } }];

async function lb(name: string, extra: Record<string, unknown> = {}) {
  return (await elb.send(new CreateLoadBalancerCommand({ Name: name, Subnets: ['subnet-1', 'subnet-2'], ...extra }))).LoadBalancers![0]!;
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed certificate for `names` (the first is also the CN) with its key, as a file:// CertificateArn. */
function certificate(file: string, names: string[]): string {
  const key = join(certDir, `${file}.key`);
  const cert = join(certDir, `${file}.crt`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`],
    { stdio: 'ignore' },
  );
  const pem = join(certDir, `${file}.pem`);
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return `file://${pem}`;
}

/** Connects with TLS to a listener (SNI `servername`, unless empty) and reports the certificate and version it got. */
function handshake(port: number, servername: string, opts: { maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<{ names: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const sock: TLSSocket = connect({ host: '127.0.0.1', port, servername: servername || undefined, rejectUnauthorized: false, ...opts }, () => {
      const raw = sock.getPeerX509Certificate();
      resolve({ names: raw ? (raw as X509Certificate).subjectAltName ?? '' : '', protocol: sock.getProtocol() ?? '' });
      sock.end();
    });
    sock.on('error', reject);
  });
}

test('DescribeAccountLimits: ELB quotas by their AWS names, in pages', async () => {
  const all = (await elb.send(new DescribeAccountLimitsCommand({}))).Limits!;
  const byName = Object.fromEntries(all.map((l) => [l.Name, l.Max]));
  assert.equal(byName['application-load-balancers'], '50');
  assert.equal(byName['condition-values-per-alb-rule'], '5');
  assert.equal(byName['target-groups-per-action-on-application-load-balancer'], '5');
  assert.equal(byName['rules-per-application-load-balancer'], '100');
  const first = await elb.send(new DescribeAccountLimitsCommand({ PageSize: 5 }));
  assert.equal(first.Limits!.length, 5);
  const rest = await elb.send(new DescribeAccountLimitsCommand({ PageSize: 400, Marker: first.NextMarker }));
  assert.deepEqual([...first.Limits!, ...rest.Limits!].map((l) => l.Name), all.map((l) => l.Name));
  assert.equal(rest.NextMarker, undefined);
});

test('DescribeSSLPolicies: AWS policy names with their protocols and ciphers by priority', async () => {
  const all = (await elb.send(new DescribeSSLPoliciesCommand({}))).SslPolicies!;
  assert.ok(all.length >= 20);
  const p2016 = all.find((p) => p.Name === 'ELBSecurityPolicy-2016-08')!;
  assert.deepEqual(p2016.SslProtocols, ['TLSv1.2', 'TLSv1.1', 'TLSv1']);
  assert.deepEqual(p2016.Ciphers![0], { Name: 'ECDHE-ECDSA-AES128-GCM-SHA256', Priority: 1 });
  assert.deepEqual(p2016.SupportedLoadBalancerTypes, ['application', 'network']);
  const named = (await elb.send(new DescribeSSLPoliciesCommand({ Names: ['ELBSecurityPolicy-TLS13-1-2-2021-06'] }))).SslPolicies!;
  assert.deepEqual(named.map((p) => p.Name), ['ELBSecurityPolicy-TLS13-1-2-2021-06']);
  assert.deepEqual(named[0]!.SslProtocols, ['TLSv1.3', 'TLSv1.2']);
  assert.deepEqual(named[0]!.Ciphers!.slice(0, 3).map((c) => c.Name), ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);
  const missing = await errorOf(elb.send(new DescribeSSLPoliciesCommand({ Names: ['ELBSecurityPolicy-Nope'] })));
  assert.equal(missing.name, 'SSLPolicyNotFoundException');
  assert.equal(missing.status, 400);
  assert.deepEqual((await elb.send(new DescribeSSLPoliciesCommand({ LoadBalancerType: 'gateway' }))).SslPolicies, []);
  assert.equal((await elb.send(new DescribeSSLPoliciesCommand({ LoadBalancerType: 'application' }))).SslPolicies!.length, all.length);
});

test('aws CLI: describe-ssl-policies and describe-account-limits', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  const out = await awsOk(berth.awsEnv, ['elbv2', 'describe-ssl-policies', '--names', 'ELBSecurityPolicy-TLS13-1-3-2021-06']);
  assert.deepEqual(out.SslPolicies[0].SslProtocols, ['TLSv1.3']);
  const limits = await awsOk(berth.awsEnv, ['elbv2', 'describe-account-limits']);
  assert.ok(limits.Limits.some((l: { Name: string }) => l.Name === 'targets-per-application-load-balancer'));
});

test('an HTTPS listener serves the certificate matching each SNI server name, the default otherwise', { skip: !hasOpenssl() && 'openssl not installed' }, async () => {
  const def = certificate('default', ['default.test']);
  const app = certificate('app', ['app.example.test']);
  const wild = certificate('wild', ['*.wild.test']);
  const exact = certificate('exact', ['api.wild.test']);
  const l = await lb('sni');
  const port = await freePort();
  const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTPS', Port: port, Certificates: [{ CertificateArn: def }], DefaultActions: ok }))).Listeners![0]!;
  assert.equal(listener.SslPolicy, 'ELBSecurityPolicy-2016-08');
  const added = await elb.send(new AddListenerCertificatesCommand({ ListenerArn: listener.ListenerArn, Certificates: [{ CertificateArn: app }, { CertificateArn: wild }, { CertificateArn: exact }] }));
  assert.deepEqual(added.Certificates, [
    { CertificateArn: app, IsDefault: false },
    { CertificateArn: wild, IsDefault: false },
    { CertificateArn: exact, IsDefault: false },
  ]);
  const listed = (await elb.send(new DescribeListenerCertificatesCommand({ ListenerArn: listener.ListenerArn }))).Certificates!;
  assert.deepEqual(listed.map((c) => [c.CertificateArn, c.IsDefault]), [[def, true], [app, false], [wild, false], [exact, false]]);
  // DescribeListeners shows the default certificate only, as on AWS.
  assert.deepEqual((await elb.send(new DescribeListenersCommand({ ListenerArns: [listener.ListenerArn!] }))).Listeners![0]!.Certificates, [{ CertificateArn: def }]);
  await berth.loadBalancer.settled();
  assert.equal((await handshake(port, 'app.example.test')).names, 'DNS:app.example.test');
  assert.equal((await handshake(port, 'APP.example.test')).names, 'DNS:app.example.test', 'server names are case-insensitive');
  assert.equal((await handshake(port, 'x.wild.test')).names, 'DNS:*.wild.test');
  assert.equal((await handshake(port, 'api.wild.test')).names, 'DNS:api.wild.test', 'an exact name beats a wildcard');
  assert.equal((await handshake(port, 'a.b.wild.test')).names, 'DNS:default.test', 'a wildcard covers one label');
  assert.equal((await handshake(port, 'elsewhere.test')).names, 'DNS:default.test');
  assert.equal((await handshake(port, '')).names, 'DNS:default.test', 'no server name: the default');

  // Removing one: its name falls back to the default; the default itself cannot be removed.
  await elb.send(new RemoveListenerCertificatesCommand({ ListenerArn: listener.ListenerArn, Certificates: [{ CertificateArn: app }] }));
  await berth.loadBalancer.settled();
  assert.equal((await handshake(port, 'app.example.test')).names, 'DNS:default.test');
  assert.equal((await errorOf(elb.send(new RemoveListenerCertificatesCommand({ ListenerArn: listener.ListenerArn, Certificates: [{ CertificateArn: def }] })))).name, 'OperationNotPermittedException');
  // A new default through ModifyListener: served at once, on the same port.
  await elb.send(new ModifyListenerCommand({ ListenerArn: listener.ListenerArn, Certificates: [{ CertificateArn: exact }] }));
  await berth.loadBalancer.settled();
  assert.equal((await handshake(port, 'elsewhere.test')).names, 'DNS:api.wild.test');
  assert.deepEqual(
    (await elb.send(new DescribeListenerCertificatesCommand({ ListenerArn: listener.ListenerArn }))).Certificates!.map((c) => [c.CertificateArn, c.IsDefault]),
    [[exact, true], [wild, false]],
  );
  assert.equal(berth.loadBalancer.bindErrors.get(port), undefined);

  // Errors: a certificate that is not there, an HTTP listener, a listener that is not there.
  const nope = `file://${join(certDir, 'nope.pem')}`;
  assert.equal((await errorOf(elb.send(new AddListenerCertificatesCommand({ ListenerArn: listener.ListenerArn, Certificates: [{ CertificateArn: nope }] })))).name, 'CertificateNotFoundException');
  const httpPort = await freePort();
  const http = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTP', Port: httpPort, DefaultActions: ok }))).Listeners![0]!;
  const onHttp = await errorOf(elb.send(new AddListenerCertificatesCommand({ ListenerArn: http.ListenerArn, Certificates: [{ CertificateArn: app }] })));
  assert.equal(onHttp.name, 'ValidationError');
  const gone = listener.ListenerArn!.replace(/\/[0-9a-f]{16}$/, '/0000000000000000');
  assert.equal((await errorOf(elb.send(new DescribeListenerCertificatesCommand({ ListenerArn: gone })))).name, 'ListenerNotFoundException');
});

test('the security policy decides the TLS versions the listener speaks', { skip: !hasOpenssl() && 'openssl not installed' }, async () => {
  const cert = certificate('policy', ['policy.test']);
  const l = await lb('policies');
  const port = await freePort();
  const listener = (
    await elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTPS', Port: port, Certificates: [{ CertificateArn: cert }], SslPolicy: 'ELBSecurityPolicy-TLS13-1-3-2021-06', DefaultActions: ok }))
  ).Listeners![0]!;
  await berth.loadBalancer.settled();
  assert.equal((await handshake(port, 'policy.test')).protocol, 'TLSv1.3');
  await assert.rejects(handshake(port, 'policy.test', { maxVersion: 'TLSv1.2' }), 'a TLS 1.3-only policy refuses TLS 1.2 clients');
  // The default policy (2016-08) has no TLS 1.3: clients get TLS 1.2.
  await elb.send(new ModifyListenerCommand({ ListenerArn: listener.ListenerArn, SslPolicy: 'ELBSecurityPolicy-2016-08' }));
  await berth.loadBalancer.settled();
  assert.equal((await handshake(port, 'policy.test')).protocol, 'TLSv1.2');
  assert.equal((await errorOf(elb.send(new ModifyListenerCommand({ ListenerArn: listener.ListenerArn, SslPolicy: 'ELBSecurityPolicy-Made-Up' })))).name, 'SSLPolicyNotFoundException');
  const other = await freePort();
  const bad = await errorOf(
    elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTPS', Port: other, Certificates: [{ CertificateArn: cert }], SslPolicy: 'nope', DefaultActions: ok })),
  );
  assert.equal(bad.name, 'SSLPolicyNotFoundException');
});

test('SetSubnets, SetIpAddressType and DescribeCapacityReservation', async () => {
  const l = await lb('network-edges');
  const set = await elb.send(new SetSubnetsCommand({ LoadBalancerArn: l.LoadBalancerArn, Subnets: ['subnet-a', 'subnet-b', 'subnet-c'] }));
  assert.deepEqual(set.AvailabilityZones!.map((z) => [z.SubnetId, z.ZoneName]), [
    ['subnet-a', 'us-east-1a'],
    ['subnet-b', 'us-east-1b'],
    ['subnet-c', 'us-east-1c'],
  ]);
  assert.equal(set.IpAddressType, 'ipv4');
  const described = (await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [l.LoadBalancerArn!] }))).LoadBalancers![0]!;
  assert.deepEqual(described.AvailabilityZones!.map((z) => z.SubnetId), ['subnet-a', 'subnet-b', 'subnet-c']);
  const mapped = await elb.send(new SetSubnetsCommand({ LoadBalancerArn: l.LoadBalancerArn, SubnetMappings: [{ SubnetId: 'subnet-x' }], IpAddressType: 'dualstack' }));
  assert.deepEqual([mapped.AvailabilityZones!.map((z) => z.SubnetId), mapped.IpAddressType], [['subnet-x'], 'dualstack']);
  assert.equal((await errorOf(elb.send(new SetSubnetsCommand({ LoadBalancerArn: l.LoadBalancerArn, Subnets: ['subnet-a'], SubnetMappings: [{ SubnetId: 'subnet-b' }] })))).name, 'ValidationError');
  assert.equal((await errorOf(elb.send(new SetSubnetsCommand({ LoadBalancerArn: l.LoadBalancerArn, Subnets: ['subnet-a', 'subnet-a'] })))).name, 'ValidationError');

  assert.equal((await elb.send(new SetIpAddressTypeCommand({ LoadBalancerArn: l.LoadBalancerArn, IpAddressType: 'ipv4' }))).IpAddressType, 'ipv4');
  assert.equal((await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [l.LoadBalancerArn!] }))).LoadBalancers![0]!.IpAddressType, 'ipv4');
  const internal = await lb('inner-edges', { Scheme: 'internal' });
  const noPublic = await errorOf(elb.send(new SetIpAddressTypeCommand({ LoadBalancerArn: internal.LoadBalancerArn, IpAddressType: 'dualstack-without-public-ipv4' })));
  assert.equal(noPublic.name, 'InvalidConfigurationRequestException');
  const badType = await errorOf(elb.send(new SetIpAddressTypeCommand({ LoadBalancerArn: l.LoadBalancerArn, IpAddressType: 'ipv6' as never })));
  assert.equal(badType.name, 'ValidationError');
  assert.match(badType.message, /^1 validation error detected: Value 'ipv6' at 'ipAddressType' failed to satisfy constraint: Member must satisfy enum value set: \[ipv4, dualstack, dualstack-without-public-ipv4\]$/);

  const capacity = await elb.send(new DescribeCapacityReservationCommand({ LoadBalancerArn: l.LoadBalancerArn }));
  assert.deepEqual(capacity.CapacityReservationState, []);
  assert.equal(capacity.MinimumLoadBalancerCapacity, undefined);
  const gone = l.LoadBalancerArn!.replace(/\/[0-9a-f]{16}$/, '/0000000000000000');
  for (const call of [
    elb.send(new DescribeCapacityReservationCommand({ LoadBalancerArn: gone })),
    elb.send(new SetSubnetsCommand({ LoadBalancerArn: gone, Subnets: ['subnet-a'] })),
    elb.send(new SetIpAddressTypeCommand({ LoadBalancerArn: gone, IpAddressType: 'ipv4' })),
  ]) {
    assert.equal((await errorOf(call)).name, 'LoadBalancerNotFoundException');
  }
});

test('validation as AWS does it: listener protocols, fixed responses, conditions, names', async () => {
  const l = await lb('validating');
  const port = await freePort();
  const tcp = await errorOf(elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'TCP', Port: port, DefaultActions: ok })));
  assert.deepEqual([tcp.name, tcp.message], ['ValidationError', "Listener protocol 'TCP' must be one of 'HTTPS, HTTP'"]);
  const xml = await errorOf(
    elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '200', ContentType: 'text/xml' } }] })),
  );
  assert.deepEqual([xml.name, xml.message], ['InvalidLoadBalancerActionException', "The ContentType must be one of:'text/html', 'application/json', 'application/javascript', 'text/css', 'text/plain'"]);
  const redirectStatus = await errorOf(
    elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '302' } }] })),
  );
  assert.equal(redirectStatus.name, 'ValidationError');
  assert.equal(redirectStatus.message, "1 validation error detected: Value '302' at 'defaultActions.1.member.fixedResponseConfig.statusCode' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(2|4|5)\\d\\d$");

  const listener = (await elb.send(new CreateListenerCommand({ LoadBalancerArn: l.LoadBalancerArn, Protocol: 'HTTP', Port: port, DefaultActions: ok }))).Listeners![0]!;
  const rule = (priority: number, Conditions: RuleCondition[]) => errorOf(elb.send(new CreateRuleCommand({ ListenerArn: listener.ListenerArn, Priority: priority, Conditions, Actions: ok })));
  const long = 'a'.repeat(129);
  const cases: Array<[RuleCondition[], string]> = [
    [[{ Field: 'host-header', Values: ['a.test', 'b.test'] }], "The 'host-header' field contains too many values; the limit is '1'"],
    [[{ Field: 'path-pattern', Values: ['/a', '/b'] }], "The 'path-pattern' field contains too many values; the limit is '1'"],
    [[{ Field: 'path-pattern', PathPatternConfig: { Values: ['/1', '/2', '/3', '/4', '/5', '/6'] } }], "A rule can only have '5' condition values"],
    [
      [
        { Field: 'path-pattern', PathPatternConfig: { Values: ['/1', '/2', '/3'] } },
        { Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['GET', 'PUT', 'POST'] } },
      ],
      "A rule can only have '5' condition values",
    ],
    [[{ Field: 'path-pattern', PathPatternConfig: { Values: [`/${long}`] } }], "The 'path-pattern' value is too long; the limit is '128'"],
    [[{ Field: 'host-header', HostHeaderConfig: { Values: [long] } }], "The 'host-header' value is too long; the limit is '128'"],
    [[{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Long', Values: [long] } }], "The 'http-header' value is too long; the limit is '128'"],
    [[{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'x'.repeat(41), Values: ['v'] } }], "The 'HttpHeaderName' value is too long; the limit is '40'"],
    [[{ Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'k', Value: long }] } }], "The 'Value' value is too long; the limit is '128'"],
    [[{ Field: 'query-string', QueryStringConfig: { Values: [{ Key: 'k' }] } }], "A 'Value' must be specified in 'QueryStringKeyValuePair'"],
    [[{ Field: 'http-header', Values: ['v'] }], "The 'Values' field is not compatible with 'http-header'"],
    [[{ Field: 'http-header' }], "A 'HttpHeaderConfig' must be specified with 'http-header'"],
    [[{ Field: 'source-ip' }], "A 'SourceIpConfig' must be specified with 'source-ip'"],
    [[{ Field: 'cookie', Values: ['x'] }], "Condition field 'cookie' must be one of '[path-pattern, host-header, http-header, http-request-method, query-string, source-ip]'"],
    [[{ Field: 'path-pattern', Values: ['/x'], PathPatternConfig: { Values: ['/y'] } }], "You cannot provide both Values and 'PathPatternConfig' for a condition of type 'path-pattern'"],
    [[{ Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['get'] } }], "The 'http-request-method' value is invalid; the allowed characters are A-Z, hyphen and underscore"],
  ];
  for (const [i, [conditions, message]] of cases.entries()) {
    const e = await rule(100 + i, conditions);
    assert.deepEqual([e.name, e.message], ['ValidationError', message], JSON.stringify(conditions).slice(0, 120));
  }

  const tgName = async (Name: string) => (await errorOf(elb.send(new CreateTargetGroupCommand({ Name, Protocol: 'HTTP', Port: 80 })))).message;
  assert.equal(await tgName('t'.repeat(33)), `Target group name '${'t'.repeat(33)}' cannot be longer than '32' characters`);
  assert.equal(await tgName('web_app'), "Target group name 'web_app' can only contain characters that are alphanumeric characters or hyphens(-)");
  assert.equal(await tgName('-web'), "Target group name '-web' cannot begin or end with '-'");
  assert.equal(await tgName('web-'), "Target group name 'web-' cannot begin or end with '-'");
  const lbName = async (Name: string) => (await errorOf(elb.send(new CreateLoadBalancerCommand({ Name, Subnets: ['subnet-1'] })))).message;
  assert.equal(await lbName('internal-web'), "Load balancer name 'internal-web' cannot begin with 'internal-'");
  assert.equal(await lbName('web.app'), "Load balancer name 'web.app' can only contain characters that are alphanumeric characters or hyphens(-)");
});
