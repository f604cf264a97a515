// IAM policy evaluation (issue 17): a table of cases, each a request, the policies that apply
// and the decision with its reason. Where AWS's documentation gives an example (the IAM user
// guide's evaluation logic, condition operators, multivalued keys, policy variables, and the
// "Example policies" pages), the case says so and follows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, type CompiledPolicy, type PolicyKind } from '../../src/domain/iam/policy/document.js';
import { evaluate, accessDeniedMessage, type AuthzRequest, type ApplicablePolicies, type Reason } from '../../src/domain/iam/policy/evaluate.js';
import { ServiceError } from '../../src/errors.js';

const ACCT = '123456789012';
const ALICE = `arn:aws:iam::${ACCT}:user/alice`;
const CLUSTER = `arn:aws:ecs:us-east-1:${ACCT}:cluster/prod`;
const OTHER_CLUSTER = `arn:aws:ecs:us-east-1:${ACCT}:cluster/dev`;
const PARAM = (n: string): string => `arn:aws:ssm:us-east-1:${ACCT}:parameter${n}`;

type Doc = Record<string, unknown>;
type Stmt = Record<string, unknown>;

const pol = (kind: PolicyKind, ...statements: Stmt[]): CompiledPolicy => compilePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), kind);
const allow = (Action: unknown, Resource: unknown = '*', extra: Stmt = {}): Stmt => ({ Effect: 'Allow', Action, Resource, ...extra });
const deny = (Action: unknown, Resource: unknown = '*', extra: Stmt = {}): Stmt => ({ Effect: 'Deny', Action, Resource, ...extra });

interface Case {
  name: string;
  identity?: Stmt[][];
  boundary?: Stmt[];
  session?: Stmt[][];
  resource?: Stmt[];
  action?: string;
  resourceArn?: string;
  principal?: Partial<AuthzRequest['principal']>;
  keys?: Record<string, string | string[]>;
  expect: Reason;
}

function run(c: Case): ReturnType<typeof evaluate> {
  const keys = new Map<string, string[]>();
  keys.set('aws:username', ['alice']);
  keys.set('aws:principalarn', [c.principal?.arn ?? ALICE]);
  for (const [k, v] of Object.entries(c.keys ?? {})) keys.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  const req: AuthzRequest = {
    principal: { arn: ALICE, accountId: ACCT, ...c.principal },
    action: c.action ?? 'ecs:RunTask',
    resource: c.resourceArn ?? CLUSTER,
    keys,
  };
  const policies: ApplicablePolicies = {
    identity: (c.identity ?? []).map((s) => pol('identity', ...s)),
    boundary: c.boundary ? pol('identity', ...c.boundary) : undefined,
    session: c.session?.map((s) => pol('identity', ...s)),
    resource: c.resource ? pol('resource', ...c.resource) : undefined,
  };
  return evaluate(req, policies);
}

const cases: Case[] = [];
const add = (...cs: Case[]): void => void cases.push(...cs);

// --- Actions ----------------------------------------------------------------------------------
for (const [action, pattern, ok] of [
  ['ecs:RunTask', 'ecs:RunTask', true],
  ['ecs:RunTask', 'ecs:runtask', true],
  ['ecs:RunTask', 'ECS:RUNTASK', true],
  ['ecs:RunTask', 'ecs:*', true],
  ['ecs:RunTask', '*', true],
  ['ecs:RunTask', 'ecs:Run*', true],
  ['ecs:RunTask', 'ecs:*Task', true],
  ['ecs:RunTask', 'ecs:?unTask', true],
  ['ecs:RunTask', 'ecs:R?n*', true],
  ['ecs:RunTask', 'ecs:StartTask', false],
  ['ecs:RunTask', 'ecs:Describe*', false],
  ['ecs:RunTask', 'ssm:*', false],
  ['ecs:RunTask', 'ecs:RunTasks', false],
  ['ecs:RunTask', 'ecs:RunTas', false],
  ['ecs:RunTask', 'ec:*', false],
  ['ecs:RunTask', 'ecs:??Task', false],
  ['ecs:DescribeClusters', 'ecs:Describe*', true],
  ['ecs:DescribeServices', 'ecs:Describe*', true],
  ['ecs:ListClusters', 'ecs:Describe*', false],
  ['ssm:GetParameter', 'ssm:GetParameter*', true],
  ['ssm:GetParametersByPath', 'ssm:GetParameter*', true],
  ['ssm:PutParameter', 'ssm:GetParameter*', false],
  ['logs:PutLogEvents', 'logs:*Events', true],
  ['logs:CreateLogStream', 'logs:*Events', false],
] as const) {
  add({ name: `Action ${pattern} ${ok ? 'covers' : 'does not cover'} ${action}`, action, resourceArn: '*', identity: [[allow(pattern)]], expect: ok ? 'identity-allow' : 'no-identity-allow' });
}
add(
  { name: 'Action list: any entry matches', identity: [[allow(['ecs:StopTask', 'ecs:RunTask'])]], expect: 'identity-allow' },
  { name: 'Action list: none matches', identity: [[allow(['ecs:StopTask', 'ecs:StartTask'])]], expect: 'no-identity-allow' },
  { name: 'NotAction allow: everything but IAM (the user guide example) allows ecs', identity: [[{ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }]], expect: 'identity-allow' },
  { name: 'NotAction allow: does not allow the excluded service', action: 'iam:CreateUser', identity: [[{ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }]], expect: 'no-identity-allow' },
  { name: 'NotAction deny: denies what is not listed', action: 'ssm:GetParameter', identity: [[allow('*'), { Effect: 'Deny', NotAction: ['ecs:*'], Resource: '*' }]], expect: 'explicit-deny-identity' },
  { name: 'NotAction deny: leaves what is listed', identity: [[allow('*'), { Effect: 'Deny', NotAction: ['ecs:*'], Resource: '*' }]], expect: 'identity-allow' },
  { name: 'no policies at all: implicit deny', expect: 'no-identity-allow' },
  { name: 'an empty set of identity policies with only a deny', identity: [[deny('ssm:*')]], expect: 'no-identity-allow' },
);

