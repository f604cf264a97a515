// Patterns clients supply run in linear time (issue 12): ALB rule wildcards and CloudWatch Logs
// value wildcards through the glob matcher, regular expressions (SSM AllowedPattern, Logs
// `%regex%`, placement `=~`) through RE2. Each test feeds an input that makes a backtracking
// matcher run for minutes; a regression shows up as a test that does not finish (and the
// answers are checked against a plain reference matcher). Speed figures live in bench/patterns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PutParameterCommand, GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { compileGlob } from '../../src/domain/glob.js';
import { compileLinearRegex, RegexSyntaxError, MAX_REGEX_SOURCE } from '../../src/domain/regex.js';
import { compileFilterPattern, FilterPatternError } from '../../src/domain/logs/filterPattern.js';
import { CqlError, compileCql } from '../../src/domain/placement/cql.js';
import { compileModelPattern, hasNestedQuantifier } from '../../src/protocol/modelPatterns.js';
import { startTestBerth, errorOf, type TestBerth } from '../helpers/fixture.js';

/** A small deterministic PRNG (mulberry32), so failures reproduce from the seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The textbook wildcard matcher (dynamic programming over pattern x text): slow, obviously right. */
function referenceGlob(pattern: string, text: string, foldCase: boolean, questionIsWild: boolean): boolean {
  const p = foldCase ? pattern.toLowerCase() : pattern;
  const t = foldCase ? text.toLowerCase() : text;
  let row = Array.from({ length: t.length + 1 }, (_, j) => j === 0);
  for (let i = 1; i <= p.length; i++) {
    const c = p[i - 1]!;
    const next = new Array<boolean>(t.length + 1).fill(false);
    next[0] = c === '*' && row[0]!;
    for (let j = 1; j <= t.length; j++) {
      if (c === '*') next[j] = row[j]! || next[j - 1]!;
      else next[j] = row[j - 1]! && ((questionIsWild && c === '?') || c === t[j - 1]);
    }
    row = next;
  }
  return row[t.length]!;
}

test('the glob matcher agrees with the reference on 4,000 random patterns and texts', () => {
  const rand = rng(12);
  const alphabet = ['a', 'b', 'A', '/', '?', '*', '.'];
  const pick = (n: number, chars: string[]) => Array.from({ length: Math.floor(rand() * n) }, () => chars[Math.floor(rand() * chars.length)]).join('');
  for (let i = 0; i < 4000; i++) {
    const pattern = pick(8, alphabet);
    const text = pick(12, ['a', 'b', 'A', '/', '?', '.', '*']);
    const fold = rand() < 0.5;
    const q = rand() < 0.7;
    assert.equal(compileGlob(pattern, fold, q)(text), referenceGlob(pattern, text, fold, q), `pattern ${JSON.stringify(pattern)} text ${JSON.stringify(text)} fold=${fold} ?=${q}`);
  }
});

test('a 64 KiB path against a pattern of five wildcards is matched, right, without backtracking', () => {
  const glob = compileGlob('/*a*a*a*a*b', false);
  // Every `a`, no `b`: a backtracking matcher tries about n^4 splits here.
  const hostile = '/' + 'a'.repeat(64 * 1024);
  assert.equal(glob(hostile), false);
  assert.equal(glob(hostile + 'b'), true);
  assert.equal(glob('/' + 'ab'.repeat(32 * 1024)), true);
  const q = compileGlob('/*?a?*?a?*b', false);
  assert.equal(q('/' + 'a'.repeat(64 * 1024)), false);
  assert.equal(q('/xaxyaxb'), true);
  // Astral characters: `?` is one UTF-16 unit, consistently in pattern and text.
  assert.equal(compileGlob('/\u{1F600}*', false)('/\u{1F600}/x'), true);
});

