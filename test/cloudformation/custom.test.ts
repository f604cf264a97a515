// Custom resources backed by an ECS task, on a real Berth with a real agent (process driver: the
// task is `node -e` on this host): the ServiceToken is a task definition ARN; each request runs
// the task with the request JSON in CFN_CUSTOM_RESOURCE_REQUEST and the task PUTs its response to
// the presigned ResponseURL. Create, Update (OldResourceProperties; a new PhysicalResourceId makes
// the old one get a Delete) and Delete reach the task; GetAtt reads Data; FAILED, a task that
// exits without answering, no answer within ServiceTimeout and a Lambda ServiceToken fail the
// stack with the reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand, DescribeStackEventsCommand, DescribeStacksCommand, UpdateStackCommand } from '@aws-sdk/client-cloudformation';
import { ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { eventually } from '../helpers/fixture.js';
import { startCliBerth, type CliBerth } from '../cli/helpers.js';

/** The task: answers as ResourceProperties.Mode says, and logs each request to LogFile. */
const HANDLER = `
const q = JSON.parse(process.env.CFN_CUSTOM_RESOURCE_REQUEST);
const p = q.ResourceProperties;
require('fs').appendFileSync(p.LogFile, JSON.stringify({ type: q.RequestType, physical: q.PhysicalResourceId, name: p.Name, old: q.OldResourceProperties && q.OldResourceProperties.Name, resourceType: q.ResourceType, logical: q.LogicalResourceId }) + '\\n');
const answer = (r) => fetch(q.ResponseURL, { method: 'PUT', body: JSON.stringify(r) }).then((res) => { if (res.status !== 200) process.exit(3); });
if (p.Mode === 'fail') answer({ Status: 'FAILED', Reason: 'the greeter refuses ' + p.Name, PhysicalResourceId: 'none' });
else if (p.Mode === 'silent') process.exit(7);
else if (p.Mode === 'hang') setInterval(() => {}, 1000);
else answer({ Status: 'SUCCESS', PhysicalResourceId: 'thing-' + p.Name, Data: { Greeting: 'hello ' + p.Name, Seen: q.RequestType } });
`;

let cb: CliBerth;
let cfn: CloudFormationClient;
let dir: string;
before(async () => {
  cb = await startCliBerth();
  cfn = new CloudFormationClient(cb.berth.clientConfig);
  dir = mkdtempSync(join(tmpdir(), 'berth-cfn-custom-'));
});
after(async () => {
  await cb.close();
  rmSync(dir, { recursive: true, force: true });
});

function template(props: Record<string, unknown>, token: unknown = { Ref: 'Handler' }): string {
  return JSON.stringify({
    Resources: {
      Handler: { Type: 'AWS::ECS::TaskDefinition', Properties: { ContainerDefinitions: [{ Name: 'handler', Image: 'host', Memory: 32, Command: [process.execPath, '-e', HANDLER] }] } },
      Greeter: { Type: 'Custom::Greeter', Properties: { ServiceToken: token, LogFile: join(dir, 'requests.log'), ServiceTimeout: 60, ...props } },
    },
    Outputs: { Greeting: { Value: { 'Fn::GetAtt': ['Greeter', 'Greeting'] } }, Id: { Value: { Ref: 'Greeter' } } },
  });
}

const stack = async (name: string) => (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks![0]!;
const settled = (name: string, status: string) =>
  eventually(async () => {
    const s = await stack(name).catch((e) => (/does not exist/.test(String(e)) ? { StackStatus: 'DELETE_COMPLETE', StackStatusReason: '' } : Promise.reject(e)));
    return !/_IN_PROGRESS$/.test(s.StackStatus!) && s;
  }, { timeoutMs: 30_000, what: `${name} to settle` }).then((s) => {
    assert.equal(s.StackStatus, status, s.StackStatusReason);
    return s as Awaited<ReturnType<typeof stack>>;
  });
const output = (s: Awaited<ReturnType<typeof stack>>, key: string) => s.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
const failureReasons = async (name: string) => ((await cfn.send(new DescribeStackEventsCommand({ StackName: name }))).StackEvents ?? []).filter((e) => e.ResourceStatus === 'CREATE_FAILED').map((e) => e.ResourceStatusReason ?? '');
const requests = () => readFileSync(join(dir, 'requests.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('Create, Update and Delete run the task; GetAtt reads Data; a new PhysicalResourceId gets the old one a Delete', async () => {
  await cfn.send(new CreateStackCommand({ StackName: 'greeter', TemplateBody: template({ Name: 'world' }) }));
  const created = await settled('greeter', 'CREATE_COMPLETE');
  assert.equal(output(created, 'Greeting'), 'hello world');
  assert.equal(output(created, 'Id'), 'thing-world');

  await cfn.send(new UpdateStackCommand({ StackName: 'greeter', TemplateBody: template({ Name: 'berth' }) }));
  const updated = await settled('greeter', 'UPDATE_COMPLETE');
  assert.equal(output(updated, 'Greeting'), 'hello berth');
  assert.equal(output(updated, 'Id'), 'thing-berth');

  await cfn.send(new DeleteStackCommand({ StackName: 'greeter' }));
  await settled('greeter', 'DELETE_COMPLETE');
  assert.deepEqual(
    requests().map((r) => [r.type, r.physical ?? null, r.name, r.old ?? null]),
    [
      ['Create', null, 'world', null],
      ['Update', 'thing-world', 'berth', 'world'],
      ['Delete', 'thing-world', 'world', null],
      ['Delete', 'thing-berth', 'berth', null],
    ],
  );
  assert.ok(requests().every((r) => r.resourceType === 'Custom::Greeter' && r.logical === 'Greeter'));
});

test('FAILED, a task that exits without answering, no answer within ServiceTimeout and a Lambda ServiceToken roll the stack back with the reason', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['refused', template({ Name: 'x', Mode: 'fail' }), /Received response status \[FAILED\] from custom resource. Message returned: the greeter refuses x/],
    ['silent', template({ Name: 'x', Mode: 'silent' }), /stopped without sending a response .*exited with code 7/],
    ['hangs', template({ Name: 'x', Mode: 'hang', ServiceTimeout: 2 }), /did not receive a response from your Custom Resource within 2 s/],
    ['lambda', template({ Name: 'x' }, 'arn:aws:lambda:us-east-1:123456789012:function:greeter'), /is a Lambda function, and Berth has no Lambda.*ECS task definition/],
  ];
  await Promise.all(cases.map(([name, body]) => cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: body }))));
  for (const [name, , reason] of cases) {
    await settled(name, 'ROLLBACK_COMPLETE');
    const reasons = await failureReasons(name);
    assert.ok(reasons.some((r) => reason.test(r)), `${name}: ${reasons.join(' | ')}`);
  }
  // The task that never answered was stopped at its timeout.
  const ecs = new ECSClient(cb.berth.clientConfig);
  assert.deepEqual((await ecs.send(new ListTasksCommand({ cluster: 'default', desiredStatus: 'RUNNING' }))).taskArns, []);
});
