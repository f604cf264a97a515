/**
 * The conformance suite every Store implementation must pass. Each backend's test file calls
 * `storeConformance(name, open)` with a factory for a fresh, empty store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, type Change, type Store } from '../../src/store/types.js';
import { retrying } from '../../src/domain/mutate.js';
import { eventually } from '../helpers/fixture.js';

export function storeConformance(name: string, open: () => Promise<Store>): void {
  const withStore = (title: string, fn: (s: Store) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const s = await open();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    });

  withStore('get of a missing record is undefined; revision starts at 0', async (s) => {
    assert.equal(await s.get('k', 'a'), undefined);
    assert.equal(await s.revision(), 0);
  });

  withStore('commit writes, bumps the revision once per batch, and get returns rev and value', async (s) => {
    const r1 = await s.commit([{ kind: 'k', key: 'a', value: { n: 1 } }, { kind: 'k', key: 'b', value: [1, 'two'] }]);
    assert.equal(r1, 1);
    assert.deepEqual(await s.get('k', 'a'), { kind: 'k', key: 'a', rev: 1, value: { n: 1 } });
    assert.deepEqual((await s.get('k', 'b'))?.value, [1, 'two']);
    const r2 = await s.commit([{ kind: 'k', key: 'a', value: { n: 2 } }]);
    assert.equal(r2, 2);
    assert.equal((await s.get('k', 'a'))?.rev, 2);
    assert.equal((await s.get('k', 'b'))?.rev, 1);
    assert.equal(await s.revision(), 2);
  });

  withStore('guards: a commit happens only if every guarded record is at its revision (0: absent); a failed guard writes nothing', async (s) => {
    const fence = await s.commit([{ kind: 'fence', key: 'duty', value: { epoch: 1 } }]);
    await s.commit([{ kind: 'k', key: 'a', value: 1 }], [{ kind: 'fence', key: 'duty', rev: fence }]);
    assert.equal((await s.get('k', 'a'))?.value, 1);
    await s.commit([{ kind: 'k', key: 'b', value: 1 }], [{ kind: 'fence', key: 'nobody', rev: 0 }]);
    const moved = await s.commit([{ kind: 'fence', key: 'duty', value: { epoch: 2 } }]);
    const before = await s.revision();
    await assert.rejects(
      s.commit([{ kind: 'k', key: 'a', value: 2 }, { kind: 'k', key: 'c', value: 1 }], [{ kind: 'fence', key: 'duty', rev: fence }]),
      (e: Error) => e instanceof ConflictError && e.kind === 'fence' && e.expected === fence && e.actual === moved,
    );
    await assert.rejects(s.commit([{ kind: 'k', key: 'd', value: 1 }], [{ kind: 'fence', key: 'nobody', rev: 5 }]), ConflictError);
    assert.equal(await s.revision(), before, 'nothing committed');
    assert.equal((await s.get('k', 'a'))?.value, 1);
    assert.equal(await s.get('k', 'c'), undefined);
  });

  withStore('getMany returns the records asked for, in that order, undefined where absent', async (s) => {
    assert.deepEqual(await s.getMany('k', []), []);
    await s.commit([{ kind: 'k', key: 'a', value: { n: 1 } }, { kind: 'k', key: 'ü/🔑', value: 'x' }, { kind: 'other', key: 'b', value: 2 }]);
    await s.commit([{ kind: 'k', key: 'c', value: [3] }]);
    const got = await s.getMany<unknown>('k', ['c', 'missing', 'ü/🔑', 'b', 'a', 'a']);
    assert.deepEqual(got, [
      { kind: 'k', key: 'c', rev: 2, value: [3] },
      undefined,
      { kind: 'k', key: 'ü/🔑', rev: 1, value: 'x' },
      undefined,
      { kind: 'k', key: 'a', rev: 1, value: { n: 1 } },
      { kind: 'k', key: 'a', rev: 1, value: { n: 1 } },
    ]);
    // Each record is its own copy.
    (got[4]!.value as { n: number }).n = 9;
    assert.deepEqual(got[5]!.value, { n: 1 });
  });

  withStore('kinds are separate namespaces', async (s) => {
    await s.commit([{ kind: 'x', key: 'same', value: 1 }, { kind: 'y', key: 'same', value: 2 }]);
    assert.equal((await s.get('x', 'same'))?.value, 1);
    assert.equal((await s.get('y', 'same'))?.value, 2);
    assert.equal((await s.list('x')).length, 1);
  });

  withStore('null deletes', async (s) => {
    await s.commit([{ kind: 'k', key: 'a', value: 1 }]);
    await s.commit([{ kind: 'k', key: 'a', value: null }]);
    assert.equal(await s.get('k', 'a'), undefined);
  });

  withStore('expectRev: 0 means must-not-exist; a mismatch fails the whole batch and writes nothing', async (s) => {
    await s.commit([{ kind: 'k', key: 'a', value: 'v1', expectRev: 0 }]);
    await assert.rejects(s.commit([{ kind: 'k', key: 'a', value: 'again', expectRev: 0 }]), ConflictError);
    const rev = await s.revision();
    await assert.rejects(
      s.commit([
        { kind: 'k', key: 'b', value: 'new' },
        { kind: 'k', key: 'a', value: 'stale', expectRev: 999 },
      ]),
      (e: unknown) => e instanceof ConflictError && e.key === 'a' && e.expected === 999 && e.actual === 1,
    );
    assert.equal(await s.get('k', 'b'), undefined);
    assert.equal((await s.get('k', 'a'))?.value, 'v1');
    assert.equal(await s.revision(), rev);
    await s.commit([{ kind: 'k', key: 'a', value: 'v2', expectRev: 1 }]);
    assert.equal((await s.get('k', 'a'))?.value, 'v2');
  });

  withStore('list: key order, prefix, after, limit', async (s) => {
    await s.commit(['r2/b', 'r1/c', 'r1/a', 'r1/b', 'r10/a'].map((key) => ({ kind: 'k', key, value: key })));
    assert.deepEqual((await s.list('k')).map((r) => r.key), ['r1/a', 'r1/b', 'r1/c', 'r10/a', 'r2/b']);
    assert.deepEqual((await s.list('k', { prefix: 'r1/' })).map((r) => r.key), ['r1/a', 'r1/b', 'r1/c']);
    assert.deepEqual((await s.list('k', { prefix: 'r1/', after: 'r1/a', limit: 1 })).map((r) => r.key), ['r1/b']);
    assert.deepEqual((await s.list('k', { prefix: 'nothing/' })), []);
  });

  withStore('prefixes with LIKE metacharacters are literal', async (s) => {
    await s.commit([{ kind: 'k', key: 'a%b/1', value: 1 }, { kind: 'k', key: 'axb/1', value: 2 }, { kind: 'k', key: 'a_b/1', value: 3 }]);
    assert.deepEqual((await s.list('k', { prefix: 'a%b/' })).map((r) => r.value), [1]);
    assert.deepEqual((await s.list('k', { prefix: 'a_b/' })).map((r) => r.value), [3]);
  });

  withStore('change feed lists every write after a revision, deletes included', async (s) => {
    await s.commit([{ kind: 'k', key: 'a', value: 1 }]);
    await s.commit([{ kind: 'k', key: 'a', value: 2 }, { kind: 'j', key: 'z', value: 'z' }]);
    await s.commit([{ kind: 'k', key: 'a', value: null }]);
    const all = await s.changes(0);
    assert.deepEqual(all.map((c) => [c.rev, c.kind, c.key, c.value]), [
      [1, 'k', 'a', 1],
      [2, 'k', 'a', 2],
      [2, 'j', 'z', 'z'],
      [3, 'k', 'a', null],
    ]);
    assert.deepEqual((await s.changes(2)).map((c) => c.rev), [3]);
    assert.deepEqual((await s.changes(0, 1)).map((c) => c.rev), [1]);
  });

  withStore('a limited page of changes never ends in the middle of a revision', async (s) => {
    await s.commit([{ kind: 'k', key: 'a', value: 1 }, { kind: 'k', key: 'b', value: 2 }, { kind: 'k', key: 'c', value: 3 }]);
    await s.commit([{ kind: 'k', key: 'd', value: 4 }]);
    assert.deepEqual((await s.changes(0, 2)).map((c) => c.key), ['a', 'b', 'c']);
  });

  withStore('watch replays from a revision, then delivers new changes in order; unsubscribe stops it', async (s) => {
    await s.commit([{ kind: 'k', key: 'a', value: 1 }]);
    await s.commit([{ kind: 'k', key: 'b', value: 2 }]);
    const seen: Change[] = [];
    const stop = s.watch(1, (c) => seen.push(c));
    await s.commit([{ kind: 'k', key: 'c', value: 3 }]);
    // Delivery may be asynchronous (a shared store reads its feed back), but never out of order.
    await eventually(() => seen.length >= 2, { what: 'watched changes' });
    assert.deepEqual(seen.map((c) => c.key), ['b', 'c']);
    stop();
    // A second watcher is the sentinel: once it has seen 'e', the stopped one would have too.
    const probe: string[] = [];
    const stopProbe = s.watch(await s.revision(), (c) => probe.push(c.key));
    await s.commit([{ kind: 'k', key: 'd', value: 4 }]);
    await s.commit([{ kind: 'k', key: 'e', value: 5 }]);
    await eventually(() => probe.includes('e'), { what: 'the sentinel watcher' });
    stopProbe();
    assert.equal(seen.length, 2);
  });

  withStore('concurrent read-modify-writes retried on conflict (the domain\'s write primitive) all land', async (s) => {
    await s.commit([{ kind: 'k', key: 'counter', value: 0 }]);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        retrying('counter', async () => {
          const cur = (await s.get<number>('k', 'counter'))!;
          await new Promise((r) => setImmediate(r));
          await s.commit([{ kind: 'k', key: 'counter', value: cur.value + 1, expectRev: cur.rev }]);
        }),
      ),
    );
    assert.equal((await s.get('k', 'counter'))?.value, 20);
  });

  withStore('values round-trip as JSON (unicode, nesting, numbers)', async (s) => {
    const v = { s: 'héllo ✓ \u0000 "quoted"', n: 1.5, big: 2 ** 53 - 1, nested: { list: [null, true, { x: [] }] } };
    await s.commit([{ kind: 'k', key: 'ü/🔑', value: v }]);
    assert.deepEqual((await s.get('k', 'ü/🔑'))?.value, v);
  });

  withStore('reset removes all records', async (s) => {
    await s.commit([{ kind: 'k', key: 'a', value: 1 }]);
    await s.reset();
    assert.equal(await s.get('k', 'a'), undefined);
    assert.deepEqual(await s.list('k'), []);
  });
}