test('regular expressions run on RE2: catastrophic patterns finish, backtracking-only constructs are refused with a reason', () => {
  const nested = compileLinearRegex('^(a+)+$');
  assert.equal(nested.test('a'.repeat(100_000) + '!'), false);
  assert.equal(nested.test('a'.repeat(100_000)), true);
  assert.equal(compileLinearRegex('(x+x+)+y').test('x'.repeat(50_000)), false);
  assert.equal(compileLinearRegex('b').testWhole('abc'), false);
  assert.equal(compileLinearRegex('b').test('abc'), true);
  assert.equal(compileLinearRegex('ERR(OR)?\\d').test('an ERROR5'), true);
  for (const [pattern, why] of [
    ['(a)\\1', /backreferences/],
    ['a(?=b)', /lookahead/],
    ['(?<!x)y', /lookbehind/],
    ['(?:a{1000}){1000}', /invalid repeat count/],
    ['(', /missing closing \)|missing/],
  ] as const) {
    assert.throws(() => compileLinearRegex(pattern), (e: Error) => e instanceof RegexSyntaxError && why.test(e.message), pattern);
  }
  assert.throws(() => compileLinearRegex('a'.repeat(MAX_REGEX_SOURCE + 1)), /at most 4096/);
  assert.throws(() => compileLinearRegex('.{1000}'.repeat(21)), /instructions/);
});

test('Logs filter patterns: wildcards in values, %regex% terms and ellipses cost linear time', () => {
  const wide = JSON.stringify({ path: '/' + 'a'.repeat(200_000) });
  assert.equal(compileFilterPattern('{ $.path = "/*a*a*a*a*b" }').matches(wide), false);
  assert.equal(compileFilterPattern('{ $.path = /*a*a*a* }').matches(wide), true);
  // Logs values know only `*`: a `?` is itself.
  assert.equal(compileFilterPattern('{ $.q = "a?c" }').matches('{"q":"abc"}'), false);
  assert.equal(compileFilterPattern('{ $.q = "a?c" }').matches('{"q":"a?c"}'), true);
  assert.equal(compileFilterPattern('%(a+)+$%').matches('a'.repeat(100_000) + '!'), false);
  assert.throws(() => compileFilterPattern('%(a)\\1%'), (e: Error) => e instanceof FilterPatternError && /backreferences/.test(e.message));
  // Five ellipses over 20,000 fields: an exponential search would not finish.
  const line = Array.from({ length: 20_000 }, (_, i) => `f${i % 7}`).join(' ');
  const five = compileFilterPattern('[..., a = f1, ..., b = f2, ..., c = nope, ..., d, ...]');
  assert.equal(five.matches(line), false);
  assert.equal(compileFilterPattern('[..., a = f1, ..., b = f2, ..., c = f6, ...]').matches(line), true);
  // The last of the 20,000 fields is f0 (19,999 = 7 x 2,857).
  assert.equal(compileFilterPattern('[first, ..., last = f3]').matches(line), false);
  assert.equal(compileFilterPattern('[first = f0, ..., last = f0]').matches(line), true);
});

test('placement expressions: =~ matches whole values in linear time; a backreference is a CqlError', () => {
  const inst = { attributes: { 'ecs.instance-type': 'a'.repeat(50_000) + '!' }, agentConnected: true, runningTasksCount: 0, taskGroups: [] };
  assert.equal(compileCql('attribute:ecs.instance-type =~ (a+)+')(inst), false);
  assert.equal(compileCql('attribute:ecs.instance-type =~ (a+)+!')(inst), true);
  assert.equal(compileCql('attribute:ecs.instance-type =~ a')(inst), false, 'whole value, not a substring');
  assert.throws(() => compileCql('attribute:x =~ (a)\\1'), (e: Error) => e instanceof CqlError && /backreferences/.test(e.message));
});

let berth: TestBerth;
before(async () => {
  berth = await startTestBerth();
});
after(async () => {
  await berth.close();
});

