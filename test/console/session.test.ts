// The console's door, over real HTTP against a real Berth (no browser): pages and data
// endpoints refuse a request without a session; sign-in checks the secret like SigV4 would;
// the session cookie is HttpOnly and SameSite=Strict; a change needs the session's CSRF token
// and is refused cross-site (and then changes nothing); `berth console` prints a link that
// signs in once; actions run as the session's access key through the API; assets are
// compressed and cached; a SecureString's value is only in a page once revealed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, CreateClusterCommand, RegisterTaskDefinitionCommand, CreateServiceCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { SSMClient, PutParameterCommand } from '@aws-sdk/client-ssm';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { berth as runBerth } from '../cli/helpers.js';

let b: TestBerth;
let ecs: ECSClient;

before(async () => {
  b = await startTestBerth();
  ecs = new ECSClient(b.clientConfig);
  await ecs.send(new CreateClusterCommand({ clusterName: 'default' }));
  await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: 'host', memory: 32, command: ['true'] }] }));
  await ecs.send(new CreateServiceCommand({ cluster: 'default', serviceName: 'web', taskDefinition: 'web:1', desiredCount: 1 }));
  await new SSMClient(b.clientConfig).send(new PutParameterCommand({ Name: '/app/db-password', Type: 'SecureString', Value: 'hunter2-very-secret' }));
});
after(async () => {
  ecs.destroy();
  await b.close();
});

