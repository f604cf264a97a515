// Fn::ImportValue with a name computed from parameters (`!Sub '${EnvironmentName}:VpcId'`, as
// the nathanpeck templates import each other's exports): the stack worker resolves it as
// CloudFormation does, the importing stack gets the value, ListImports names it, and the exporting
// stack cannot be deleted while it is imported. A name no export has fails the resource naming it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { aws, awsOk, eventually, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { withFastWaiters } from '../helpers/awsWaiters.js';

let berth: TestBerth;
let env: NodeJS.ProcessEnv;
before(async () => {
  berth = await startTestBerth();
  env = withFastWaiters(berth.awsEnv);
});
after(async () => {
  await berth.close();
});

const exporter = JSON.stringify({
  Parameters: { EnvironmentName: { Type: 'String' } },
  Resources: { Value: { Type: 'AWS::SSM::Parameter', Properties: { Type: 'String', Value: 'from-exporter' } } },
  Outputs: { Name: { Value: { Ref: 'Value' }, Export: { Name: { 'Fn::Sub': '${EnvironmentName}:ParameterName' } } } },
});
const importer = `
Parameters:
  EnvironmentName:
    Type: String
Resources:
  Copy:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub /copy/\${EnvironmentName}
      Type: String
      Value:
        Fn::ImportValue: !Sub \${EnvironmentName}:ParameterName
`;

test('an import whose name is a !Sub of a parameter resolves in the worker; a missing one fails naming it', { skip: !hasAwsCli() && 'aws CLI not installed' }, async () => {
  await awsOk(env, ['cloudformation', 'create-stack', '--stack-name', 'exp', '--template-body', exporter, '--parameters', 'ParameterKey=EnvironmentName,ParameterValue=blue']);
  assert.equal((await aws(env, ['cloudformation', 'wait', 'stack-create-complete', '--stack-name', 'exp'])).status, 0);
  const exported = (await awsOk(env, ['cloudformation', 'list-exports'])).Exports as Array<{ Name: string; Value: string }>;
  const name = exported.find((e) => e.Name === 'blue:ParameterName')!.Value;

  await awsOk(env, ['cloudformation', 'create-stack', '--stack-name', 'imp', '--template-body', importer, '--parameters', 'ParameterKey=EnvironmentName,ParameterValue=blue']);
  const waited = await aws(env, ['cloudformation', 'wait', 'stack-create-complete', '--stack-name', 'imp']);
  const events = waited.status === 0 ? '' : (await aws(env, ['cloudformation', 'describe-stack-events', '--stack-name', 'imp'])).stdout;
  assert.equal(waited.status, 0, events);
  assert.equal((await awsOk(env, ['ssm', 'get-parameter', '--name', '/copy/blue'])).Parameter.Value, name);
  assert.deepEqual((await awsOk(env, ['cloudformation', 'list-imports', '--export-name', 'blue:ParameterName'])).Imports, ['imp']);
  const refused = await aws(env, ['cloudformation', 'delete-stack', '--stack-name', 'exp']);
  const stillThere = (await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'exp'])).Stacks[0].StackStatus;
  assert.ok(refused.status !== 0 || /DELETE_FAILED|CREATE_COMPLETE/.test(stillThere), 'the exporting stack stays while imported');

  // Another environment has no such export: the resource fails naming the export, and the stack rolls back.
  await awsOk(env, ['cloudformation', 'create-stack', '--stack-name', 'imp-green', '--template-body', importer, '--parameters', 'ParameterKey=EnvironmentName,ParameterValue=green']).catch((e: Error) => {
    // The API may refuse it up front, naming the export (as CloudFormation's change sets do).
    assert.match(e.message, /No export named green:ParameterName found/);
  });
  const green = await aws(env, ['cloudformation', 'describe-stack-events', '--stack-name', 'imp-green']);
  if (green.status === 0) {
    const status = await eventually(async () => {
      const st = (await awsOk(env, ['cloudformation', 'describe-stacks', '--stack-name', 'imp-green'])).Stacks[0].StackStatus as string;
      return !st.endsWith('_IN_PROGRESS') && st;
    }, { timeoutMs: 30_000, intervalMs: 200, what: 'imp-green to settle' });
    assert.equal(status, 'ROLLBACK_COMPLETE');
    const failed = (JSON.parse((await aws(env, ['cloudformation', 'describe-stack-events', '--stack-name', 'imp-green'])).stdout).StackEvents as Array<{ ResourceStatus: string; ResourceStatusReason?: string }>).filter((e) => e.ResourceStatus === 'CREATE_FAILED');
    assert.ok(failed.some((e) => /No export named green:ParameterName found/.test(e.ResourceStatusReason ?? '')), JSON.stringify(failed));
  }
  assert.match((await aws(env, ['ssm', 'get-parameter', '--name', '/copy/green'])).stderr, /ParameterNotFound/, 'nothing made for green');
});
