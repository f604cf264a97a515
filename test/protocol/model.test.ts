// The API-model walks the gateway and the agent rely on, on a small model of their own: type
// checks and constraints in nested lists and maps, timestamps as awsJson has them (epoch
// seconds; a number no date can hold is refused, not turned into an Invalid Date), error
// messages that stay short however much is wrong, and `parseJson` for a client that checks
// what it receives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceModel } from '../../src/protocol/model.js';
import type { ModelDocument } from '../../src/protocol/modelShapes.js';
import { ServiceError } from '../../src/errors.js';

const doc: ModelDocument = {
  metadata: { apiVersion: '2026-01-01', endpointPrefix: 't', protocol: 'json', serviceId: 'T', targetPrefix: 'T' },
  operations: { Put: { name: 'Put', input: { shape: 'PutRequest' } } },
  shapes: {
    PutRequest: { type: 'structure', members: { at: { shape: 'Timestamp' }, items: { shape: 'Items' }, labels: { shape: 'Labels' } }, required: ['items'] },
    Items: { type: 'list', member: { shape: 'Item' }, max: 3 },
    Item: { type: 'structure', members: { name: { shape: 'Name' }, ports: { shape: 'Ports' }, kind: { shape: 'Kind' } }, required: ['name'] },
    Ports: { type: 'list', member: { shape: 'Port' }, max: 2 },
    Port: { type: 'integer', min: 0, max: 65535 },
    Name: { type: 'string', min: 1, max: 8 },
    Kind: { type: 'string', enum: ['a', 'b'] },
    Labels: { type: 'map', key: { shape: 'Name' }, value: { shape: 'Name' }, max: 2 },
    Timestamp: { type: 'timestamp' },
  },
};
const model = new ServiceModel(doc);

function decode(body: unknown): Record<string, unknown> {
  return model.decodeJsonInput('Put', body, 'ValidationException');
}

function refusal(body: unknown): ServiceError {
  try {
    decode(body);
  } catch (e) {
    if (e instanceof ServiceError) return e;
    throw e;
  }
  assert.fail(`accepted ${JSON.stringify(body).slice(0, 100)}`);
}

test('timestamps: epoch seconds (fractions kept), numeric and ISO strings; what no date can hold is a SerializationException', () => {
  assert.deepEqual(decode({ items: [], at: 1_700_000_000.25 }).at, new Date(1_700_000_000_250));
  assert.deepEqual(decode({ items: [], at: '1700000000' }).at, new Date(1_700_000_000_000));
  // A time sent as epoch ms / 1000 (as Berth's own encoder does) comes back as the same ms.
  for (let ms = 1_764_600_000_000; ms < 1_764_600_000_000 + 5_000; ms += 7) assert.equal((decode({ items: [], at: ms / 1000 }).at as Date).getTime(), ms);
  assert.deepEqual(decode({ items: [], at: '2026-01-02T03:04:05.000Z' }).at, new Date('2026-01-02T03:04:05.000Z'));
  for (const at of [1e20, -1e20, 'yesterday', true, [1]]) {
    const e = refusal({ items: [], at });
    assert.equal(e.code, 'SerializationException', String(at));
    assert.match(e.message, /can not be converted to a Timestamp \(.*\) at 'at'/);
  }
});

test('constraints inside nested lists and maps are checked, with the path of each value', () => {
  const e = refusal({ items: [{ name: 'ok', ports: [80, 70000] }, { name: '', kind: 'c' }, { ports: [1, 2, 3] }], labels: { toolongkey: 'v' } });
  assert.equal(e.code, 'ValidationException');
  assert.match(e.message, /^6 validation errors detected: /);
  // A list of scalars is judged as a whole, naming every constraint of its members (AWS's form).
  assert.match(e.message, /Value '\[80, 70000\]' at 'items\.1\.member\.ports' failed to satisfy constraint: Member must satisfy constraint: \[Member must have value less than or equal to 65535, Member must have value greater than or equal to 0\]/);
  assert.match(e.message, /Value '' at 'items\.2\.member\.name' failed to satisfy constraint: Member must have length greater than or equal to 1/);
  assert.match(e.message, /Value 'c' at 'items\.2\.member\.kind' failed to satisfy constraint: Member must satisfy enum value set: \[a, b\]/);
  assert.match(e.message, /Value null at 'items\.3\.member\.name' failed to satisfy constraint: Member must not be null/);
  assert.match(e.message, /Value '\[1, 2, 3\]' at 'items\.3\.member\.ports' failed to satisfy constraint: Member must have length less than or equal to 2/);
  assert.match(e.message, /Value '\{toolongkey=v\}' at 'labels' failed to satisfy constraint: Map keys must satisfy constraint: \[Member must have length less than or equal to 8, Member must have length greater than or equal to 1\]/);
  // A wrong type deep down is a SerializationException naming where.
  const t = refusal({ items: [{ name: 'ok', ports: 1 }] });
  assert.equal(t.code, 'SerializationException');
  assert.equal(t.message, "NUMBER_VALUE can not be converted to a list at 'items.1.member.ports'");
});

test('however much is wrong, the message names ten problems and counts the rest', () => {
  const many = Array.from({ length: 100_000 }, () => ({ name: '', ports: 'x' }));
  const ser = refusal({ items: many });
  assert.equal(ser.code, 'SerializationException');
  assert.match(ser.message, /; and 99990 more$/);
  assert.ok(ser.message.length < 1_000, `${ser.message.length} characters`);

  const val = refusal({ items: Array.from({ length: 100_000 }, () => ({ name: '' })) });
  assert.equal(val.code, 'ValidationException');
  assert.match(val.message, /^100001 validation errors detected: /);
  assert.match(val.message, /^[^;]*Value '\[\{\.\.\.\}(, \{\.\.\.\}){9}, \.\.\. \(100000 items\)\]' at 'items' failed to satisfy constraint: Member must have length less than or equal to 3/);
  assert.ok(val.message.length < 2_000, `${val.message.length} characters`);
});

test('parseJson answers instead of throwing: the typed value, or what is wrong with it', () => {
  const good = model.parseJson<{ name: string; ports?: number[] }>('Item', { name: 'web', ports: [80], extra: 'dropped' });
  assert.deepEqual(good, { ok: true, value: { name: 'web', ports: [80] } });
  assert.deepEqual(model.parseJson('Item', { name: 'web', ports: [80, 'x'] }), { ok: false, problem: "STRING_VALUE can not be converted to an Integer (a whole number from -2147483648 to 2147483647) at 'ports.2.member'" });
  assert.deepEqual(model.parseJson('Item', { ports: [99999] }), {
    ok: false,
    problem:
      "Value null at 'name' failed to satisfy constraint: Member must not be null; Value '[99999]' at 'ports' failed to satisfy constraint: Member must satisfy constraint: [Member must have value less than or equal to 65535, Member must have value greater than or equal to 0]",
  });
  assert.equal(model.parseJson('Item', null).ok, false);
  assert.equal(model.parseJson('Item', 'web').ok, false);
});
