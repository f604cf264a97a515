// AWS::CloudFormation::WaitConditionHandle and ::WaitCondition on a real Berth (one per file, on
// the injected clock): the handle's Ref is a presigned URL on Berth's endpoint taking an HTTP PUT
// of cfn-signal's JSON; a forged signature, an expired URL, a body over 4 KB, bad JSON or a GET
// are refused S3-style and change nothing; the wait ends at Count successes and GetAtt Data is
// the UniqueId -> Data object; a FAILURE signal and the Timeout (on the clock) roll the stack back
// with the reason; a signal stored before a restart still counts after it (the create resumes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand, DescribeStackEventsCommand, DescribeStackResourceCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ManualClock } from '../../src/clock.js';
import { eventually, startTestBerth, type TestBerth } from '../helpers/fixture.js';

const clock = new ManualClock(Date.now());
let berth: TestBerth;
let cfn: CloudFormationClient;
let dataDir: string;

const start = async (port = 0) => {
  berth = await startTestBerth({ clock, ephemeral: false, dataDir, port });
  cfn = new CloudFormationClient(berth.clientConfig);
};
before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'berth-cfn-wait-'));
  await start();
});
after(async () => {
  await berth.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function template(wait: Record<string, unknown> | undefined): string {
  const Resources: Record<string, unknown> = { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } };
  const Outputs: Record<string, unknown> = { Url: { Value: { Ref: 'Handle' } } };
  if (wait) {
    Resources.Wait = { Type: 'AWS::CloudFormation::WaitCondition', Properties: { Handle: { Ref: 'Handle' }, ...wait } };
    Outputs.Data = { Value: { 'Fn::GetAtt': ['Wait', 'Data'] } };
  }
  return JSON.stringify({ Resources, Outputs });
}

const stack = async (name: string) => (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks![0]!;
/** The handle's URL, once it exists. */
const handleUrl = (name: string) =>
  eventually(async () => {
    const r = await cfn.send(new DescribeStackResourceCommand({ StackName: name, LogicalResourceId: 'Handle' })).catch(() => undefined);
    return r?.StackResourceDetail?.ResourceStatus === 'CREATE_COMPLETE' && r.StackResourceDetail.PhysicalResourceId;
  }, { what: 'the handle' });
const settled = (name: string, status: string) =>
  eventually(async () => {
    const s = await stack(name);
    return !/_IN_PROGRESS$/.test(s.StackStatus!) && s;
  }, { what: `${name} to reach ${status}` }).then((s) => {
    assert.equal(s.StackStatus, status, s.StackStatusReason);
    return s;
  });
const put = (url: string, body: string, method = 'PUT') => fetch(url, { method, body: method === 'GET' ? undefined : body });
const signal = (url: string, s: Record<string, unknown>) => put(url, JSON.stringify(s));
const failures = async (name: string) => ((await cfn.send(new DescribeStackEventsCommand({ StackName: name }))).StackEvents ?? []).filter((e) => e.ResourceStatus === 'CREATE_FAILED').map((e) => e.ResourceStatusReason);

test('a handle URL takes cfn-signal PUTs; Count successes complete the wait, GetAtt Data has them; bad requests are refused and change nothing', async () => {
  await cfn.send(new CreateStackCommand({ StackName: 'two', TemplateBody: template({ Count: 2, Timeout: 600 }) }));
  const url = await handleUrl('two');
  assert.ok(url.startsWith(`${berth.url}/_berth/cloudformation/wait/`), url);
  assert.match(url, /[?&]Signature=[A-Za-z0-9_-]{40,}/);

  const forged = url.replace(/Signature=[A-Za-z0-9_-]{4}/, 'Signature=AAAA');
  const refused = await signal(forged, { Status: 'SUCCESS', UniqueId: 'x', Data: 'forged' });
  assert.equal(refused.status, 403);
  assert.match(await refused.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  const otherHandle = url.replace('/Handle/', '/Handlf/');
  assert.equal((await signal(otherHandle, { Status: 'SUCCESS', UniqueId: 'x' })).status, 403);
  const big = await put(url, 'a'.repeat(5000));
  assert.equal(big.status, 400);
  assert.match(await big.text(), /EntityTooLarge/);
  const badJson = await put(url, '{"Status":');
  assert.equal(badJson.status, 400);
  assert.match(await badJson.text(), /must be a JSON object/);
  assert.equal((await signal(url, { Status: 'MAYBE', UniqueId: 'x' })).status, 400);
  assert.equal((await put(url, '', 'GET')).status, 405);

  const first = await signal(url, { Status: 'SUCCESS', UniqueId: 'a', Data: 'one', Reason: 'ok' });
  assert.equal(first.status, 200);
  // None of the refused requests counted: one success of two, still waiting.
  await clock.advance(1000);
  assert.equal((await stack('two')).StackStatus, 'CREATE_IN_PROGRESS');
  assert.equal((await signal(url, { Status: 'SUCCESS', UniqueId: 'b', Data: 'two' })).status, 200);
  const done = await settled('two', 'CREATE_COMPLETE');
  assert.deepEqual(JSON.parse(done.Outputs!.find((o) => o.OutputKey === 'Data')!.OutputValue!), { a: 'one', b: 'two' });
});

test('a FAILURE signal rolls the stack back with its reason; no signal within Timeout (on the clock) rolls it back too', async () => {
  await cfn.send(new CreateStackCommand({ StackName: 'fails', TemplateBody: template({ Timeout: 600 }) }));
  const url = await handleUrl('fails');
  assert.equal((await signal(url, { Status: 'FAILURE', UniqueId: 'boot', Reason: 'disk full' })).status, 200);
  await settled('fails', 'ROLLBACK_COMPLETE');
  assert.ok((await failures('fails')).some((r) => /WaitCondition received failed message: 'disk full' for uniqueId: boot/.test(r ?? '')), String(await failures('fails')));
  // The handle is gone with the stack: its URL names nothing now.
  assert.equal((await signal(url, { Status: 'SUCCESS', UniqueId: 'late' })).status, 404);

  await cfn.send(new CreateStackCommand({ StackName: 'slow', TemplateBody: template({ Timeout: '60' }) }));
  await handleUrl('slow');
  await clock.advance(30_000);
  assert.equal((await stack('slow')).StackStatus, 'CREATE_IN_PROGRESS');
  await clock.advance(31_000);
  await settled('slow', 'ROLLBACK_COMPLETE');
  assert.ok((await failures('slow')).some((r) => /WaitCondition timed out. Received 0 conditions when expecting 1/.test(r ?? '')), String(await failures('slow')));

  await cfn.send(new CreateStackCommand({ StackName: 'bad', TemplateBody: template({ Timeout: 50000 }) }));
  await settled('bad', 'ROLLBACK_COMPLETE');
  assert.ok((await failures('bad')).some((r) => /Timeout .* must be an integer from 1 to 43200/.test(r ?? '')));
});

test('a signal stored before a restart counts after it: the wait resumes and completes; a handle URL expires after 24 hours', async () => {
  await cfn.send(new CreateStackCommand({ StackName: 'restart', TemplateBody: template({ Count: 2, Timeout: 3600 }) }));
  const url = await handleUrl('restart');
  assert.equal((await signal(url, { Status: 'SUCCESS', UniqueId: 'before', Data: 'stored' })).status, 200);
  const port = berth.port;
  await berth.close();
  await start(port);
  assert.equal((await signal(url, { Status: 'SUCCESS', UniqueId: 'after', Data: 'new' })).status, 200);
  const done = await settled('restart', 'CREATE_COMPLETE');
  assert.deepEqual(JSON.parse(done.Outputs!.find((o) => o.OutputKey === 'Data')!.OutputValue!), { before: 'stored', after: 'new' });

  await cfn.send(new CreateStackCommand({ StackName: 'handle', TemplateBody: template(undefined) }));
  const old = await handleUrl('handle');
  await settled('handle', 'CREATE_COMPLETE');
  await clock.advance(24 * 3600_000 + 1000);
  const expired = await signal(old, { Status: 'SUCCESS', UniqueId: 'x' });
  assert.equal(expired.status, 403);
  assert.match(await expired.text(), /Request has expired/);
});
