// The template engine on plain data: YAML short forms, checks with the place of the problem,
// parameters, conditions, every intrinsic, the dependency graph and the resource schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplateBody } from '../../src/domain/cloudformation/template/parse.js';
import { checkTemplate } from '../../src/domain/cloudformation/template/template.js';
import { evaluate, cidr, type EvalContext } from '../../src/domain/cloudformation/template/evaluate.js';
import { resolveParameters } from '../../src/domain/cloudformation/template/parameters.js';
import { dependencyOrder } from '../../src/domain/cloudformation/template/graph.js';
import { compareProperties } from '../../src/domain/cloudformation/template/spec.js';
import { includedResources, readTemplate, requiredCapabilities, stackContext } from '../../src/domain/cloudformation/engine.js';

const YAML = `
AWSTemplateFormatVersion: 2010-09-09
Parameters:
  Env: { Type: String, AllowedValues: [dev, prod], Default: dev }
  Subnets: { Type: CommaDelimitedList, Default: "a,b" }
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
Mappings:
  Sizes: { dev: { Mem: 256 }, prod: { Mem: 1024 } }
Resources:
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub '\${AWS::StackName}-\${Env}'
      RetentionInDays: !If [IsProd, 30, !Ref AWS::NoValue]
  Param:
    Type: AWS::SSM::Parameter
    Condition: IsProd
    Properties: { Type: String, Value: !GetAtt Group.Arn }
  Other:
    Type: AWS::SSM::Parameter
    DependsOn: Group
    Properties:
      Type: String
      Value: !Join [',', [!Select [1, !Ref Subnets], !FindInMap [Sizes, !Ref Env, Mem], !Base64 hi]]
Outputs:
  Name: { Value: !Ref Group, Export: { Name: !Sub '\${AWS::StackName}-group' } }
`;