// --- Resources --------------------------------------------------------------------------------
for (const [pattern, arn, ok] of [
  [CLUSTER, CLUSTER, true],
  ['*', CLUSTER, true],
  [`arn:aws:ecs:*:${ACCT}:cluster/prod`, CLUSTER, true],
  [`arn:aws:ecs:us-east-1:*:cluster/*`, CLUSTER, true],
  [`arn:aws:ecs:us-east-1:${ACCT}:cluster/*`, OTHER_CLUSTER, true],
  [`arn:aws:ecs:us-east-1:${ACCT}:cluster/pro?`, CLUSTER, true],
  [`arn:aws:ecs:us-east-1:${ACCT}:cluster/PROD`, CLUSTER, false],
  [`arn:aws:ecs:us-west-2:${ACCT}:cluster/prod`, CLUSTER, false],
  [`arn:aws:ecs:us-east-1:${ACCT}:cluster/prod`, OTHER_CLUSTER, false],
  [`arn:aws:ecs:us-east-1:${ACCT}:cluster/prod*`, `${CLUSTER}-2`, true],
  [`arn:aws:ecs:us-east-1:${ACCT}:service/prod/*`, `arn:aws:ecs:us-east-1:${ACCT}:service/prod/web`, true],
  [`arn:aws:ecs:us-east-1:${ACCT}:service/prod/*`, `arn:aws:ecs:us-east-1:${ACCT}:service/dev/web`, false],
  [`arn:aws:ecs:us-east-1:${ACCT}:task-definition/web:*`, `arn:aws:ecs:us-east-1:${ACCT}:task-definition/web:7`, true],
  [`arn:aws:ecs:us-east-1:${ACCT}:task-definition/web:*`, `arn:aws:ecs:us-east-1:${ACCT}:task-definition/webapp:7`, false],
  [PARAM('/app/a/*'), PARAM('/app/a/x'), true],
  [PARAM('/app/a/*'), PARAM('/app/a/deep/x'), true],
  [PARAM('/app/a/*'), PARAM('/app/b/x'), false],
  [PARAM('/app/a'), PARAM('/app/a/x'), false],
  ['arn:aws:ssm:*:*:parameter/app/*', PARAM('/app/b/x'), true],
  ['arn:*', CLUSTER, true],
] as const) {
  add({ name: `Resource ${pattern} ${ok ? 'covers' : 'does not cover'} ${arn}`, resourceArn: arn, identity: [[allow('*', pattern)]], expect: ok ? 'identity-allow' : 'no-identity-allow' });
}
add(
  { name: 'Resource list: any entry', identity: [[allow('ecs:*', [OTHER_CLUSTER, CLUSTER])]], expect: 'identity-allow' },
  { name: 'NotResource allow: all but the listed', resourceArn: OTHER_CLUSTER, identity: [[{ Effect: 'Allow', Action: 'ecs:*', NotResource: CLUSTER }]], expect: 'identity-allow' },
  { name: 'NotResource allow: not the listed', identity: [[{ Effect: 'Allow', Action: 'ecs:*', NotResource: CLUSTER }]], expect: 'no-identity-allow' },
  { name: 'NotResource deny: protects all but the listed', resourceArn: OTHER_CLUSTER, identity: [[allow('*'), { Effect: 'Deny', Action: 'ecs:*', NotResource: CLUSTER }]], expect: 'explicit-deny-identity' },
  { name: 'NotResource deny: leaves the listed', identity: [[allow('*'), { Effect: 'Deny', Action: 'ecs:*', NotResource: CLUSTER }]], expect: 'identity-allow' },
  { name: 'policy variable ${aws:username} in a resource (user guide: home folder)', action: 'ssm:GetParameter', resourceArn: PARAM('/home/alice/key'), identity: [[allow('ssm:GetParameter', PARAM('/home/${aws:username}/*'))]], expect: 'identity-allow' },
  { name: 'policy variable: another user\'s folder', action: 'ssm:GetParameter', resourceArn: PARAM('/home/bob/key'), identity: [[allow('ssm:GetParameter', PARAM('/home/${aws:username}/*'))]], expect: 'no-identity-allow' },
  { name: 'policy variable with no value: matches nothing', action: 'ssm:GetParameter', resourceArn: PARAM('/team//x'), identity: [[allow('ssm:GetParameter', PARAM('/team/${aws:PrincipalTag/team}/*'))]], expect: 'no-identity-allow' },
  { name: 'policy variable from a principal tag', action: 'ssm:GetParameter', resourceArn: PARAM('/team/blue/x'), keys: { 'aws:PrincipalTag/team': 'blue' }, identity: [[allow('ssm:GetParameter', PARAM('/team/${aws:PrincipalTag/team}/*'))]], expect: 'identity-allow' },
  { name: 'policy variable default value', action: 'ssm:GetParameter', resourceArn: PARAM('/team/none/x'), identity: [[allow('ssm:GetParameter', PARAM("/team/${aws:PrincipalTag/team, 'none'}/*"))]], expect: 'identity-allow' },
  { name: 'policy variable ${*} is a literal star', action: 'ssm:GetParameter', resourceArn: PARAM('/lit/*'), identity: [[allow('ssm:GetParameter', PARAM('/lit/${*}'))]], expect: 'identity-allow' },
);

