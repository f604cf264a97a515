// The Smithy RPC v2 CBOR decoder under bad input (bounded, fixed seed): random bytes, truncated
// and bit-flipped valid bodies, huge declared lengths and deep nesting must each end in a decoded
// value or a SerializationException (never another error, never a hang), within a time bound
// per case; then the same bodies, signed, at a real Berth get well-formed 4xx CBOR errors and
// change nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from 'cbor2';
import { ServiceError } from '../../src/errors.js';
import { decodeCborBody, MAX_DEPTH } from '../../src/protocol/cbor.js';
import { ServiceModel } from '../../src/protocol/model.js';
import { signRequest } from '../../src/protocol/sigv4.js';
import { Rng, stateChangedSince } from '../helpers/fuzz.js';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';

const SEED = 20261203;
const CASES = Number(process.env.BERTH_FUZZ_CASES ?? 700);
const model = ServiceModel.load('cloudwatch');

/** Valid bodies the mutations start from. */
const SEEDS: Buffer[] = [
  { Namespace: 'App', MetricData: [{ MetricName: 'M', Value: 1.5, Dimensions: [{ Name: 'a', Value: 'b' }], Timestamp: new Date() }] },
  { Namespace: 'App', MetricName: 'M', StartTime: new Date(0), EndTime: new Date(), Period: 60, Statistics: ['Sum'] },
  { AlarmNames: ['x', 'y'], MaxRecords: 10 },
  {},
].map((v) => Buffer.from(encode(v)));

/** Hand-made hostile bodies: lengths far past the body, deep nesting, odd types at the top. */
const HOSTILE: Buffer[] = [
  Buffer.from('9bffffffffffffffff', 'hex'), // array of 2^64-1 items
  Buffer.from('7bffffffffffffffff', 'hex'), // text of 2^64-1 bytes
  Buffer.from('5a7fffffff00', 'hex'), // bytes of 2^31-1
  Buffer.from('bbffffffffffffffff', 'hex'), // map of 2^64-1 pairs
  Buffer.from('9f'.repeat(10_000), 'hex'), // 10,000 open indefinite arrays
  Buffer.from('81'.repeat(100_000) + '00', 'hex'), // 100,000 nested arrays
  Buffer.from('a1'.repeat(50), 'hex'), // 50 maps, each missing its pair
  Buffer.from('c1fb7ff0000000000000', 'hex'), // tag 1 over +Infinity
  Buffer.from('a1694e616d657370616365c1fb7ff8000000000000', 'hex'), // Namespace: tag 1 NaN
  Buffer.from('a2614101614101', 'hex'), // duplicate keys
  Buffer.from('ff', 'hex'),
  Buffer.from('1bffffffffffffffff', 'hex'), // a bignum-sized integer at the top
  Buffer.from('d9d9f7a0', 'hex'), // self-described empty map
];

function mutate(rng: Rng, b: Buffer): Buffer {
  let out = Buffer.from(b);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = rng.int(out.length + 1);
    const roll = rng.next();
    if (roll < 0.3) out = Buffer.concat([out.subarray(0, at), Buffer.from([rng.int(256)]), out.subarray(at)]);
    else if (roll < 0.55 && out.length) out[Math.min(at, out.length - 1)] = rng.int(256);
    else if (roll < 0.7) out = out.subarray(0, at);
    else if (roll < 0.85) out = Buffer.concat([out.subarray(0, at), rng.pick(HOSTILE), out.subarray(at)]);
    else out = Buffer.concat([out, rng.pick(SEEDS)]);
  }
  return out;
}

function bodies(seed: number): Buffer[] {
  const rng = new Rng(seed);
  const out: Buffer[] = [...HOSTILE];
  while (out.length < CASES) out.push(rng.chance(0.1) ? Buffer.from(Array.from({ length: rng.int(64) }, () => rng.int(256))) : mutate(rng, rng.pick(SEEDS)));
  return out;
}

test('decodeCborBody: every bad body is a value or a SerializationException, each in bounded time; deep nesting is refused', () => {
  let refused = 0;
  let slowest = 0;
  for (const b of bodies(SEED)) {
    const t0 = performance.now();
    try {
      const v = decodeCborBody(b);
      // What decodes goes on to the model walk, which answers with ServiceErrors only.
      try {
        model.decodeJsonInput('PutMetricData', v, 'InvalidParameterValue', undefined, 'cbor');
      } catch (e) {
        assert.ok(e instanceof ServiceError, `model walk threw ${String(e)}`);
      }
    } catch (e) {
      assert.ok(e instanceof ServiceError && e.code === 'SerializationException', `${b.subarray(0, 32).toString('hex')}: ${String(e)}`);
      refused++;
    }
    slowest = Math.max(slowest, performance.now() - t0);
  }
  assert.ok(refused > CASES / 4, `most bad bodies are refused (${refused} of ${CASES})`);
  // A generous bound that only a runaway (quadratic or exponential) decode would reach.
  assert.ok(slowest < 2000, `slowest case took ${slowest.toFixed(0)} ms`);
  const deep = Buffer.from('81'.repeat(MAX_DEPTH + 5) + '00', 'hex');
  assert.throws(() => decodeCborBody(deep), (e) => e instanceof ServiceError && e.code === 'SerializationException');
});

let berth: TestBerth;
before(async () => {
  berth = await startTestBerth({ controller: { enabled: false } });
});
after(async () => {
  await berth?.close();
});

test('a real Berth answers mangled CBOR requests with well-formed 4xx CBOR errors, never 5xx, and changes nothing', async () => {
  const rng = new Rng(SEED + 1);
  const ops = ['PutMetricData', 'GetMetricStatistics', 'DescribeAlarms', 'PutMetricAlarm', 'ListMetrics'];
  const all = bodies(SEED + 2).slice(0, Math.min(CASES, 300));
  let client4xx = 0;
  for (const body of all) {
    const op = rng.pick(ops);
    const url = new URL(`${berth.url}/service/GraniteServiceVersion20100801/operation/${op}`);
    const headers = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/cbor', 'smithy-protocol': 'rpc-v2-cbor', accept: 'application/cbor' }, body, ...berth.credentials, region: 'us-east-1', service: 'monitoring' });
    delete headers.host;
    const before = await berth.platform.store.revision();
    const res = await fetch(url, { method: 'POST', headers, body: new Uint8Array(body), signal: AbortSignal.timeout(10_000) });
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.ok(res.status < 500, `${op} ${body.subarray(0, 40).toString('hex')} -> ${res.status}`);
    if (res.status >= 400) {
      client4xx++;
      assert.equal(res.headers.get('smithy-protocol'), 'rpc-v2-cbor');
      const err = decodeCborBody(bytes);
      assert.equal(typeof err.__type, 'string');
      assert.ok(res.headers.get('x-amzn-query-error')?.includes(';Sender'), 'the query code rides along');
      assert.equal(await stateChangedSince(berth, before), false, `a refused ${op} changed nothing`);
    }
  }
  assert.ok(client4xx > all.length / 4, `${client4xx} of ${all.length} refused`);
});