function ctxFor(t: ReturnType<typeof readTemplate>, params: Record<string, string | string[]>): EvalContext {
  return stackContext(t, {
    identity: { stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/s/1', stackName: 's', region: 'us-east-1', accountId: '123456789012' },
    parameters: new Map(Object.entries(params)),
    resources: (id) => (id === 'Group' ? { ref: 's-dev', attributes: { Arn: 'arn:aws:logs:us-east-1:123456789012:log-group:s-dev:*' } } : undefined),
    importValue: () => undefined,
  });
}

test('YAML short forms become their long forms; GetAtt splits at the first dot', () => {
  const doc = parseTemplateBody('Resources:\n  A:\n    Type: AWS::SSM::Parameter\n    Properties: { Value: !GetAtt B.Endpoint.Address, Type: !Sub ["${X}", { X: !Ref C }] }\n');
  assert.deepEqual((doc.Resources as any).A.Properties, { Value: { 'Fn::GetAtt': ['B', 'Endpoint.Address'] }, Type: { 'Fn::Sub': ['${X}', { X: { Ref: 'C' } }] } });
});

test('a repeated YAML key keeps its last value, as CloudFormation does', () => {
  const doc = parseTemplateBody('Parameters:\n  P:\n    Description: first\n    Type: String\n    Description: last\nResources: {}\n');
  assert.deepEqual(doc.Parameters, { P: { Description: 'last', Type: 'String' } });
});

test('intrinsics, conditions, mappings and pseudo parameters evaluate', () => {
  const t = readTemplate(YAML);
  const ctx = ctxFor(t, { Env: 'dev', Subnets: ['a', 'b'] });
  assert.deepEqual(includedResources(t, ctx), ['Group', 'Other']);
  assert.deepEqual(evaluate(t.Resources.Group!.Properties, ctx), { LogGroupName: 's-dev' });
  assert.deepEqual(evaluate(t.Resources.Other!.Properties, ctx), { Type: 'String', Value: 'b,256,aGk=' });
  const prod = ctxFor(t, { Env: 'prod', Subnets: ['a', 'b'] });
  assert.deepEqual(includedResources(t, prod), ['Group', 'Param', 'Other']);
  assert.equal((evaluate(t.Resources.Group!.Properties, prod) as any).RetentionInDays, 30);
  assert.equal(evaluate({ 'Fn::Sub': 'x-${!Literal}-${AWS::Region}' }, ctx), 'x-${Literal}-us-east-1');
  assert.deepEqual(evaluate({ 'Fn::GetAZs': '' }, ctx), ['us-east-1a', 'us-east-1b', 'us-east-1c']);
  assert.deepEqual(evaluate({ 'Fn::Split': [',', 'a,b,c'] }, ctx), ['a', 'b', 'c']);
  assert.equal(evaluate({ 'Fn::Length': [1, 2, 3] }, ctx), 3);
  assert.equal(evaluate({ 'Fn::ToJsonString': { a: { Ref: 'Env' } } }, ctx), '{"a":"dev"}');
  assert.deepEqual(cidr('10.0.0.0/16', 3, 8), ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']);
  assert.throws(() => evaluate({ 'Fn::Select': [5, ['a']] }, ctx), /Fn::Select index 5 is out of bounds/);
  assert.throws(() => evaluate({ 'Fn::GetAtt': ['Group', 'Nope'] }, ctx), /does not support attribute type Nope/);
});

test('malformed templates are ValidationErrors that say where', () => {
  assert.throws(() => parseTemplateBody('Resources:\n  A: [unclosed\n'), (e: any) => e.code === 'ValidationError' && /line \d+, column \d+/.test(e.message));
  assert.throws(() => parseTemplateBody('{"Resources": {,}}'), (e: any) => e.code === 'ValidationError' && /JSON not well-formed at line 1/.test(e.message));
  assert.throws(() => checkTemplate({ Resources: { A: { Properties: {} } } }), /\[\/Resources\/A\] Every Resources object must contain a Type member/);
  assert.throws(() => checkTemplate({ Resources: { A: { Type: 'AWS::SSM::Parameter', Properties: { V: { Ref: 'Missing' } } } } }), /Unresolved resource dependencies \[Missing\]/);
  assert.throws(() => checkTemplate({ Resources: {} }), /At least one Resources member must be defined/);
  assert.throws(() => checkTemplate({ Resources: { A: { Type: 'X' } }, Bogus: 1 }), /Invalid template property or properties \[Bogus\]/);
  assert.throws(() => readTemplate('{"Resources":{"A":{"Type":"AWS::Nope::Thing"}}}'), /Unrecognized resource types: \[AWS::Nope::Thing\]/);
  assert.throws(
    () => dependencyOrder({ A: { Properties: { x: { Ref: 'B' } } }, B: { Properties: { y: { 'Fn::GetAtt': ['A', 'Arn'] } } } }),
    /Circular dependency between resources: \[A, B\]/,
  );
});

test('parameters: types, AllowedValues, AllowedPattern (re2js), lengths, numbers, SSM types, missing values', async () => {
  const decls = {
    Env: { Type: 'String', AllowedValues: ['dev', 'prod'] },
    Name: { Type: 'String', AllowedPattern: '[a-z]+', MaxLength: 5, ConstraintDescription: 'lower-case letters, at most 5' },
    Count: { Type: 'Number', MinValue: 1, MaxValue: 3, Default: 2 },
    Ami: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/aws/ami' },
  };
  const lookupSsm = async (names: string[]) => new Map(names.filter((n) => n === '/aws/ami').map((n) => [n, 'ami-123']));
  const ok = await resolveParameters(decls, [{ ParameterKey: 'Env', ParameterValue: 'dev' }, { ParameterKey: 'Name', ParameterValue: 'abc' }], { lookupSsm });
  assert.equal(ok.values.get('Ami'), 'ami-123');
  assert.equal(ok.values.get('Count'), '2');
  await assert.rejects(resolveParameters(decls, [{ ParameterKey: 'Env', ParameterValue: 'qa' }, { ParameterKey: 'Name', ParameterValue: 'abc' }], { lookupSsm }), /Parameter 'Env' must be one of AllowedValues/);
  await assert.rejects(resolveParameters(decls, [{ ParameterKey: 'Env', ParameterValue: 'dev' }, { ParameterKey: 'Name', ParameterValue: 'ABC' }], { lookupSsm }), /failed to satisfy constraint: lower-case letters/);
  await assert.rejects(resolveParameters(decls, [{ ParameterKey: 'Env', ParameterValue: 'dev' }], { lookupSsm }), /Parameters: \[Name\] must have values/);
  await assert.rejects(resolveParameters(decls, [{ ParameterKey: 'Env', ParameterValue: 'dev' }, { ParameterKey: 'Name', ParameterValue: 'a' }, { ParameterKey: 'Count', ParameterValue: '9' }], { lookupSsm }), /not greater than 3/);
  await assert.rejects(resolveParameters(decls, [{ ParameterKey: 'Nope', ParameterValue: 'x' }], { lookupSsm }), /Parameters: \[Nope\] do not exist in the template/);
  await assert.rejects(resolveParameters({ ...decls, Ami: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/missing' } }, [{ ParameterKey: 'Env', ParameterValue: 'dev' }, { ParameterKey: 'Name', ParameterValue: 'a' }], { lookupSsm }), /Unable to fetch parameters \[\/missing\]/);
});

test('resource schemas decide replacement; IAM needs capabilities', () => {
  assert.deepEqual(compareProperties('AWS::ECS::Service', { Cluster: 'a', DesiredCount: 1 }, { Cluster: 'a', DesiredCount: 2 }), { changed: ['DesiredCount'], replacement: false });
  assert.equal(compareProperties('AWS::ECS::Service', { ServiceName: 'a' }, { ServiceName: 'b' }).replacement, true);
  assert.equal(compareProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 80 }, { Port: 81 }).replacement, true);
  assert.equal(compareProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/' }, { HealthCheckPath: '/x' }).replacement, false);
  const t = readTemplate('{"Resources":{"R":{"Type":"AWS::IAM::Role","Properties":{"RoleName":"x"}}}}');
  assert.equal(requiredCapabilities(t).capability, 'CAPABILITY_NAMED_IAM');
});