// --- Deny wins --------------------------------------------------------------------------------
add(
  { name: 'explicit deny beats allow in the same policy', identity: [[allow('ecs:*'), deny('ecs:RunTask')]], expect: 'explicit-deny-identity' },
  { name: 'explicit deny beats allow in another policy', identity: [[allow('ecs:*')], [deny('ecs:RunTask')]], expect: 'explicit-deny-identity' },
  { name: 'deny on another action leaves the allow', identity: [[allow('ecs:*'), deny('ecs:StopTask')]], expect: 'identity-allow' },
  { name: 'deny on another resource leaves the allow', identity: [[allow('ecs:*'), deny('ecs:*', OTHER_CLUSTER)]], expect: 'identity-allow' },
  { name: 'deny with wildcard action', identity: [[allow('*'), deny('ecs:*')]], expect: 'explicit-deny-identity' },
  { name: 'deny everything', identity: [[allow('*'), deny('*')]], expect: 'explicit-deny-identity' },
  { name: 'deny whose condition fails leaves the allow', keys: { 'aws:SourceIp': '10.0.0.5' }, identity: [[allow('*'), deny('*', '*', { Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })]], expect: 'identity-allow' },
  { name: 'deny whose condition holds (user guide: deny outside an IP range)', keys: { 'aws:SourceIp': '192.0.2.9' }, identity: [[allow('*'), deny('*', '*', { Condition: { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '203.0.113.0/24'] } } })]], expect: 'explicit-deny-identity' },
  { name: 'deny in a boundary beats identity allow', identity: [[allow('*')]], boundary: [allow('*'), deny('ecs:RunTask')], expect: 'explicit-deny-boundary' },
  { name: 'deny in a session policy', identity: [[allow('*')]], session: [[allow('*'), deny('ecs:RunTask')]], expect: 'explicit-deny-session' },
  { name: 'deny in a resource policy beats identity allow', identity: [[allow('*')]], resource: [{ Effect: 'Deny', Principal: '*', Action: 'ecs:RunTask', Resource: '*' }], expect: 'explicit-deny-resource' },
  { name: 'deny in a resource policy for another principal does not apply', identity: [[allow('*')]], resource: [{ Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${ACCT}:user/bob` }, Action: '*', Resource: '*' }], expect: 'identity-allow' },
  { name: 'identity deny beats a resource-policy allow naming the user', identity: [[deny('ecs:RunTask')]], resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: '*', Resource: '*' }], expect: 'explicit-deny-identity' },
);

// --- Conditions: strings ----------------------------------------------------------------------
const cond = (name: string, condition: Doc, keys: Record<string, string | string[]>, ok: boolean): Case => ({
  name,
  keys,
  identity: [[allow('ecs:RunTask', '*', { Condition: condition })]],
  expect: ok ? 'identity-allow' : 'no-identity-allow',
});
add(
  cond('StringEquals matches', { StringEquals: { 'ecs:cluster': CLUSTER } }, { 'ecs:cluster': CLUSTER }, true),
  cond('StringEquals is case-sensitive on values', { StringEquals: { 'aws:RequestTag/env': 'Prod' } }, { 'aws:RequestTag/env': 'prod' }, false),
  cond('condition keys are case-insensitive', { StringEquals: { 'AWS:REQUESTTAG/env': 'prod' } }, { 'aws:RequestTag/env': 'prod' }, true),
  cond('StringEquals: one of several values (OR)', { StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } }, { 'aws:RequestedRegion': 'us-east-1' }, true),
  cond('StringEquals: none of several values', { StringEquals: { 'aws:RequestedRegion': ['eu-west-1', 'us-west-2'] } }, { 'aws:RequestedRegion': 'us-east-1' }, false),
  cond('StringEquals: key missing is false', { StringEquals: { 'aws:RequestTag/env': 'prod' } }, {}, false),
  cond('StringEqualsIfExists: key missing is true', { StringEqualsIfExists: { 'aws:RequestTag/env': 'prod' } }, {}, true),
  cond('StringEqualsIfExists: key present and different is false', { StringEqualsIfExists: { 'aws:RequestTag/env': 'prod' } }, { 'aws:RequestTag/env': 'dev' }, false),
  cond('StringNotEquals: different value', { StringNotEquals: { 'aws:RequestTag/env': 'prod' } }, { 'aws:RequestTag/env': 'dev' }, true),
  cond('StringNotEquals: same value', { StringNotEquals: { 'aws:RequestTag/env': 'prod' } }, { 'aws:RequestTag/env': 'prod' }, false),
  cond('StringNotEquals: several values are NOR (matches one)', { StringNotEquals: { 'aws:RequestTag/env': ['prod', 'dev'] } }, { 'aws:RequestTag/env': 'dev' }, false),
  cond('StringNotEquals: several values are NOR (matches none)', { StringNotEquals: { 'aws:RequestTag/env': ['prod', 'dev'] } }, { 'aws:RequestTag/env': 'test' }, true),
  cond('StringNotEquals: key missing is true', { StringNotEquals: { 'aws:RequestTag/env': 'prod' } }, {}, true),
  cond('StringEqualsIgnoreCase', { StringEqualsIgnoreCase: { 'aws:RequestTag/env': 'PROD' } }, { 'aws:RequestTag/env': 'prod' }, true),
  cond('StringNotEqualsIgnoreCase', { StringNotEqualsIgnoreCase: { 'aws:RequestTag/env': 'PROD' } }, { 'aws:RequestTag/env': 'prod' }, false),
  cond('StringLike with *', { StringLike: { 'aws:RequestTag/app': 'web-*' } }, { 'aws:RequestTag/app': 'web-front' }, true),
  cond('StringLike with ?', { StringLike: { 'aws:RequestTag/app': 'web-?' } }, { 'aws:RequestTag/app': 'web-1' }, true),
  cond('StringLike ? is one character', { StringLike: { 'aws:RequestTag/app': 'web-?' } }, { 'aws:RequestTag/app': 'web-12' }, false),
  cond('StringLike no match', { StringLike: { 'aws:RequestTag/app': 'web-*' } }, { 'aws:RequestTag/app': 'api-1' }, false),
  cond('StringLike is case-sensitive', { StringLike: { 'aws:RequestTag/app': 'WEB-*' } }, { 'aws:RequestTag/app': 'web-1' }, false),
  cond('StringNotLike', { StringNotLike: { 'aws:RequestTag/app': 'web-*' } }, { 'aws:RequestTag/app': 'api-1' }, true),
  cond('StringNotLike matching', { StringNotLike: { 'aws:RequestTag/app': 'web-*' } }, { 'aws:RequestTag/app': 'web-1' }, false),
  cond('StringNotLike key missing is true', { StringNotLike: { 'aws:RequestTag/app': 'web-*' } }, {}, true),
  cond('StringLike with a policy variable', { StringLike: { 'aws:RequestTag/owner': '${aws:username}' } }, { 'aws:RequestTag/owner': 'alice' }, true),
  cond('StringLike with a policy variable, other owner', { StringLike: { 'aws:RequestTag/owner': '${aws:username}' } }, { 'aws:RequestTag/owner': 'bob' }, false),
  cond('StringEquals with a principal tag variable (ABAC, user guide)', { StringEquals: { 'aws:ResourceTag/team': '${aws:PrincipalTag/team}' } }, { 'aws:ResourceTag/team': 'blue', 'aws:PrincipalTag/team': 'blue' }, true),
  cond('ABAC: tags differ', { StringEquals: { 'aws:ResourceTag/team': '${aws:PrincipalTag/team}' } }, { 'aws:ResourceTag/team': 'red', 'aws:PrincipalTag/team': 'blue' }, false),
  cond('ABAC: principal has no tag', { StringEquals: { 'aws:ResourceTag/team': '${aws:PrincipalTag/team}' } }, { 'aws:ResourceTag/team': 'red' }, false),
  cond('two keys under one operator: both must hold', { StringEquals: { 'aws:RequestTag/a': '1', 'aws:RequestTag/b': '2' } }, { 'aws:RequestTag/a': '1', 'aws:RequestTag/b': '2' }, true),
  cond('two keys under one operator: one fails', { StringEquals: { 'aws:RequestTag/a': '1', 'aws:RequestTag/b': '2' } }, { 'aws:RequestTag/a': '1', 'aws:RequestTag/b': '3' }, false),
  cond('two operators: both must hold', { StringEquals: { 'aws:RequestTag/a': '1' }, Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:RequestTag/a': '1', 'aws:SecureTransport': 'true' }, true),
  cond('two operators: one fails', { StringEquals: { 'aws:RequestTag/a': '1' }, Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:RequestTag/a': '1', 'aws:SecureTransport': 'false' }, false),
);

// --- Conditions: numbers, dates, booleans, binary, IPs, ARNs, Null ----------------------------
add(
  cond('NumericEquals', { NumericEquals: { 'aws:MultiFactorAuthAge': '300' } }, { 'aws:MultiFactorAuthAge': '300' }, true),
  cond('NumericEquals numbers compare as numbers', { NumericEquals: { 'aws:MultiFactorAuthAge': '300' } }, { 'aws:MultiFactorAuthAge': '300.0' }, true),
  cond('NumericNotEquals', { NumericNotEquals: { 'aws:MultiFactorAuthAge': '300' } }, { 'aws:MultiFactorAuthAge': '301' }, true),
  cond('NumericLessThan (user guide: MFA age under an hour)', { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } }, { 'aws:MultiFactorAuthAge': '1200' }, true),
  cond('NumericLessThan too old', { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } }, { 'aws:MultiFactorAuthAge': '3600' }, false),
  cond('NumericLessThanEquals boundary', { NumericLessThanEquals: { 'aws:MultiFactorAuthAge': '3600' } }, { 'aws:MultiFactorAuthAge': '3600' }, true),
  cond('NumericGreaterThan', { NumericGreaterThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '11' }, true),
  cond('NumericGreaterThan equal is false', { NumericGreaterThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '10' }, false),
  cond('NumericGreaterThanEquals', { NumericGreaterThanEquals: { 's3:max-keys': '10' } }, { 's3:max-keys': '10' }, true),
  cond('Numeric with a non-number request value is false', { NumericGreaterThan: { 's3:max-keys': '10' } }, { 's3:max-keys': 'many' }, false),
  cond('Numeric key missing is false', { NumericLessThan: { 'aws:MultiFactorAuthAge': '3600' } }, {}, false),
  cond('NumericLessThanIfExists key missing is true', { NumericLessThanIfExists: { 'aws:MultiFactorAuthAge': '3600' } }, {}, true),
  cond('DateLessThan (user guide: until a date)', { DateLessThan: { 'aws:CurrentTime': '2027-01-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, true),
  cond('DateLessThan after the date', { DateLessThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, false),
  cond('DateGreaterThan window open', { DateGreaterThan: { 'aws:CurrentTime': '2026-12-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, true),
  cond('Date window: both bounds', { DateGreaterThan: { 'aws:CurrentTime': '2026-12-01T00:00:00Z' }, DateLessThan: { 'aws:CurrentTime': '2026-12-03T00:00:00Z' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, true),
  cond('Date window: outside', { DateGreaterThan: { 'aws:CurrentTime': '2026-12-03T00:00:00Z' }, DateLessThan: { 'aws:CurrentTime': '2026-12-04T00:00:00Z' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, false),
  cond('DateEquals with epoch seconds', { DateEquals: { 'aws:EpochTime': '1796198400' } }, { 'aws:EpochTime': '1796198400' }, true),
  cond('Date compares epoch with ISO', { DateLessThan: { 'aws:CurrentTime': '1893456000' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, true),
  cond('DateNotEquals', { DateNotEquals: { 'aws:CurrentTime': '2026-12-02T08:00:00Z' } }, { 'aws:CurrentTime': '2026-12-02T08:00:01Z' }, true),
  cond('DateLessThanEquals boundary', { DateLessThanEquals: { 'aws:CurrentTime': '2026-12-02T08:00:00Z' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, true),
  cond('DateGreaterThanEquals boundary', { DateGreaterThanEquals: { 'aws:CurrentTime': '2026-12-02T08:00:00Z' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, true),
  cond('Date with an unparsable value is false', { DateLessThan: { 'aws:CurrentTime': 'tomorrow' } }, { 'aws:CurrentTime': '2026-12-02T08:00:00Z' }, false),
  cond('Bool true (user guide: require TLS)', { Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:SecureTransport': 'true' }, true),
  cond('Bool false', { Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:SecureTransport': 'false' }, false),
  cond('Bool given as a JSON boolean', { Bool: { 'aws:SecureTransport': true } }, { 'aws:SecureTransport': 'true' }, true),
  cond('Bool key missing is false', { Bool: { 'aws:MultiFactorAuthPresent': 'true' } }, {}, false),
  cond('BoolIfExists key missing is true (user guide: MFA IfExists)', { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } }, {}, true),
  cond('BinaryEquals', { BinaryEquals: { 'key': 'QmluYXJ5VmFsdWU=' } }, { key: 'QmluYXJ5VmFsdWU=' }, true),
  cond('BinaryEquals different', { BinaryEquals: { 'key': 'QmluYXJ5VmFsdWU=' } }, { key: 'T3RoZXI=' }, false),
  cond('IpAddress in a /24', { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }, { 'aws:SourceIp': '203.0.113.77' }, true),
  cond('IpAddress outside a /24', { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } }, { 'aws:SourceIp': '203.0.114.1' }, false),
  cond('IpAddress single address without a prefix', { IpAddress: { 'aws:SourceIp': '127.0.0.1' } }, { 'aws:SourceIp': '127.0.0.1' }, true),
  cond('IpAddress /32', { IpAddress: { 'aws:SourceIp': '127.0.0.1/32' } }, { 'aws:SourceIp': '127.0.0.2' }, false),
  cond('IpAddress /0 covers every IPv4', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }, { 'aws:SourceIp': '8.8.8.8' }, true),
  cond('IpAddress IPv6 range (user guide: both families)', { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:DB8:1234:5678::/64'] } }, { 'aws:SourceIp': '2001:db8:1234:5678::1' }, true),
  cond('IpAddress IPv6 outside', { IpAddress: { 'aws:SourceIp': '2001:DB8:1234:5678::/64' } }, { 'aws:SourceIp': '2001:db8:1234:5679::1' }, false),
  cond('IpAddress IPv4 request against an IPv6 range', { IpAddress: { 'aws:SourceIp': '::/0' } }, { 'aws:SourceIp': '10.0.0.1' }, false),
  cond('IpAddress with a malformed range matches nothing', { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } }, { 'aws:SourceIp': '10.0.0.1' }, false),
  cond('NotIpAddress outside', { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '192.168.1.1' }, true),
  cond('NotIpAddress inside', { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '10.1.2.3' }, false),
  cond('ArnEquals', { ArnEquals: { 'ecs:cluster': CLUSTER } }, { 'ecs:cluster': CLUSTER }, true),
  cond('ArnLike with wildcards', { ArnLike: { 'ecs:cluster': `arn:aws:ecs:*:${ACCT}:cluster/p*` } }, { 'ecs:cluster': CLUSTER }, true),
  cond('ArnLike not matching', { ArnLike: { 'ecs:cluster': `arn:aws:ecs:*:${ACCT}:cluster/d*` } }, { 'ecs:cluster': CLUSTER }, false),
  cond('ArnNotEquals', { ArnNotEquals: { 'ecs:cluster': OTHER_CLUSTER } }, { 'ecs:cluster': CLUSTER }, true),
  cond('ArnNotLike matching', { ArnNotLike: { 'ecs:cluster': `arn:aws:ecs:*:*:cluster/prod` } }, { 'ecs:cluster': CLUSTER }, false),
  cond('ArnLike key missing is false', { ArnLike: { 'ecs:cluster': '*' } }, {}, false),
  cond('ArnLikeIfExists key missing is true', { ArnLikeIfExists: { 'ecs:cluster': CLUSTER } }, {}, true),
  cond('Null true: key absent', { Null: { 'aws:RequestTag/env': 'true' } }, {}, true),
  cond('Null true: key present', { Null: { 'aws:RequestTag/env': 'true' } }, { 'aws:RequestTag/env': 'x' }, false),
  cond('Null false: key present (user guide: require a tag)', { Null: { 'aws:RequestTag/env': 'false' } }, { 'aws:RequestTag/env': 'x' }, true),
  cond('Null false: key absent', { Null: { 'aws:RequestTag/env': 'false' } }, {}, false),
  cond('Null on a multivalued key with no values is absent', { Null: { 'aws:TagKeys': 'true' } }, { 'aws:TagKeys': [] }, true),
);

// --- Conditions: multivalued keys (user guide: ForAllValues / ForAnyValue) ---------------------
add(
  cond('ForAllValues: every tag key allowed', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env', 'team'] } }, { 'aws:TagKeys': ['env', 'team'] }, true),
  cond('ForAllValues: a subset', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env', 'team'] } }, { 'aws:TagKeys': ['env'] }, true),
  cond('ForAllValues: one key not allowed', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env', 'team'] } }, { 'aws:TagKeys': ['env', 'cost'] }, false),
  cond('ForAllValues: key missing is true (as documented)', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] } }, {}, true),
  cond('ForAllValues: empty set is true', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] } }, { 'aws:TagKeys': [] }, true),
  cond('ForAnyValue: one key matches', { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env'] } }, { 'aws:TagKeys': ['cost', 'env'] }, true),
  cond('ForAnyValue: none matches', { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env'] } }, { 'aws:TagKeys': ['cost', 'team'] }, false),
  cond('ForAnyValue: key missing is false', { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['env'] } }, {}, false),
  cond('ForAnyValue:StringLike', { 'ForAnyValue:StringLike': { 'aws:TagKeys': ['cost*'] } }, { 'aws:TagKeys': ['env', 'costcenter'] }, true),
  cond('ForAllValues:StringLike', { 'ForAllValues:StringLike': { 'aws:TagKeys': ['app-*'] } }, { 'aws:TagKeys': ['app-a', 'app-b'] }, true),
  cond('ForAllValues:StringLike one outside', { 'ForAllValues:StringLike': { 'aws:TagKeys': ['app-*'] } }, { 'aws:TagKeys': ['app-a', 'env'] }, false),
  cond('ForAnyValue:StringNotEquals: one value differs', { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['env'] } }, { 'aws:TagKeys': ['env', 'team'] }, true),
  cond('ForAnyValue:StringNotEquals: all are listed', { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['env'] } }, { 'aws:TagKeys': ['env'] }, false),
  cond('ForAllValues:StringNotEquals: none listed', { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['secret'] } }, { 'aws:TagKeys': ['env', 'team'] }, true),
  cond('ForAllValues:StringNotEquals: one listed', { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['secret'] } }, { 'aws:TagKeys': ['env', 'secret'] }, false),
  cond('ForAllValues + Null false: at least one and only allowed (user guide pattern)', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['env'] }, Null: { 'aws:TagKeys': 'false' } }, {}, false),
  cond('single-valued operator on a multivalued key: any value', { StringEquals: { 'aws:TagKeys': 'env' } }, { 'aws:TagKeys': ['team', 'env'] }, true),
  cond('ForAnyValue:StringEqualsIgnoreCase', { 'ForAnyValue:StringEqualsIgnoreCase': { 'aws:TagKeys': ['ENV'] } }, { 'aws:TagKeys': ['env'] }, true),
);

// --- Permissions boundaries and session policies ---------------------------------------------
add(
  { name: 'boundary allows and identity allows: allowed (the intersection)', identity: [[allow('ecs:*')]], boundary: [allow('ecs:RunTask')], expect: 'identity-allow' },
  { name: 'boundary does not allow: denied though identity allows', identity: [[allow('*')]], boundary: [allow('ssm:*')], expect: 'no-boundary-allow' },
  { name: 'boundary allows but identity does not', identity: [[allow('ssm:*')]], boundary: [allow('*')], expect: 'no-identity-allow' },
  { name: 'boundary limited to a resource', identity: [[allow('ecs:*')]], boundary: [allow('ecs:*', OTHER_CLUSTER)], expect: 'no-boundary-allow' },
  { name: 'boundary limited to the resource asked', identity: [[allow('ecs:*')]], boundary: [allow('ecs:*', CLUSTER)], expect: 'identity-allow' },
  { name: 'boundary with a condition that holds', keys: { 'aws:RequestedRegion': 'us-east-1' }, identity: [[allow('ecs:*')]], boundary: [allow('*', '*', { Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } } })], expect: 'identity-allow' },
  { name: 'boundary with a condition that fails', keys: { 'aws:RequestedRegion': 'eu-west-1' }, identity: [[allow('ecs:*')]], boundary: [allow('*', '*', { Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } } })], expect: 'no-boundary-allow' },
  { name: 'boundary with NotAction (user guide: all but IAM)', action: 'iam:CreateUser', resourceArn: '*', identity: [[allow('*')]], boundary: [{ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }], expect: 'no-boundary-allow' },
  { name: 'boundary with NotAction leaves others', identity: [[allow('*')]], boundary: [{ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }], expect: 'identity-allow' },
  { name: 'a resource-policy allow naming the user is not limited by the boundary', identity: [], boundary: [allow('ssm:*')], resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'ecs:RunTask', Resource: '*' }], expect: 'resource-allow' },
  { name: 'session policy narrows the role', identity: [[allow('*')]], session: [[allow('ecs:Describe*')]], expect: 'no-session-allow' },
  { name: 'session policy allows within the role', identity: [[allow('ecs:*')]], session: [[allow('ecs:RunTask')]], expect: 'identity-allow' },
  { name: 'session policy cannot widen the role', identity: [[allow('ssm:*')]], session: [[allow('*')]], expect: 'no-identity-allow' },
  { name: 'two session policies: one allows', identity: [[allow('*')]], session: [[allow('ssm:*')], [allow('ecs:RunTask')]], expect: 'identity-allow' },
  { name: 'empty session policy list applies no limit', identity: [[allow('*')]], session: [], expect: 'identity-allow' },
  { name: 'boundary and session both required', identity: [[allow('*')]], boundary: [allow('*')], session: [[allow('ssm:*')]], expect: 'no-session-allow' },
);

// --- Resource-based and trust policies -------------------------------------------------------
const SESSION = `arn:aws:sts::${ACCT}:assumed-role/deployer/ci`;
const ROLE = `arn:aws:iam::${ACCT}:role/deployer`;
add(
  { name: 'resource policy naming the user allows without an identity policy', resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'ecs:RunTask', Resource: '*' }], expect: 'resource-allow' },
  { name: 'resource policy naming the account delegates to IAM: no identity allow', resource: [{ Effect: 'Allow', Principal: { AWS: ACCT }, Action: 'ecs:RunTask', Resource: '*' }], expect: 'no-identity-allow' },
  { name: 'resource policy naming the account root delegates: identity allows', identity: [[allow('ecs:RunTask')]], resource: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCT}:root` }, Action: 'ecs:RunTask', Resource: '*' }], expect: 'identity-allow' },
  { name: 'resource policy with Principal * allows', resource: [{ Effect: 'Allow', Principal: '*', Action: 'ecs:RunTask', Resource: '*' }], expect: 'resource-allow' },
  { name: 'resource policy with Principal {AWS: *} allows', resource: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'ecs:RunTask', Resource: '*' }], expect: 'resource-allow' },
  { name: 'resource policy for another user does not allow', resource: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCT}:user/bob` }, Action: '*', Resource: '*' }], expect: 'no-identity-allow' },
  { name: 'resource policy for another action does not allow', resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'ecs:StopTask', Resource: '*' }], expect: 'no-identity-allow' },
  { name: 'resource policy with a failing condition does not allow', keys: { 'aws:SourceIp': '10.0.0.1' }, resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: '*', Resource: '*', Condition: { IpAddress: { 'aws:SourceIp': '192.168.0.0/16' } } }], expect: 'no-identity-allow' },
  { name: 'resource policy NotPrincipal deny spares the named user', identity: [[allow('*')]], resource: [{ Effect: 'Deny', NotPrincipal: { AWS: ALICE }, Action: '*', Resource: '*' }], expect: 'identity-allow' },
  { name: 'resource policy NotPrincipal deny hits others', principal: { arn: `arn:aws:iam::${ACCT}:user/bob` }, identity: [[allow('*')]], resource: [{ Effect: 'Deny', NotPrincipal: { AWS: ALICE }, Action: '*', Resource: '*' }], expect: 'explicit-deny-resource' },
  { name: 'resource policy naming the role matches its session', principal: { arn: SESSION, roleArn: ROLE }, resource: [{ Effect: 'Allow', Principal: { AWS: ROLE }, Action: '*', Resource: '*' }], expect: 'resource-allow' },
  { name: 'resource policy naming the session ARN matches it', principal: { arn: SESSION, roleArn: ROLE }, resource: [{ Effect: 'Allow', Principal: { AWS: SESSION }, Action: '*', Resource: '*' }], expect: 'resource-allow' },
  { name: 'resource policy naming another role does not match', principal: { arn: SESSION, roleArn: ROLE }, resource: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCT}:role/other` }, Action: '*', Resource: '*' }], expect: 'no-identity-allow' },
  { name: 'trust policy: service principal', action: 'sts:AssumeRole', resourceArn: ROLE, principal: { arn: 'ecs-tasks.amazonaws.com', service: 'ecs-tasks.amazonaws.com' }, resource: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }], expect: 'resource-allow' },
  { name: 'trust policy: another service principal', action: 'sts:AssumeRole', resourceArn: ROLE, principal: { arn: 'lambda.amazonaws.com', service: 'lambda.amazonaws.com' }, resource: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }], expect: 'no-identity-allow' },
  { name: 'trust policy: a named user may assume', action: 'sts:AssumeRole', resourceArn: ROLE, resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'sts:AssumeRole' }], expect: 'resource-allow' },
  { name: 'trust policy: the account, with identity sts:AssumeRole', action: 'sts:AssumeRole', resourceArn: ROLE, identity: [[allow('sts:AssumeRole', ROLE)]], resource: [{ Effect: 'Allow', Principal: { AWS: ACCT }, Action: 'sts:AssumeRole' }], expect: 'identity-allow' },
  { name: 'trust policy: the account, without identity permission', action: 'sts:AssumeRole', resourceArn: ROLE, resource: [{ Effect: 'Allow', Principal: { AWS: ACCT }, Action: 'sts:AssumeRole' }], expect: 'no-identity-allow' },
  { name: 'trust policy: wrong action (TagSession only)', action: 'sts:AssumeRole', resourceArn: ROLE, resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'sts:TagSession' }], expect: 'no-identity-allow' },
  { name: 'trust policy: condition on sts:ExternalId holds', action: 'sts:AssumeRole', resourceArn: ROLE, keys: { 'sts:ExternalId': 'abc' }, resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'abc' } } }], expect: 'resource-allow' },
  { name: 'trust policy: condition on sts:ExternalId fails', action: 'sts:AssumeRole', resourceArn: ROLE, resource: [{ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'abc' } } }], expect: 'no-identity-allow' },
);

