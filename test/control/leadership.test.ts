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
  // "SIGSTOP": a stops renewing, but still believes it leads.
  await (a.l as unknown as { loop: { stop(): Promise<void> } }).loop.stop();
  await clock.advance(13_000);
  assert.equal(b.leading(), true, 'b took the expired lease');
  assert.deepEqual(b.log, ['start']);
  assert.equal(a.leading(), true, 'a has not noticed');
  await assert.rejects(a.write(9), NotLeaderError, 'the fencing token moved: refused');
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
