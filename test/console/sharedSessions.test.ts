// Console sessions live in the store, so two replicas sharing PostgreSQL share them: a session
// opened through one works through the other (reads, and a change with its CSRF token), a
// one-time link minted on one opens on the other (once), signing out through one ends the session
// on both (and its open live stream), and "everywhere" ends every session of the access key.
// At rest there is only a hash of each token. Bounds and expiry: the unit test below, on a real
// SQLite store and the injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { startTestPostgres } from '../helpers/postgres.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ManualClock } from '../../src/clock.js';
import { Sessions, SESSION_KIND, LINK_KIND } from '../../src/console/sessions.js';

async function signIn(b: TestBerth): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${b.url}/console/api/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: b.url },
    body: JSON.stringify({ accessKeyId: b.credentials.accessKeyId, secretAccessKey: b.credentials.secretAccessKey }),
  });
  assert.equal(r.status, 200);
  const body = (await r.json()) as { csrf: string };
  return { cookie: (r.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: body.csrf };
}

const read = async (b: TestBerth, cookie: string) => (await fetch(`${b.url}/console/api/view/clusters`, { headers: { cookie } })).status;
const post = (b: TestBerth, path: string, s: { cookie: string; csrf: string }, body: unknown) =>
  fetch(`${b.url}${path}`, { method: 'POST', headers: { cookie: s.cookie, 'x-berth-csrf': s.csrf, 'content-type': 'application/json', origin: b.url }, body: JSON.stringify(body) });

test('two replicas on PostgreSQL share console sessions; sign-out through one ends it on both; only hashes at rest', async (t) => {
  const pg = await startTestPostgres();
  if (typeof pg === 'string') return t.skip(pg);
  const env = { BERTH_ROOT_ACCESS_KEY_ID: 'AKIACONSOLESESSION01', BERTH_ROOT_SECRET_ACCESS_KEY: 'console-session-secret-00000000000000000', BERTH_ACCOUNT_ID: '123456789012' };
  const a = await startTestBerth({ storeUrl: pg.url, env });
  const b = await startTestBerth({ storeUrl: pg.url, env });
  const store = await PostgresStore.open(pg.url);
  try {
    const s = await signIn(a);
    assert.equal(await read(b, s.cookie), 200, 'a session made on A reads through B');
    // A change through B with the CSRF token A gave: sign-in's token is the session's everywhere.
    const me = await (await fetch(`${b.url}/console/api/me`, { headers: { cookie: s.cookie } })).json();
    assert.equal(me.csrf, s.csrf);

    // At rest: the key is the token's hash; neither the token nor the CSRF token is stored.
    const token = s.cookie.slice(s.cookie.indexOf('.') + 1);
    const records = await store.list<Record<string, unknown>>(SESSION_KIND, {});
    assert.equal(records.length, 1);
    assert.equal(records[0]!.key, `${env.BERTH_ROOT_ACCESS_KEY_ID}/${createHash('sha256').update('berth-console-session').update('\0').update(token).digest('hex')}`);
    const atRest = JSON.stringify(records);
    assert.ok(!atRest.includes(token) && !atRest.includes(s.csrf), atRest);

    // A live stream open through A ends when the session is signed out through B.
    const ac = new AbortController();
    const live = await fetch(`${a.url}/console/api/live/clusters`, { headers: { cookie: s.cookie }, signal: ac.signal });
    assert.equal(live.status, 200);
    const ended = (async () => {
      for await (const _ of live.body!) void _;
      return true;
    })();
    const out = await post(b, '/console/api/signout', s, {});
    assert.equal(out.status, 200);
    assert.equal(await read(a, s.cookie), 401, 'signed out through B: refused through A');
    assert.equal(await read(b, s.cookie), 401);
    assert.equal(await Promise.race([ended, new Promise((r) => setTimeout(() => r(false), 15_000))]), true, 'the live stream through A ended');
    ac.abort();

    // A one-time link minted through A opens through B, once.
    const path = await a.console.signInLink(env.BERTH_ROOT_ACCESS_KEY_ID, 'us-east-1');
    const first = await fetch(`${b.url}${path}`, { redirect: 'manual' });
    assert.equal(first.status, 200);
    const linked = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
    assert.equal(await read(a, linked), 200);
    assert.equal((await fetch(`${a.url}${path}`, { redirect: 'manual' })).status, 403, 'used once, on any replica');
    assert.ok(!JSON.stringify(await store.list(LINK_KIND, {})).includes(path.split('/').pop()!));

    // Sign out everywhere: every session of this access key ends on both replicas.
    const others = [await signIn(a), await signIn(b)];
    const all = await post(a, '/console/api/signout', others[0]!, { everywhere: true });
    assert.equal(((await all.json()) as { ended: number }).ended, 3);
    for (const x of [linked, ...others.map((o) => o.cookie)]) for (const r of [a, b]) assert.equal(await read(r, x), 401);
    assert.equal((await store.list(SESSION_KIND, {})).length, 0);
  } finally {
    await store.close();
    await a.close();
    await b.close();
    pg.stop();
  }
});

test('sessions are bounded per access key (the oldest goes) and expire; links expire and open once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-console-sessions-'));
  const store = new SqliteStore(join(dir, 'state.db'));
  try {
    const clock = new ManualClock();
    const sessions = new Sessions(store, clock, { maxPerPrincipal: 3, ttlMs: 60_000, linkTtlMs: 10_000, maxLinks: 2 });
    const opened = [];
    for (let i = 0; i < 4; i++) {
      opened.push(await sessions.open('AKIAONE', 'us-east-1'));
      await clock.advance(1);
    }
    assert.equal(await sessions.get(opened[0]!.id), undefined, 'the oldest of four went (bound 3)');
    for (const s of opened.slice(1)) assert.equal((await sessions.get(s.id))?.accessKeyId, 'AKIAONE');
    const other = await sessions.open('AKIATWO', 'eu-west-1');
    assert.equal((await store.list(SESSION_KIND, {})).length, 4, 'the bound is per access key');
    // A forged cookie: right shape, wrong token; another key's id with this token.
    const token = other.id.split('.')[1]!;
    assert.equal(await sessions.get(`AKIAONE.${token}`), undefined);
    assert.equal(await sessions.get(`AKIATWO.${'A'.repeat(43)}`), undefined);
    assert.equal(await sessions.get('garbage'), undefined);
    await clock.advance(60_000);
    assert.equal(await sessions.get(other.id), undefined, 'expired');
    assert.equal((await store.list(SESSION_KIND, {})).length, 3, 'an expired session met is removed');
    await sessions.open('AKIAONE', 'us-east-1');
    assert.equal((await store.list(SESSION_KIND, { prefix: 'AKIAONE/' })).length, 1, 'opening sweeps the expired ones of that key');

    const l1 = await sessions.mintLink('AKIAONE', 'us-east-1');
    await clock.advance(1);
    const l2 = await sessions.mintLink('AKIAONE', 'us-east-1');
    await clock.advance(1);
    const l3 = await sessions.mintLink('AKIAONE', 'us-east-1');
    assert.equal((await store.list(LINK_KIND, {})).length, 2, 'at most 2 unopened links');
    assert.equal(await sessions.redeemLink(l1), undefined, 'the oldest link went');
    assert.deepEqual(await sessions.redeemLink(l2), { accessKeyId: 'AKIAONE', region: 'us-east-1' });
    assert.equal(await sessions.redeemLink(l2), undefined, 'once');
    await clock.advance(10_000);
    assert.equal(await sessions.redeemLink(l3), undefined, 'expired');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
