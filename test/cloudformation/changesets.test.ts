// Change sets (create, describe, list, execute, delete; an empty one), ListImports, and nested
// stacks (AWS::CloudFormation::Stack) whose TemplateURL is a file:// URL inside the directory the
// Berth allows (BERTH_CFN_TEMPLATE_DIRS), with @aws-sdk/client-cloudformation v3 against a real Berth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  CreateStackCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStackResourceCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  ListChangeSetsCommand,
  ListImportsCommand,
  ListStacksCommand,
  UpdateStackCommand,
  type DescribeChangeSetOutput,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { SSMClient, GetParameterCommand, GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { errorOf, eventually, startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
let cfn: CloudFormationClient;
let ssm: SSMClient;
let allowed: string;
let elsewhere: string;
before(async () => {
  allowed = mkdtempSync(join(tmpdir(), 'cfn-templates-'));
  elsewhere = mkdtempSync(join(tmpdir(), 'cfn-elsewhere-'));
  berth = await startTestBerth({ env: { BERTH_CFN_TEMPLATE_DIRS: allowed } });
  cfn = new CloudFormationClient(berth.clientConfig);
  ssm = new SSMClient(berth.clientConfig);
});
after(async () => {
  cfn.destroy();
  ssm.destroy();
  await berth.close();
  rmSync(allowed, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

const param = (name: string, value: unknown, extra: Record<string, unknown> = {}) => ({ Type: 'AWS::SSM::Parameter', Properties: { Name: name, Type: 'String', Value: value }, ...extra });
const body = (resources: Record<string, unknown>, more: Record<string, unknown> = {}) => JSON.stringify({ Resources: resources, ...more });

/** The stack once no operation is in progress (undefined once it is gone). */
async function settled(name: string): Promise<Stack | undefined> {
  let last: Stack | undefined;
  await eventually(
    async () => {
      last = await cfn.send(new DescribeStacksCommand({ StackName: name })).then(
        (o) => o.Stacks![0],
        (e) => (/does not exist/.test(e.message) ? undefined : Promise.reject(e)),
      );
      return !last || !/_IN_PROGRESS$/.test(last.StackStatus!);
    },
    { what: `${name} to settle`, timeoutMs: 30_000, intervalMs: 50 },
  );
  return last;
}

async function changeSet(stack: string, name: string): Promise<DescribeChangeSetOutput> {
  let out: DescribeChangeSetOutput | undefined;
  await eventually(async () => {
    out = await cfn.send(new DescribeChangeSetCommand({ StackName: stack, ChangeSetName: name }));
    return !/PENDING|IN_PROGRESS/.test(out.Status!);
  }, { what: `change set ${name}` });
  return out!;
}

const changes = (cs: DescribeChangeSetOutput) =>
  (cs.Changes ?? []).map((c) => [c.ResourceChange!.LogicalResourceId, c.ResourceChange!.Action, c.ResourceChange!.Replacement ?? '-']).sort((a, b) => String(a[0]).localeCompare(String(b[0])));

test('change sets: create on a new stack, describe, list, execute; an update one with Modify/Replace/Remove, deleted; an empty one fails with the reason', async () => {
  const v1 = body({ Keep: param('/cs/keep', 'v1'), Renamed: param('/cs/old-name', 'x'), Dropped: param('/cs/dropped', 'y') });
  const created = await cfn.send(new CreateChangeSetCommand({ StackName: 'cs', ChangeSetName: 'first', ChangeSetType: 'CREATE', TemplateBody: v1 }));
  assert.match(created.Id!, /^arn:aws:cloudformation:us-east-1:\d{12}:changeSet\/first\//);
  assert.match(created.StackId!, /:stack\/cs\//);
  const first = await changeSet('cs', 'first');
  assert.equal(first.Status, 'CREATE_COMPLETE');
  assert.equal(first.ExecutionStatus, 'AVAILABLE');
  assert.deepEqual(changes(first), [['Dropped', 'Add', '-'], ['Keep', 'Add', '-'], ['Renamed', 'Add', '-']]);
  assert.equal((await cfn.send(new DescribeStacksCommand({ StackName: 'cs' }))).Stacks![0]!.StackStatus, 'REVIEW_IN_PROGRESS');
  const listed = (await cfn.send(new ListChangeSetsCommand({ StackName: 'cs' }))).Summaries ?? [];
  assert.deepEqual(listed.map((s) => [s.ChangeSetName, s.Status, s.ExecutionStatus]), [['first', 'CREATE_COMPLETE', 'AVAILABLE']]);

  await cfn.send(new ExecuteChangeSetCommand({ StackName: 'cs', ChangeSetName: 'first' }));
  assert.equal((await settled('cs'))!.StackStatus, 'CREATE_COMPLETE');
  assert.equal((await ssm.send(new GetParameterCommand({ Name: '/cs/keep' }))).Parameter!.Value, 'v1');
  // Executed: as on AWS, the stack's change sets are gone with it.
  assert.deepEqual((await cfn.send(new ListChangeSetsCommand({ StackName: 'cs' }))).Summaries ?? [], []);
  assert.equal((await errorOf(cfn.send(new ExecuteChangeSetCommand({ StackName: 'cs', ChangeSetName: 'first' })))).name, 'ChangeSetNotFoundException');

  // An update: a value changed in place, a name changed (a replacement), a resource removed.
  const v2 = body({ Keep: param('/cs/keep', 'v2'), Renamed: param('/cs/new-name', 'x') });
  await cfn.send(new CreateChangeSetCommand({ StackName: 'cs', ChangeSetName: 'second', TemplateBody: v2 }));
  const second = await changeSet('cs', 'second');
  assert.equal(second.Status, 'CREATE_COMPLETE');
  assert.deepEqual(changes(second), [['Dropped', 'Remove', '-'], ['Keep', 'Modify', 'False'], ['Renamed', 'Modify', 'True']]);
  await cfn.send(new DeleteChangeSetCommand({ StackName: 'cs', ChangeSetName: 'second' }));
  assert.equal((await errorOf(cfn.send(new DescribeChangeSetCommand({ StackName: 'cs', ChangeSetName: 'second' })))).name, 'ChangeSetNotFoundException');
  assert.deepEqual((await cfn.send(new ListChangeSetsCommand({ StackName: 'cs' }))).Summaries ?? [], []);
  assert.equal((await ssm.send(new GetParameterCommand({ Name: '/cs/keep' }))).Parameter!.Value, 'v1', 'a deleted change set changed nothing');

  // The same template again: nothing to change.
  await cfn.send(new CreateChangeSetCommand({ StackName: 'cs', ChangeSetName: 'empty', TemplateBody: v1 }));
  const empty = await changeSet('cs', 'empty');
  assert.equal(empty.Status, 'FAILED');
  assert.equal(empty.ExecutionStatus, 'UNAVAILABLE');
  assert.match(empty.StatusReason!, /didn't contain changes/);
  assert.equal((await errorOf(cfn.send(new ExecuteChangeSetCommand({ StackName: 'cs', ChangeSetName: 'empty' })))).name, 'InvalidChangeSetStatusException');

  await cfn.send(new DeleteStackCommand({ StackName: 'cs' }));
  assert.equal(await settled('cs'), undefined);
});

test('ListImports: the stacks importing an export; an export nobody imports and an unknown one are ValidationErrors; an imported export cannot go', async () => {
  const exporter = body({ P: param('/imp/source', 'shared') }, { Outputs: { Name: { Value: { 'Fn::GetAtt': ['P', 'Value'] }, Export: { Name: 'imp-shared' } }, Lonely: { Value: 'x', Export: { Name: 'imp-lonely' } } } });
  await cfn.send(new CreateStackCommand({ StackName: 'imp-exporter', TemplateBody: exporter }));
  assert.equal((await settled('imp-exporter'))!.StackStatus, 'CREATE_COMPLETE');
  for (const name of ['imp-a', 'imp-b']) {
    await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: body({ P: param(`/imp/${name}`, { 'Fn::ImportValue': 'imp-shared' }) }) }));
    assert.equal((await settled(name))!.StackStatus, 'CREATE_COMPLETE');
  }
  assert.equal((await ssm.send(new GetParameterCommand({ Name: '/imp/imp-a' }))).Parameter!.Value, 'shared');
  assert.deepEqual((await cfn.send(new ListImportsCommand({ ExportName: 'imp-shared' }))).Imports!.sort(), ['imp-a', 'imp-b']);
  const lonely = await errorOf(cfn.send(new ListImportsCommand({ ExportName: 'imp-lonely' })));
  assert.equal(lonely.name, 'ValidationError');
  assert.match(lonely.message, /is not imported by any stack/);
  assert.match((await errorOf(cfn.send(new ListImportsCommand({ ExportName: 'imp-nope' })))).message, /does not exist/);

  // The exporter cannot be deleted while imported (the delete fails, the stack and its export stay).
  await cfn.send(new DeleteStackCommand({ StackName: 'imp-exporter' }));
  const s = await settled('imp-exporter');
  assert.equal(s?.StackStatus, 'DELETE_FAILED');
  assert.match(s!.StackStatusReason!, /(Cannot delete export imp-shared|Export imp-shared cannot be deleted) as it is in use by imp-(a|b)/);
  assert.deepEqual((await cfn.send(new ListImportsCommand({ ExportName: 'imp-shared' }))).Imports!.sort(), ['imp-a', 'imp-b']);

  // Once one importer goes, ListImports says so.
  await cfn.send(new DeleteStackCommand({ StackName: 'imp-b' }));
  assert.equal(await settled('imp-b'), undefined);
  assert.deepEqual((await cfn.send(new ListImportsCommand({ ExportName: 'imp-shared' }))).Imports, ['imp-a']);
  for (const name of ['imp-a', 'imp-exporter']) {
    await cfn.send(new DeleteStackCommand({ StackName: name }));
    assert.equal(await settled(name), undefined);
  }
});

test('nested stacks: a file:// TemplateURL in the allowed directory is created, updated and deleted with its parent; other URLs fail the resource with a ValidationError', async () => {
  const child = JSON.stringify({
    Parameters: { Prefix: { Type: 'String' }, Value: { Type: 'String' } },
    Resources: { P: { Type: 'AWS::SSM::Parameter', Properties: { Name: { 'Fn::Sub': '/${Prefix}/child' }, Type: 'String', Value: { Ref: 'Value' } } } },
    Outputs: { ParamName: { Value: { Ref: 'P' } } },
  });
  writeFileSync(join(allowed, 'child.json'), child);
  writeFileSync(join(elsewhere, 'child.json'), child);
  const parent = (url: string, value: string) =>
    body({
      Child: { Type: 'AWS::CloudFormation::Stack', Properties: { TemplateURL: url, Parameters: { Prefix: 'nest', Value: value } } },
      Uses: param('/nest/parent', { 'Fn::GetAtt': ['Child', 'Outputs.ParamName'] }),
    });
  const url = pathToFileURL(join(allowed, 'child.json')).href;
  await cfn.send(new CreateStackCommand({ StackName: 'nest', TemplateBody: parent(url, 'one') }));
  assert.equal((await settled('nest'))!.StackStatus, 'CREATE_COMPLETE');
  const childId = (await cfn.send(new DescribeStackResourceCommand({ StackName: 'nest', LogicalResourceId: 'Child' }))).StackResourceDetail!.PhysicalResourceId!;
  assert.match(childId, /:stack\/nest-Child-[A-Z0-9]+\//);
  assert.equal((await cfn.send(new DescribeStacksCommand({ StackName: childId }))).Stacks![0]!.StackStatus, 'CREATE_COMPLETE');
  assert.equal((await ssm.send(new GetParameterCommand({ Name: '/nest/child' }))).Parameter!.Value, 'one');
  assert.equal((await ssm.send(new GetParameterCommand({ Name: '/nest/parent' }))).Parameter!.Value, '/nest/child');

  await cfn.send(new UpdateStackCommand({ StackName: 'nest', TemplateBody: parent(url, 'two') }));
  assert.equal((await settled('nest'))!.StackStatus, 'UPDATE_COMPLETE');
  assert.equal((await ssm.send(new GetParameterCommand({ Name: '/nest/child' }))).Parameter!.Value, 'two');
  assert.equal((await cfn.send(new DescribeStacksCommand({ StackName: childId }))).Stacks![0]!.StackStatus, 'UPDATE_COMPLETE');

  await cfn.send(new DeleteStackCommand({ StackName: 'nest' }));
  assert.equal(await settled('nest'), undefined);
  assert.equal((await ssm.send(new GetParametersByPathCommand({ Path: '/nest', Recursive: true }))).Parameters!.length, 0);
  const live = ((await cfn.send(new ListStacksCommand({}))).StackSummaries ?? []).filter((s) => s.StackStatus !== 'DELETE_COMPLETE' && /^nest/.test(s.StackName!));
  assert.deepEqual(live, [], 'the nested stack went with its parent');

  // Refused: an S3 URL, a file outside the allowed directory, a path escaping it.
  for (const [i, bad, why] of [
    [1, 'https://s3.amazonaws.com/bucket/child.json', /is not a file:\/\/ URL/],
    [2, pathToFileURL(join(elsewhere, 'child.json')).href, /is outside the allowed directories/],
    [3, `${pathToFileURL(allowed).href}/../${elsewhere.split('/').pop()}/child.json`, /outside the allowed directories/],
  ] as const) {
    const name = `nest-bad-${i}`;
    await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: parent(bad, 'x') }));
    assert.equal((await settled(name))!.StackStatus, 'ROLLBACK_COMPLETE');
    const events = (await cfn.send(new DescribeStackEventsCommand({ StackName: name }))).StackEvents ?? [];
    const failed = events.find((e) => e.LogicalResourceId === 'Child' && e.ResourceStatus === 'CREATE_FAILED');
    assert.match(failed?.ResourceStatusReason ?? '', why, JSON.stringify(failed));
    assert.match(failed!.ResourceStatusReason!, /BERTH_CFN_TEMPLATE_DIRS/);
    await cfn.send(new DeleteStackCommand({ StackName: name }));
  }

  // A nested stack that fails fails its parent, with the nested failure's reason; both roll back.
  writeFileSync(join(allowed, 'broken.json'), JSON.stringify({ Resources: { G: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 8 } } } }));
  await cfn.send(new CreateStackCommand({ StackName: 'nest-broken', TemplateBody: body({ Child: { Type: 'AWS::CloudFormation::Stack', Properties: { TemplateURL: pathToFileURL(join(allowed, 'broken.json')).href } } }) }));
  assert.equal((await settled('nest-broken'))!.StackStatus, 'ROLLBACK_COMPLETE');
  const events = (await cfn.send(new DescribeStackEventsCommand({ StackName: 'nest-broken' }))).StackEvents ?? [];
  const failed = events.find((e) => e.LogicalResourceId === 'Child' && e.ResourceStatus === 'CREATE_FAILED');
  assert.match(failed?.ResourceStatusReason ?? '', /^Embedded stack arn:\S+ was not successfully created: G: .*retentionInDays/, JSON.stringify(failed));
});