// --- iam:PassRole and service-specific keys ---------------------------------------------------
add(
  { name: 'PassRole on the role (user guide: pass a role to ECS tasks)', action: 'iam:PassRole', resourceArn: ROLE, keys: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }, identity: [[allow('iam:PassRole', ROLE, { Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } })]], expect: 'identity-allow' },
  { name: 'PassRole to another service refused', action: 'iam:PassRole', resourceArn: ROLE, keys: { 'iam:PassedToService': 'ec2.amazonaws.com' }, identity: [[allow('iam:PassRole', ROLE, { Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } })]], expect: 'no-identity-allow' },
  { name: 'PassRole on another role refused', action: 'iam:PassRole', resourceArn: `arn:aws:iam::${ACCT}:role/admin`, identity: [[allow('iam:PassRole', ROLE)]], expect: 'no-identity-allow' },
  { name: 'ecs:cluster condition on RunTask (user guide: tasks only in one cluster)', keys: { 'ecs:cluster': CLUSTER }, resourceArn: `arn:aws:ecs:us-east-1:${ACCT}:task-definition/web:1`, identity: [[allow('ecs:RunTask', '*', { Condition: { ArnEquals: { 'ecs:cluster': CLUSTER } } })]], expect: 'identity-allow' },
  { name: 'ecs:cluster condition on RunTask, other cluster', keys: { 'ecs:cluster': OTHER_CLUSTER }, resourceArn: `arn:aws:ecs:us-east-1:${ACCT}:task-definition/web:1`, identity: [[allow('ecs:RunTask', '*', { Condition: { ArnEquals: { 'ecs:cluster': CLUSTER } } })]], expect: 'no-identity-allow' },
  { name: 'Describe on one cluster only (issue 17 scenario)', action: 'ecs:DescribeClusters', resourceArn: CLUSTER, identity: [[allow('ecs:Describe*', CLUSTER)]], expect: 'identity-allow' },
  { name: 'Describe on one cluster only: the other cluster', action: 'ecs:DescribeClusters', resourceArn: OTHER_CLUSTER, identity: [[allow('ecs:Describe*', CLUSTER)]], expect: 'no-identity-allow' },
  { name: 'Describe on one cluster only: RunTask', identity: [[allow('ecs:Describe*', CLUSTER)]], expect: 'no-identity-allow' },
  { name: 'aws:RequestedRegion restricts regions', keys: { 'aws:RequestedRegion': 'eu-west-1' }, identity: [[allow('*'), deny('*', '*', { Condition: { StringNotEquals: { 'aws:RequestedRegion': ['us-east-1', 'us-west-2'] } } })]], expect: 'explicit-deny-identity' },
  { name: 'aws:RequestedRegion allowed region', keys: { 'aws:RequestedRegion': 'us-west-2' }, identity: [[allow('*'), deny('*', '*', { Condition: { StringNotEquals: { 'aws:RequestedRegion': ['us-east-1', 'us-west-2'] } } })]], expect: 'identity-allow' },
  { name: 'aws:PrincipalArn condition', identity: [[allow('*', '*', { Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCT}:user/a*` } } })]], expect: 'identity-allow' },
  { name: 'deny unless tagged on create (require-tag pattern)', action: 'ecs:CreateService', identity: [[allow('*'), deny('ecs:CreateService', '*', { Condition: { Null: { 'aws:RequestTag/team': 'true' } } })]], expect: 'explicit-deny-identity' },
  { name: 'deny unless tagged on create: tagged', action: 'ecs:CreateService', keys: { 'aws:RequestTag/team': 'blue' }, identity: [[allow('*'), deny('ecs:CreateService', '*', { Condition: { Null: { 'aws:RequestTag/team': 'true' } } })]], expect: 'identity-allow' },
);

test(`policy evaluation table (${cases.length} cases)`, () => {
  assert.ok(cases.length >= 200, `at least 200 cases (have ${cases.length})`);
  const failures: string[] = [];
  for (const c of cases) {
    const d = run(c);
    if (d.reason !== c.expect || d.allowed !== (c.expect === 'identity-allow' || c.expect === 'resource-allow')) failures.push(`${c.name}: expected ${c.expect}, got ${d.reason}`);
  }
  assert.deepEqual(failures, []);
});

test('access-denied messages take AWS\'s form', () => {
  const req: AuthzRequest = { principal: { arn: ALICE, accountId: ACCT }, action: 'ecs:RunTask', resource: CLUSTER, keys: new Map() };
  assert.equal(accessDeniedMessage(req, 'no-identity-allow'), `User: ${ALICE} is not authorized to perform: ecs:RunTask on resource: ${CLUSTER} because no identity-based policy allows the ecs:RunTask action`);
  assert.equal(accessDeniedMessage(req, 'explicit-deny-identity'), `User: ${ALICE} is not authorized to perform: ecs:RunTask on resource: ${CLUSTER} with an explicit deny in an identity-based policy`);
  assert.equal(accessDeniedMessage({ ...req, resource: '*' }, 'no-boundary-allow'), `User: ${ALICE} is not authorized to perform: ecs:RunTask because no permissions boundary allows the ecs:RunTask action`);
});

const malformedCases: Array<[string, unknown, PolicyKind, RegExp]> = [
  ['not JSON', '{', 'identity', /not valid JSON/],
  ['an array', [], 'identity', /JSON object/],
  ['no Statement', { Version: '2012-10-17' }, 'identity', /no Statement/],
  ['empty Statement list', { Version: '2012-10-17', Statement: [] }, 'identity', /empty/],
  ['bad Version', { Version: '2020-01-01', Statement: [allow('*')] }, 'identity', /Version/],
  ['unknown top element', { Version: '2012-10-17', Statement: [allow('*')], Extra: 1 }, 'identity', /unknown element Extra/],
  ['bad Effect', { Statement: [{ Effect: 'Maybe', Action: '*', Resource: '*' }] }, 'identity', /Effect/],
  ['Action and NotAction', { Statement: [{ Effect: 'Allow', Action: '*', NotAction: '*', Resource: '*' }] }, 'identity', /exactly one of Action and NotAction/],
  ['no Action', { Statement: [{ Effect: 'Allow', Resource: '*' }] }, 'identity', /exactly one of Action/],
  ['action without a service', { Statement: [{ Effect: 'Allow', Action: 'RunTask', Resource: '*' }] }, 'identity', /service:Action/],
  ['empty action list', { Statement: [{ Effect: 'Allow', Action: [], Resource: '*' }] }, 'identity', /non-empty list/],
  ['resource not an ARN', { Statement: [{ Effect: 'Allow', Action: '*', Resource: 'cluster/prod' }] }, 'identity', /ARN format/],
  ['identity policy without resources', { Statement: [{ Effect: 'Allow', Action: '*' }] }, 'identity', /must contain resources/],
  ['identity policy with a Principal', { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', Principal: '*' }] }, 'identity', /prohibited field Principal/],
  ['trust policy without Principal', { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] }, 'trust', /Principal/],
  ['trust policy with a Resource', { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: '*', Resource: '*' }] }, 'trust', /prohibited field Resource/],
  ['bad principal kind', { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Robot: 'x' } }] }, 'trust', /principal kind/],
  ['unknown condition operator', { Statement: [allow('*', '*', { Condition: { StringRoughly: { k: 'v' } } })] }, 'identity', /condition operator/],
  ['NullIfExists is not an operator', { Statement: [allow('*', '*', { Condition: { NullIfExists: { k: 'true' } } })] }, 'identity', /condition operator/],
  ['condition values of the wrong type', { Statement: [allow('*', '*', { Condition: { StringEquals: { k: { nested: 1 } } } })] }, 'identity', /must be strings/],
  ['duplicate Sid', { Version: '2012-10-17', Statement: [allow('*', '*', { Sid: 'A' }), allow('*', '*', { Sid: 'A' })] }, 'identity', /unique/],
  ['Sid with punctuation', { Version: '2012-10-17', Statement: [allow('*', '*', { Sid: 'a-b' })] }, 'identity', /Sid/],
  ['unknown statement element', { Statement: [allow('*', '*', { Actions: '*' })] }, 'identity', /unknown element Actions/],
  ['too large', { Statement: [allow('*', 'arn:' + 'x'.repeat(140_000))] }, 'identity', /longer than/],
];
test('malformed policy documents are refused with MalformedPolicyDocument, saying why', () => {
  for (const [name, doc, kind, message] of malformedCases) {
    const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
    assert.throws(
      () => compilePolicy(text, kind),
      (e: unknown) => e instanceof ServiceError && e.code === 'MalformedPolicyDocument' && message.test(e.message),
      name,
    );
  }
});

test('patterns in policies match in linear time (no backtracking on hostile ARNs)', () => {
  const p = compilePolicy(JSON.stringify({ Statement: [allow('*', `arn:${'*a'.repeat(40)}b`)] }), 'identity');
  const d = evaluate({ principal: { arn: ALICE, accountId: ACCT }, action: 'ecs:RunTask', resource: `arn:${'a'.repeat(2000)}`, keys: new Map() }, { identity: [p] });
  // A backtracking matcher would not finish this within the runner's timeout; a linear one is instant.
  assert.equal(d.allowed, false);
});
