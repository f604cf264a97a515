// Regressions for the smaller hardening items (issue 12, item 8): numbers and strings bounded by
// their model types, private files under the data dir, operator endpoints.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { signRequest } from '../../src/protocol/sigv4.js';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;

before(async () => {
  berth = await startTestBerth();
});
after(async () => {
  await berth.close();
});

/** A signed awsJson or awsQuery call with a body written by hand (what no SDK would send). */
async function call(service: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  const url = new URL(berth.url + '/');
  const signed = signRequest({ method: 'POST', url, headers, body, ...berth.credentials, region: 'us-east-1', service });
  delete signed.host;
  const res = await fetch(url, { method: 'POST', headers: signed, body });
  return { status: res.status, text: await res.text() };
}
const ecsCall = (op: string, body: string) => call('ecs', { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonEC2ContainerServiceV20141113.${op}` }, body);

test('numbers outside their model type are refused, not stored (memory=1e308, a 2^63 port, an infinite weight)', async () => {
  const td = await ecsCall('RegisterTaskDefinition', JSON.stringify({ family: 'huge', containerDefinitions: [{ name: 'a', image: 'x', memory: 1e308 }] }));
  assert.equal(td.status, 400, td.text);
  assert.equal(JSON.parse(td.text).__type, 'SerializationException');
  assert.match(JSON.parse(td.text).message, /Integer/);
  const big = await ecsCall('RegisterTaskDefinition', JSON.stringify({ family: 'huge', containerDefinitions: [{ name: 'a', image: 'x', memory: 2 ** 31 }] }));
  assert.equal(big.status, 400);
  const listed = await ecsCall('ListTaskDefinitionFamilies', '{}');
  assert.deepEqual(JSON.parse(listed.text).families, [], 'nothing was registered');
  // awsQuery: ELBv2 with a port past any integer.
  const q = await call('elasticloadbalancing', { 'content-type': 'application/x-www-form-urlencoded' }, 'Action=CreateTargetGroup&Version=2015-12-01&Name=t&Protocol=HTTP&Port=99999999999999999999&VpcId=vpc-1');
  assert.equal(q.status, 400, q.text);
  assert.match(q.text, /<Code>ValidationError<\/Code>/);
  // A timestamp far past year 9999.
  const ts = await ecsCall('SubmitTaskStateChange', JSON.stringify({ cluster: 'default', task: 'x', pullStartedAt: 1e300 }));
  assert.equal(ts.status, 400);
  assert.match(JSON.parse(ts.text).message, /Timestamp/);
});

test('strings with a lone surrogate are refused instead of silently becoming U+FFFD', async () => {
  const r = await ecsCall('CreateCluster', '{"clusterName":"a\\ud800b"}');
  assert.equal(r.status, 400, r.text);
  assert.equal(JSON.parse(r.text).__type, 'SerializationException');
  const ecs = new ECSClient(berth.clientConfig);
  assert.deepEqual((await ecs.send(new ListClustersCommand({}))).clusterArns, []);
  ecs.destroy();
  // A well-formed pair (an emoji) is fine where the model allows it: it is only validated.
  const ok = await ecsCall('TagResource', JSON.stringify({ resourceArn: `arn:aws:ecs:us-east-1:${berth.platform.accountId}:cluster/none`, tags: [{ key: 'k', value: '\u{1F600}' }] }));
  assert.notEqual(JSON.parse(ok.text).__type, 'SerializationException');
});

test('files under the data dir are 0600, and an open data dir is made private', async () => {
  for (const f of ['state.db', 'state.db-wal', 'logs.db', 'credentials.json', 'master.key', 'endpoint']) {
    const mode = statSync(join(berth.dataDir, f)).mode & 0o777;
    assert.equal(mode.toString(8), '600', f);
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-open-'));
  chmodSync(dir, 0o755);
  const other = await startTestBerth({ ephemeral: false, dataDir: dir });
  try {
    assert.equal((statSync(dir).mode & 0o777).toString(8), '700');
  } finally {
    await other.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an operator token, when set, guards /_berth/health and /_berth/metrics', async () => {
  assert.equal((await fetch(`${berth.url}/_berth/health`)).status, 200, 'open without a token (loopback default)');
  const guarded = await startTestBerth({ operatorToken: 'tok-123' });
  try {
    for (const path of ['/_berth/health', '/_berth/metrics']) {
      assert.equal((await fetch(`${guarded.url}${path}`)).status, 401, path);
      assert.equal((await fetch(`${guarded.url}${path}`, { headers: { authorization: 'Bearer tok-124' } })).status, 401, path);
      assert.equal((await fetch(`${guarded.url}${path}`, { headers: { authorization: 'Bearer tok-123' } })).status, 200, path);
    }
  } finally {
    await guarded.close();
  }
});