test('SSM AllowedPattern: a catastrophic pattern answers at once; an unsupported one is InvalidAllowedPatternException; nothing stored', async () => {
  const ssm = new SSMClient(berth.clientConfig);
  try {
    const mismatch = await errorOf(ssm.send(new PutParameterCommand({ Name: '/p/nested', Type: 'String', Value: 'a'.repeat(4000) + '!', AllowedPattern: '^(a+)+$' })));
    assert.equal(mismatch.name, 'ParameterPatternMismatchException');
    assert.equal(mismatch.status, 400);
    const bad = await errorOf(ssm.send(new PutParameterCommand({ Name: '/p/backref', Type: 'String', Value: 'aa', AllowedPattern: '(a)\\1' })));
    assert.equal(bad.name, 'InvalidAllowedPatternException');
    assert.match(bad.message, /backreferences/);
    for (const name of ['/p/nested', '/p/backref']) assert.equal((await errorOf(ssm.send(new GetParameterCommand({ Name: name })))).name, 'ParameterNotFound');
    await ssm.send(new PutParameterCommand({ Name: '/p/ok', Type: 'String', Value: '1234', AllowedPattern: '^\\d+$' }));
    assert.equal((await ssm.send(new GetParameterCommand({ Name: '/p/ok' }))).Parameter?.Value, '1234');
  } finally {
    ssm.destroy();
  }
});

test("the models' own patterns, run as the validator runs them, stay fast on 100,000-character inputs built against them", async () => {
  const { readFileSync, readdirSync } = await import('node:fs');
  const dir = new URL('../../../src/models/', import.meta.url);
  const patterns = new Set<string>();
  for (const f of readdirSync(dir)) {
    const m = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { shapes: Record<string, { pattern?: string }> };
    for (const s of Object.values(m.shapes)) if (s.pattern) patterns.add(s.pattern);
  }
  assert.ok(patterns.size > 50, `${patterns.size} patterns`);
  // Runs of characters the patterns accept, each ended by one they refuse: what makes a
  // backtracking engine try every split. A super-linear pattern here would not finish.
  const hostile = ['a', 'a-', 'a.', 'a/', 'a|', 'a:', '0', ' ', 'a_', '-', 'a*'].map((unit) => unit.repeat(Math.floor(100_000 / unit.length)) + '\u0000!');
  let tried = 0;
  let onRe2 = 0;
  for (const p of patterns) {
    // What the validator runs: RegExp, or RE2 for patterns with nested quantifiers.
    const matcher = compileModelPattern(p);
    if (!matcher) continue; // the validator skips these too
    if (matcher.engine === 're2') onRe2++;
    // The answer must be the linear-time engine's (where RE2 takes the pattern); finishing at all is the point.
    let linear: ReturnType<typeof compileLinearRegex> | undefined;
    try {
      linear = compileLinearRegex(`^(?:${p})$`);
    } catch {
      linear = undefined;
    }
    for (const s of hostile) {
      const got = matcher.test(s);
      if (linear) assert.equal(got, linear.test(s), `${p} on ${JSON.stringify(s.slice(0, 12))}...`);
    }
    tried++;
  }
  assert.ok(tried > 50);
  // ECR's ScanningRepositoryFilterValue is exponential on RegExp; it must be one of these.
  assert.equal(compileModelPattern('^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$')?.engine, 're2');
  assert.ok(onRe2 > 0);
});

test('the nested-quantifier check finds the shapes that backtrack, and only those', () => {
  for (const p of ['(a+)*', '(?:x?y+)*', 'arn:aws(-[a-z]+)*:x', '(?<n>a+)+', '((ab)+c)+', '(a|b*){2,}']) assert.equal(hasNestedQuantifier(p), true, p);
  for (const p of ['[0-9]{12}', '(?:abc)+', '[a-z]{2,25}', '(\\.|_|__|-+)', '((a)b){3}', '[(a+)*]', '\\(a+\\)*', '(a+)?']) assert.equal(hasNestedQuantifier(p), false, p);
});