/** Signs in with a key pair; resolves with the cookie and CSRF token. */
async function signIn(secret = b.credentials.secretAccessKey): Promise<{ status: number; cookie: string; csrf: string; setCookie: string }> {
  const r = await fetch(`${b.url}/console/api/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: b.url },
    body: JSON.stringify({ accessKeyId: b.credentials.accessKeyId, secretAccessKey: secret }),
  });
  const body = (await r.json()) as { csrf?: string };
  const setCookie = r.headers.get('set-cookie') ?? '';
  return { status: r.status, cookie: setCookie.split(';')[0]!, csrf: body.csrf ?? '', setCookie };
}

async function desired(): Promise<number> {
  return (await ecs.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]!.desiredCount!;
}

test('without a session: the page is the sign-in shell (401, no token), and every data endpoint is 401', async () => {
  const page = await fetch(`${b.url}/console/clusters/default`);
  assert.equal(page.status, 401);
  const html = await page.text();
  assert.doesNotMatch(html, /berth-csrf/);
  assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  for (const path of ['/console/api/view/clusters', '/console/api/live/service?cluster=default&service=web', '/console/api/logs?cluster=default&service=web', '/console/api/me']) {
    const r = await fetch(`${b.url}${path}`);
    assert.equal(r.status, 401, path);
    assert.equal(((await r.json()) as { __type: string }).__type, 'NotSignedIn');
  }
  const forged = await fetch(`${b.url}/console/api/view/clusters`, { headers: { cookie: 'berth_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
  assert.equal(forged.status, 401);
  const act = await fetch(`${b.url}/console/api/action/scale`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cluster: 'default', service: 'web', desiredCount: 3 }) });
  assert.equal(act.status, 401);
  assert.equal(await desired(), 1);
});

test('sign-in: a wrong secret is refused; the right one gives an HttpOnly, SameSite=Strict cookie that reads views', async () => {
  const wrong = await signIn('not-the-secret');
  assert.equal(wrong.status, 403);
  assert.equal(wrong.setCookie, '');
  const ok = await signIn();
  assert.equal(ok.status, 200);
  assert.match(ok.setCookie, /HttpOnly/);
  assert.match(ok.setCookie, /SameSite=Strict/);
  assert.match(ok.setCookie, /Path=\/console/);
  const v = await fetch(`${b.url}/console/api/view/cluster?cluster=default`, { headers: { cookie: ok.cookie } });
  assert.equal(v.status, 200);
  const view = (await v.json()) as { services: Array<{ name: string; desired: number }> };
  assert.deepEqual(view.services.map((s) => [s.name, s.desired]), [['web', 1]]);
  const page = await fetch(`${b.url}/console/`, { headers: { cookie: ok.cookie } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), new RegExp(`<meta name="berth-csrf" content="${ok.csrf}">`));
  // A cross-site sign-in attempt (a form on another site) is refused before the secret is looked at.
  const cross = await fetch(`${b.url}/console/api/signin`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ accessKeyId: b.credentials.accessKeyId, secretAccessKey: b.credentials.secretAccessKey }) });
  assert.equal(cross.status, 403);
});

test('a change needs the CSRF token and the own origin; a cross-site POST is refused and changes nothing', async () => {
  const s = await signIn();
  const scale = (headers: Record<string, string>, desiredCount = 4) =>
    fetch(`${b.url}/console/api/action/scale`, { method: 'POST', headers: { cookie: s.cookie, ...headers }, body: JSON.stringify({ cluster: 'default', service: 'web', desiredCount }) });
  const refusals: Array<[string, Record<string, string>]> = [
    ['no token', { 'content-type': 'application/json' }],
    ['wrong token', { 'content-type': 'application/json', 'x-berth-csrf': s.csrf.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }],
    ['another origin', { 'content-type': 'application/json', 'x-berth-csrf': s.csrf, origin: 'https://evil.example' }],
    ['cross-site fetch', { 'content-type': 'application/json', 'x-berth-csrf': s.csrf, 'sec-fetch-site': 'cross-site' }],
    ['a form post', { 'content-type': 'application/x-www-form-urlencoded', 'x-berth-csrf': s.csrf }],
  ];
  for (const [what, headers] of refusals) {
    const r = await scale(headers);
    assert.equal(r.status, 403, what);
  }
  assert.equal(await desired(), 1, 'nothing changed');
  const bad = await scale({ 'content-type': 'application/json', 'x-berth-csrf': s.csrf, origin: b.url }, -1);
  assert.equal(bad.status, 400);
  const ok = await scale({ 'content-type': 'application/json', 'x-berth-csrf': s.csrf, origin: b.url, 'sec-fetch-site': 'same-origin' }, 2);
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.equal(await desired(), 2);
  // Signing out ends the session.
  const out = await fetch(`${b.url}/console/api/signout`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/json', 'x-berth-csrf': s.csrf }, body: '{}' });
  assert.equal(out.status, 200);
  assert.equal((await fetch(`${b.url}/console/api/me`, { headers: { cookie: s.cookie } })).status, 401);
});

test('berth console prints a one-time link: it signs in once, then is refused', async () => {
  const r = await runBerth(['console'], { AWS_ACCESS_KEY_ID: b.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: b.credentials.secretAccessKey, AWS_ENDPOINT_URL: b.url, AWS_REGION: 'us-east-1' });
  assert.equal(r.status, 0, r.stderr);
  const link = r.stdout.trim();
  assert.match(link, new RegExp(`^${b.url}/console/signin/[A-Za-z0-9_-]{43}$`));
  const first = await fetch(link, { redirect: 'manual' });
  assert.equal(first.status, 200);
  const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
  assert.match(cookie, /^berth_console=/);
  assert.equal((await fetch(`${b.url}/console/api/me`, { headers: { cookie } })).status, 200);
  const again = await fetch(link, { redirect: 'manual' });
  assert.equal(again.status, 403);
  assert.equal(again.headers.get('set-cookie'), null);
  // A wrong secret gets no link.
  const refused = await runBerth(['console'], { AWS_ACCESS_KEY_ID: b.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: 'wrong', AWS_ENDPOINT_URL: b.url, AWS_REGION: 'us-east-1' });
  assert.notEqual(refused.status, 0);
  assert.doesNotMatch(refused.stdout, /signin/);
});

test('a SecureString is listed without its value; revealing it is an action that returns it', async () => {
  const s = await signIn();
  const v = await fetch(`${b.url}/console/api/view/parameters`, { headers: { cookie: s.cookie } });
  const text = await v.text();
  assert.match(text, /db-password/);
  assert.doesNotMatch(text, /hunter2/);
  const r = await fetch(`${b.url}/console/api/action/revealParameter`, { method: 'POST', headers: { cookie: s.cookie, 'content-type': 'application/json', 'x-berth-csrf': s.csrf }, body: JSON.stringify({ name: '/app/db-password' }) });
  assert.equal(r.status, 200);
  assert.equal(((await r.json()) as { value: string }).value, 'hunter2-very-secret');
});

test('assets: compressed, cached for a year by their hashed names, revalidated by ETag', async () => {
  const s = await signIn();
  const html = await (await fetch(`${b.url}/console/`, { headers: { cookie: s.cookie } })).text();
  const script = /src="(\/console\/assets\/main-[A-Z0-9]+\.js)"/.exec(html)?.[1];
  assert.ok(script, html);
  const r = await fetch(`${b.url}${script}`, { headers: { 'accept-encoding': 'br' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-encoding'), 'br');
  assert.match(r.headers.get('cache-control') ?? '', /immutable/);
  const etag = r.headers.get('etag')!;
  const again = await fetch(`${b.url}${script}`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal((await fetch(`${b.url}/console/assets/nope.js`)).status, 404);
});
