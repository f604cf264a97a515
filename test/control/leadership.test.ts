// One active replica per duty (issue 21): leases on the store with fencing tokens. Two
// Leadership instances play two replicas on one store, on a manual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/store/sqlite.js';
import { ManualClock } from '../../src/clock.js';
import type { Platform } from '../../src/domain/platform.js';
import { Leadership, type Duty } from '../../src/control/leadership.js';
import { NotLeaderError } from '../../src/store/fenced.js';
import { mutate } from '../../src/domain/mutate.js';

function replica(store: SqliteStore, clock: ManualClock, id: string) {
  const platform: Platform = { store, clock, accountId: '000000000000', defaultRegion: 'us-east-1', dataDir: '/nonexistent' };
  const l = new Leadership(platform, { replicaId: id, ttlMs: 10_000, renewMs: 3_000, onError: () => undefined });
  const log: string[] = [];
  const duty: Duty = { name: 'work', start: () => void log.push('start'), stop: () => void log.push('stop') };
  l.add(duty);
  const write = (n: number) => mutate<{ n: number }>(l.fencedPlatform('work').store, 'data', 'x', () => ({ n }));
  return { l, log, write, leading: () => l.status()[0]!.leading };
}

test('one replica takes the lease and does the work; the other waits; fenced writes only from the holder', async () => {
  const store = new SqliteStore(':memory:');
  const clock = new ManualClock(1_000_000);
  const a = replica(store, clock, 'a');
  const b = replica(store, clock, 'b');
  await a.l.start();
  await b.l.start();
  assert.equal(a.leading(), true);
  assert.equal(b.leading(), false);
  assert.deepEqual(a.log, ['start']);
  assert.deepEqual(b.log, []);
  assert.equal(b.l.status()[0]!.holder, 'a');
  await a.write(1);
  await assert.rejects(b.write(2), NotLeaderError);
  // Renewals keep it with a while time passes (and do not change the fencing token).
  await clock.advance(60_000);
  assert.equal(a.leading(), true);
  assert.equal(b.leading(), false);
  await a.write(3);
  assert.deepEqual(a.log, ['start'], 'not restarted by renewals');
  await a.l.stop();
  await b.l.stop();
  await store.close();
});

test('a holder paused past its lease loses it to the other replica, and its late writes are refused', async () => {
  const store = new SqliteStore(':memory:');
  const clock = new ManualClock(1_000_000);
  const a = replica(store, clock, 'a');
  const b = replica(store, clock, 'b');
  await a.l.start();
  await b.l.start();
  // "SIGSTOP": a stops renewing (and checking its lease), but still believes it leads.
  await (a.l as unknown as { loop: { stop(): Promise<void> } }).loop.stop();
  await (a.l as unknown as { watchdog: { stop(): Promise<void> } }).watchdog.stop();
  await clock.advance(13_000);
  assert.equal(b.leading(), true, 'b took the expired lease');
  assert.deepEqual(b.log, ['start']);
  assert.equal(a.leading(), true, 'a has not noticed');
  await assert.rejects(a.write(9), NotLeaderError, 'the fencing token moved: refused');
  assert.equal(a.l.status()[0]!.refusedWrites, 1, 'the refusal is counted (shown on /_berth/health)');
  await b.write(10);
  assert.deepEqual((await store.get('data', 'x'))?.value, { n: 10 });
  await b.l.stop();
  await store.close();
});

test('a replica that stops gives its leases up: the other takes over at its next claim', async () => {
  const store = new SqliteStore(':memory:');
  const clock = new ManualClock(1_000_000);
  const a = replica(store, clock, 'a');
  const b = replica(store, clock, 'b');
  await a.l.start();
  await b.l.start();
  await a.l.stop();
  assert.deepEqual(a.log, ['start', 'stop']);
  await clock.advance(3_000);
  assert.equal(b.leading(), true);
  await b.write(1);
  await b.l.stop();
  await store.close();
});

test('replicas heartbeat at each round: a silent one is shown gone after a TTL, forgotten after an hour; a stopped one leaves the list', async () => {
  const store = new SqliteStore(':memory:');
  const clock = new ManualClock(1_000_000);
  const a = replica(store, clock, 'a');
  const b = replica(store, clock, 'b');
  await a.l.start();
  await b.l.start();
  await b.l.announce('http://b.example:4566');
  let list = (await a.l.report()).replicas;
  assert.deepEqual(
    list.map((r) => [r.id, r.url, r.alive, r.self, r.leads]),
    [
      ['a', undefined, true, true, ['work']],
      ['b', 'http://b.example:4566', true, false, []],
    ],
  );
  // b goes silent (SIGKILL): gone once a TTL passed without its heartbeat, then forgotten.
  await (b.l as unknown as { loop: { stop(): Promise<void> } }).loop.stop();
  await clock.advance(12_000);
  list = (await a.l.report()).replicas;
  assert.deepEqual(list.map((r) => [r.id, r.alive]), [['a', true], ['b', false]]);
  await clock.advance(3_700_000);
  assert.deepEqual(((await a.l.report()).replicas).map((r) => r.id), ['a'], 'forgotten after an hour');
  await a.l.stop();
  assert.deepEqual(await store.list('berth.replica'), [], 'a stopped replica removes itself');
  await store.close();
});

test('a holder whose renewals hang (a silent partition from the store) stops acting when its lease runs out', async () => {
  const inner = new SqliteStore(':memory:');
  const clock = new ManualClock(1_000_000);
  let hang = false;
  // Reads and writes of the lease records never answer while `hang` is set, as over a cut link.
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => (hang && (prop === 'commit' || prop === 'get' || prop === 'getMany' || prop === 'list') ? new Promise(() => undefined) : (v as (...a: unknown[]) => unknown).apply(target, args));
    },
  }) as SqliteStore;
  const a = replica(store, clock, 'a');
  await a.l.start();
  assert.equal(a.leading(), true);
  hang = true;
  // Its lease runs out (10 s) with a renewal still pending: a stops its duty then, without waiting.
  await clock.advance(9_000);
  assert.equal(a.leading(), true, 'still within its lease');
  await clock.advance(1_500);
  assert.equal(a.leading(), false, 'dropped while its renewal hangs');
  assert.deepEqual(a.log, ['start', 'stop']);
  assert.equal(a.l.fence('work'), undefined, 'its writes carry no token: the fenced store refuses them');
  hang = false;
  // Once the store answers again the replica takes the lease back (nobody else wanted it).
  await clock.advance(10_000);
  assert.equal(a.leading(), true);
  await a.l.stop();
  await inner.close();
});
