// The target-drain controller on a ManualClock, over a real SQLite store and the ELBv2 domain,
// with the data plane's answer (requests in flight) scripted: an idle draining target goes at
// once when woken, a busy one stays until the deregistration delay passed, one the data plane
// has not seen draining yet stays too, and a target registered again meanwhile (a new record
// revision) is never removed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Write } from '../../src/store/types.js';
import type { Platform, Scope } from '../../src/domain/platform.js';
import { KIND, elbArn, targetKey, tgKey, type TargetGroupRecord, type TargetRecord } from '../../src/domain/elbv2/records.js';
import { deregisterTargets, registerTargets } from '../../src/domain/elbv2/targets.js';
import { startTargetDrain, TARGET_DRAIN_INTERVAL_MS, type DrainView } from '../../src/control/targetDrain.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A SQLite store that can let another writer in just before the next commit that deletes a target. */
class RacingStore extends SqliteStore {
  beforeTargetDelete: (() => Promise<void>) | undefined;
  override async commit(writes: Write[]): Promise<number> {
    const hook = this.beforeTargetDelete;
    if (hook && writes.some((w) => w.kind === KIND.target && w.value === null)) {
      this.beforeTargetDelete = undefined;
      await hook();
    }
    return super.commit(writes);
  }
}

async function setup(delaySeconds = 30) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-drain-'));
  dirs.push(dir);
  const store = new RacingStore(join(dir, 'state.db'));
  const clock = new ManualClock();
  const platform: Platform = { store, clock, accountId: '123456789012', defaultRegion: 'us-east-1', dataDir: dir };
  const scope: Scope = { platform, region: 'us-east-1' };
  const tg: TargetGroupRecord = {
    name: 'web',
    arn: elbArn(scope, 'targetgroup/web/0123456789abcdef'),
    id: '0123456789abcdef',
    region: 'us-east-1',
    protocol: 'HTTP',
    protocolVersion: 'HTTP1',
    port: 80,
    vpcId: 'vpc-1',
    targetType: 'ip',
    ipAddressType: 'ipv4',
    healthCheck: { enabled: true, protocol: 'HTTP', port: 'traffic-port', path: '/', intervalSeconds: 5, timeoutSeconds: 2, healthyThreshold: 2, unhealthyThreshold: 2, matcher: '200' },
    attributes: { 'deregistration_delay.timeout_seconds': String(delaySeconds) },
    tags: [],
    createdAt: clock.now(),
  };
  await store.commit([{ kind: KIND.tg, key: tgKey('us-east-1', 'web'), value: tg, expectRev: 0 }]);
  // The data plane's answer per port: requests in flight, or undefined (deregistration not applied yet).
  const inflight = new Map<number, number | undefined>();
  const plane: DrainView = { requestsInFlight: (_tg, rec) => inflight.get(rec.port) };
  const errors: unknown[] = [];
  const drain = startTargetDrain(platform, plane, { onError: (e) => errors.push(e) });
  const record = async (port: number) => (await store.get<TargetRecord>(KIND.target, targetKey('us-east-1', 'web', '10.0.0.1', port)))?.value;
  const register = (...ports: number[]) => registerTargets(scope, tg.arn, ports.map((Port) => ({ Id: '10.0.0.1', Port })));
  const deregister = (...ports: number[]) => deregisterTargets(scope, tg.arn, ports.map((Port) => ({ Id: '10.0.0.1', Port })));
  return {
    store,
    clock,
    inflight,
    drain,
    errors,
    record,
    register,
    deregister,
    async close() {
      await drain.stop();
      await store.close();
    },
  };
}

test('an idle draining target goes when the controller is woken; a busy one stays until the delay passed', async () => {
  const s = await setup(30);
  await s.register(1, 2, 3);
  await s.deregister(1, 2, 3);
  s.inflight.set(1, 0); // idle
  s.inflight.set(2, 1); // a request in flight
  // 3: the data plane has not applied the deregistration yet (undefined)
  s.drain.wake();
  await s.drain.runNow();
  assert.equal(await s.record(1), undefined, 'idle: removed at once, without the clock moving');
  assert.equal((await s.record(2))?.state, 'draining');
  assert.equal((await s.record(3))?.state, 'draining');
  // Sweeps on the clock keep them while the delay runs.
  for (let t = 0; t < 29_000; t += 1_000) await s.clock.advance(1_000);
  assert.equal((await s.record(2))?.state, 'draining');
  assert.equal((await s.record(3))?.state, 'draining');
  // The request finished: the next tick removes it.
  s.inflight.set(2, 0);
  await s.clock.advance(TARGET_DRAIN_INTERVAL_MS);
  await s.drain.runNow();
  assert.equal(await s.record(2), undefined);
  // The delay passes: the last one goes whatever the data plane says.
  await s.clock.advance(1_000);
  await s.drain.runNow();
  assert.equal(await s.record(3), undefined);
  assert.deepEqual(s.errors, []);
  await s.close();
});

test('a target registered again while the sweep decides is a new registration and stays', async () => {
  const s = await setup(0);
  await s.register(4);
  await s.deregister(4);
  const drained = await s.record(4);
  s.store.beforeTargetDelete = () => s.register(4).then(() => undefined);
  s.clock.set(s.clock.now() + 5);
  await s.drain.runNow();
  const now = await s.record(4);
  assert.equal(now?.state, 'registered', 'the newer registration won');
  assert.notEqual(now?.registeredAt, drained?.registeredAt);
  // Draining again and done: it goes.
  await s.deregister(4);
  await s.drain.runNow();
  assert.equal(await s.record(4), undefined);
  assert.deepEqual(s.errors, []);
  await s.close();
});
