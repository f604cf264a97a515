// Unit tests of the CloudWatch Logs filter-pattern compiler (terms, JSON, space-delimited).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilterPattern, FilterPatternError } from '../../src/domain/logs/filterPattern.js';

const m = (pattern: string, message: string) => compileFilterPattern(pattern).matches(message);

test('empty pattern matches everything', () => {
  assert.equal(m('', 'anything'), true);
  assert.equal(m('   ', 'x'), true);
});

test('terms: all must appear, case-sensitive', () => {
  assert.equal(m('ERROR', '[ERROR] disk full'), true);
  assert.equal(m('ERROR', '[error] disk full'), false);
  assert.equal(m('ERROR disk', '[ERROR] disk full'), true);
  assert.equal(m('ERROR memory', '[ERROR] disk full'), false);
  assert.deepEqual(compileFilterPattern('ERROR disk').requiredLiterals, ['ERROR', 'disk']);
});

test('quoted phrases, optional and excluded terms', () => {
  assert.equal(m('"ERROR"', 'an ERROR here'), true);
  assert.equal(m('"disk full"', 'ERROR disk full'), true);
  assert.equal(m('"disk full"', 'ERROR full disk'), false);
  assert.equal(m('"[ERROR]: x"', 'a [ERROR]: x'), true);
  assert.equal(m('?ERROR ?WARN', 'WARN low'), true);
  assert.equal(m('?ERROR ?WARN', 'INFO ok'), false);
  assert.equal(m('ERROR -timeout', 'ERROR disk'), true);
  assert.equal(m('ERROR -timeout', 'ERROR timeout'), false);
  assert.equal(m('"with \\"quote\\""', 'x with "quote" y'), true);
  assert.equal(m('%ERR(OR)?\\d%', 'ERROR5'), true);
  assert.equal(m('%ERR(OR)?\\d%', 'ERRORx'), false);
});

test('JSON patterns: equality, wildcard, numbers, &&, ||, IS NULL, EXISTS', () => {
  const ev = JSON.stringify({ level: 'error', latency: 750, user: { id: 'u-17', admin: false }, items: ['a', 'b'], gone: null });
  assert.equal(m('{ $.level = "error" }', ev), true);
  assert.equal(m('{ $.level = "info" }', ev), false);
  assert.equal(m('{ $.level != "info" }', ev), true);
  assert.equal(m('{ $.level = err* }', ev), true);
  assert.equal(m('{ $.latency > 500 }', ev), true);
  assert.equal(m('{ $.latency <= 500 }', ev), false);
  assert.equal(m('{ $.latency = 750 }', ev), true);
  assert.equal(m('{ $.user.id = "u-17" && $.latency >= 750 }', ev), true);
  assert.equal(m('{ $.user.id = "u-18" || $.latency < 10 }', ev), false);
  assert.equal(m('{ ($.user.id = "u-18" || $.level = "error") && $.items[1] = "b" }', ev), true);
  assert.equal(m('{ $.user.admin IS FALSE }', ev), true);
  assert.equal(m('{ $.gone IS NULL }', ev), true);
  assert.equal(m('{ $.level IS NULL }', ev), false);
  assert.equal(m('{ $.missing NOT EXISTS }', ev), true);
  assert.equal(m('{ $.level EXISTS }', ev), true);
  assert.equal(m('{ $.level = "error" }', 'not json error'), false);
});

test('space-delimited patterns', () => {
  const line = '127.0.0.1 frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534';
  assert.equal(m('[ip, user, timestamp, request, status_code = 404, bytes]', line), true);
  assert.equal(m('[ip, user, timestamp, request, status_code = 4*, bytes > 1000]', line), true);
  assert.equal(m('[ip, user, ..., status_code = 200, bytes]', line), false);
  assert.equal(m('[ip = 127.0.0.1, ...]', line), true);
});

test('malformed patterns are rejected with a reason', () => {
  for (const bad of ['"unterminated', '{ $.level = }', '{ $.level ', '{ level = "x" }', '{ $.a > abc }', 'foo-bar', '?', '%unclosed', '{ $.a = 1 && }', '[a, b']) {
    assert.throws(() => compileFilterPattern(bad), FilterPatternError, `pattern ${bad} should be rejected`);
  }
});
