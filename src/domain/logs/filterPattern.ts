/**
 * The CloudWatch Logs filter-pattern compiler: turns a `filterPattern` string into a predicate
 * over event messages, plus the literal substrings every match must contain (so storage can
 * push them down and skip most rows without running the predicate).
 *
 * Supported syntax (matching is case-sensitive, as on AWS):
 * - empty pattern: every event;
 * - terms: `ERROR Exception` (all must appear), `"quoted phrase"`, `?ERROR ?WARN` (any of the
 *   `?` terms), `-DEBUG` (must not appear), `%regex%`; unquoted terms may hold letters, digits
 *   and `_` only (others must be quoted);
 * - JSON patterns: `{ $.level = "error" }`, `{ $.latency > 500 }`, `=`, `!=`, `<`, `<=`, `>`,
 *   `>=`, string values with `*` wildcards or `%regex%`, `IS NULL`, `IS TRUE`, `IS FALSE`,
 *   `EXISTS`, `NOT EXISTS`, selectors like `$.a.b[0].c`, combined with `&&`, `||` and
 *   parentheses;
 * - space-delimited patterns `[ip, user, ..., status = 4*, size > 100]`.
 * Anything else throws {@link FilterPatternError} (`compilePattern` in ./events.ts turns it
 * into InvalidParameterException). Pure: FilterLogEvents uses it, and so will anything else
 * that matches events against a pattern (subscription and metric filters).
 */

import { compileGlob, type Glob } from '../glob.js';
import { compileLinearRegex, type LinearRegex } from '../regex.js';

/** A compiled filter pattern. */
export interface CompiledPattern {
  /** True if the event message matches. */
  matches(message: string): boolean;
  /** Substrings every matching message contains (may be empty). */
  requiredLiterals: string[];
  /**
   * The values a matching message gives the pattern's fields, for metric filters' `metricValue`
   * and dimensions: JSON patterns answer any `$.selector`, space-delimited ones `$name` for each
   * named field; undefined when the message does not match. Term patterns have no fields.
   */
  fields?(message: string): FieldValues | undefined;
  /** A space-delimited pattern's named fields, in order (what `$name` may refer to). */
  fieldNames?: string[];
}

/** Looks up a field reference (`$.a.b[0]` or `$name`) in one matched message. */
export type FieldValues = (ref: string) => string | undefined;

/**
 * Compiles a field reference as metric filters write them (`$.latency`, `$.a.b[0].c`, or a
 * space-delimited field `$status`); throws FilterPatternError when malformed.
 */
export function checkFieldRef(ref: string): void {
  if (/^\$[A-Za-z0-9_-]+$/.test(ref)) return;
  const lx = new Lexer(ref);
  parseSelector(lx);
  if (!lx.done()) throw new FilterPatternError(`Invalid field reference '${ref.slice(0, 100)}': expected $.field or $name.`);
}

function scalarText(v: unknown): string | undefined {
  if (v === undefined || v === null || typeof v === 'object') return undefined;
  return String(v);
}

/** A syntax error in a filter pattern, with a message saying what and where. */
export class FilterPatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterPatternError';
  }
}

/** Compiles `pattern`; throws FilterPatternError when it is malformed. */
export function compileFilterPattern(pattern: string | undefined): CompiledPattern {
  const p = (pattern ?? '').trim();
  if (p === '') return { matches: () => true, requiredLiterals: [] };
  if (p.startsWith('{')) return compileJson(p);
  if (p.startsWith('[')) return compileSpaceDelimited(p);
  return compileTerms(p);
}

// ---------------------------------------------------------------------------------------------
// Unstructured terms

interface Term {
  kind: 'required' | 'optional' | 'excluded';
  test: (m: string) => boolean;
  literal?: string;
}

/** A `%regex%` term, compiled for linear-time matching (see ../regex.ts). */
function compileRegex(src: string, where: string): LinearRegex {
  try {
    return compileLinearRegex(src);
  } catch (e) {
    throw new FilterPatternError(`Invalid regular expression %${src}% in ${where}: ${(e as Error).message}.`);
  }
}

function compileTerms(p: string): CompiledPattern {
  const terms: Term[] = [];
  let i = 0;
  while (i < p.length) {
    if (/\s/.test(p[i]!)) {
      i++;
      continue;
    }
    let kind: Term['kind'] = 'required';
    if (p[i] === '?') {
      kind = 'optional';
      i++;
    } else if (p[i] === '-') {
      kind = 'excluded';
      i++;
    }
    if (i >= p.length || /\s/.test(p[i]!)) throw new FilterPatternError(`Invalid filter pattern: '${kind === 'optional' ? '?' : '-'}' must be followed by a term.`);
    if (p[i] === '"') {
      const [text, next] = readQuoted(p, i);
      i = next;
      terms.push({ kind, test: (m) => m.includes(text), literal: text });
    } else if (p[i] === '%') {
      const end = p.indexOf('%', i + 1);
      if (end < 0) throw new FilterPatternError('Invalid filter pattern: regular expression is missing its closing %.');
      const re = compileRegex(p.slice(i + 1, end), 'the filter pattern');
      i = end + 1;
      terms.push({ kind, test: (m) => re.test(m) });
    } else {
      let j = i;
      while (j < p.length && !/\s/.test(p[j]!)) j++;
      const word = p.slice(i, j);
      if (!/^[A-Za-z0-9_]+$/.test(word)) {
        throw new FilterPatternError(
          `Invalid character(s) in term '${word}': terms containing characters other than letters, digits and '_' must be enclosed in double quotes.`,
        );
      }
      i = j;
      terms.push({ kind, test: (m) => m.includes(word), literal: word });
    }
  }
  const required = terms.filter((t) => t.kind === 'required');
  const optional = terms.filter((t) => t.kind === 'optional');
  const excluded = terms.filter((t) => t.kind === 'excluded');
  return {
    requiredLiterals: required.flatMap((t) => (t.literal ? [t.literal] : [])),
    matches(m) {
      for (const t of required) if (!t.test(m)) return false;
      for (const t of excluded) if (t.test(m)) return false;
      return optional.length === 0 || optional.some((t) => t.test(m));
    },
  };
}

/** Reads a double-quoted string starting at p[i] === '"'; returns [text, index after]. */
function readQuoted(p: string, i: number): [string, number] {
  let out = '';
  let j = i + 1;
  while (j < p.length) {
    const c = p[j]!;
    if (c === '\\' && j + 1 < p.length) {
      out += p[j + 1];
      j += 2;
      continue;
    }
    if (c === '"') return [out, j + 1];
    out += c;
    j++;
  }
  throw new FilterPatternError('Invalid filter pattern: unterminated quoted string.');
}

// ---------------------------------------------------------------------------------------------
// Values shared by JSON and space-delimited patterns

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=';

interface Value {
  kind: 'string' | 'number' | 'regex';
  text: string;
  num?: number;
  re?: LinearRegex;
  /** For a string with `*` wildcards: its matcher (compiled once, with the pattern). */
  glob?: Glob;
}

/** Compares a field's value to a pattern value; `undefined` field never matches. */
function compare(field: unknown, op: Op, v: Value): boolean {
  if (field === undefined) return false;
  if (op === '<' || op === '<=' || op === '>' || op === '>=') {
    const n = typeof field === 'number' ? field : typeof field === 'string' && field.trim() !== '' ? Number(field) : NaN;
    if (Number.isNaN(n) || v.num === undefined) return false;
    return op === '<' ? n < v.num : op === '<=' ? n <= v.num : op === '>' ? n > v.num : n >= v.num;
  }
  let eq: boolean;
  if (v.kind === 'number') {
    const n = typeof field === 'number' ? field : typeof field === 'string' && field.trim() !== '' ? Number(field) : NaN;
    eq = n === v.num;
  } else if (field === null || typeof field === 'object') {
    eq = false;
  } else {
    const s = String(field);
    eq = v.kind === 'regex' ? v.re!.test(s) : v.glob ? v.glob(s) : s === v.text;
  }
  return op === '=' ? eq : !eq;
}

// ---------------------------------------------------------------------------------------------
// JSON patterns

type Pred = (doc: unknown) => boolean;

class Lexer {
  i = 0;
  constructor(readonly s: string) {}
  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }
  peek(str: string): boolean {
    this.ws();
    return this.s.startsWith(str, this.i);
  }
  eat(str: string): boolean {
    if (this.peek(str)) {
      this.i += str.length;
      return true;
    }
    return false;
  }
  expect(str: string, what: string): void {
    if (!this.eat(str)) throw new FilterPatternError(`Invalid filter pattern: expected ${what} at position ${this.i + 1}.`);
  }
  word(): string {
    this.ws();
    const m = /^[A-Za-z]+/.exec(this.s.slice(this.i));
    return m ? m[0] : '';
  }
  done(): boolean {
    this.ws();
    return this.i >= this.s.length;
  }
}

function parseSelector(lx: Lexer): (doc: unknown) => unknown {
  lx.ws();
  if (lx.s[lx.i] !== '$') throw new FilterPatternError(`Invalid filter pattern: expected a selector like $.field at position ${lx.i + 1}.`);
  lx.i++;
  const path: Array<string | number> = [];
  for (;;) {
    const c = lx.s[lx.i];
    if (c === '.') {
      const m = /^[A-Za-z0-9_@$-]+/.exec(lx.s.slice(lx.i + 1));
      if (!m) throw new FilterPatternError(`Invalid filter pattern: expected a field name after '.' at position ${lx.i + 2}.`);
      path.push(m[0]);
      lx.i += 1 + m[0].length;
    } else if (c === '[') {
      const m = /^\[(\d+)\]/.exec(lx.s.slice(lx.i));
      if (!m) throw new FilterPatternError(`Invalid filter pattern: expected an array index like [0] at position ${lx.i + 1}.`);
      path.push(Number(m[1]));
      lx.i += m[0].length;
    } else break;
  }
  if (path.length === 0) throw new FilterPatternError('Invalid filter pattern: a selector must name a field, e.g. $.level.');
  return (doc) => {
    let cur: unknown = doc;
    for (const k of path) {
      if (cur === null || typeof cur !== 'object') return undefined;
      if (typeof k === 'number') {
        if (!Array.isArray(cur)) return undefined;
        cur = cur[k];
      } else {
        if (Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, k)) return undefined;
        cur = (cur as Record<string, unknown>)[k];
      }
    }
    return cur;
  };
}

function parseValue(lx: Lexer, stop: RegExp): Value {
  lx.ws();
  const s = lx.s;
  if (s[lx.i] === '"') {
    const [text, next] = readQuoted(s, lx.i);
    lx.i = next;
    return stringValue(text);
  }
  if (s[lx.i] === '%') {
    const end = s.indexOf('%', lx.i + 1);
    if (end < 0) throw new FilterPatternError('Invalid filter pattern: regular expression is missing its closing %.');
    const src = s.slice(lx.i + 1, end);
    lx.i = end + 1;
    return { kind: 'regex', text: src, re: compileRegex(src, 'the filter pattern') };
  }
  let j = lx.i;
  while (j < s.length && !stop.test(s[j]!)) j++;
  const text = s.slice(lx.i, j);
  if (text === '') throw new FilterPatternError(`Invalid filter pattern: expected a value at position ${lx.i + 1}.`);
  lx.i = j;
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) return { kind: 'number', text, num: Number(text) };
  return stringValue(text);
}

/** A string value; `*` in it matches any run of characters (and `?` is an ordinary character). */
function stringValue(text: string): Value {
  return text.includes('*') ? { kind: 'string', text, glob: compileGlob(text, false, false) } : { kind: 'string', text };
}

function parseOp(lx: Lexer): Op | undefined {
  for (const op of ['!=', '<=', '>=', '=', '<', '>'] as const) if (lx.eat(op)) return op;
  return undefined;
}

function parseComparison(lx: Lexer): Pred {
  const sel = parseSelector(lx);
  const op = parseOp(lx);
  if (op) {
    const v = parseValue(lx, /[\s)&|}]/);
    if ((op === '<' || op === '<=' || op === '>' || op === '>=') && v.kind !== 'number') {
      throw new FilterPatternError(`Invalid filter pattern: '${op}' needs a number, got '${v.text}'.`);
    }
    return (doc) => compare(sel(doc), op, v);
  }
  const w1 = lx.word().toUpperCase();
  if (w1 === 'IS') {
    lx.i += 2;
    const w2 = lx.word().toUpperCase();
    lx.i += w2.length;
    if (w2 === 'NULL') return (doc) => sel(doc) === null;
    if (w2 === 'TRUE') return (doc) => sel(doc) === true;
    if (w2 === 'FALSE') return (doc) => sel(doc) === false;
    throw new FilterPatternError(`Invalid filter pattern: expected NULL, TRUE or FALSE after IS, got '${w2}'.`);
  }
  if (w1 === 'NOT') {
    lx.i += 3;
    const w2 = lx.word().toUpperCase();
    lx.i += w2.length;
    if (w2 === 'EXISTS') return (doc) => sel(doc) === undefined;
    throw new FilterPatternError(`Invalid filter pattern: expected EXISTS after NOT, got '${w2}'.`);
  }
  if (w1 === 'EXISTS') {
    lx.i += 6;
    return (doc) => sel(doc) !== undefined;
  }
  throw new FilterPatternError(`Invalid filter pattern: expected an operator (=, !=, <, <=, >, >=, IS, NOT EXISTS) at position ${lx.i + 1}.`);
}

function parseOr(lx: Lexer): Pred {
  const parts = [parseAnd(lx)];
  while (lx.eat('||')) parts.push(parseAnd(lx));
  return parts.length === 1 ? parts[0]! : (doc) => parts.some((p) => p(doc));
}

function parseAnd(lx: Lexer): Pred {
  const parts = [parsePrimary(lx)];
  while (lx.eat('&&')) parts.push(parsePrimary(lx));
  return parts.length === 1 ? parts[0]! : (doc) => parts.every((p) => p(doc));
}

function parsePrimary(lx: Lexer): Pred {
  if (lx.eat('(')) {
    const inner = parseOr(lx);
    lx.expect(')', "')'");
    return inner;
  }
  return parseComparison(lx);
}

function compileJson(p: string): CompiledPattern {
  if (!p.endsWith('}')) throw new FilterPatternError("Invalid filter pattern: a JSON filter pattern must end with '}'.");
  const lx = new Lexer(p.slice(1, -1));
  if (lx.done()) throw new FilterPatternError('Invalid filter pattern: a JSON filter pattern needs at least one condition.');
  const pred = parseOr(lx);
  if (!lx.done()) throw new FilterPatternError(`Invalid filter pattern: unexpected '${lx.s.slice(lx.i, lx.i + 10)}' at position ${lx.i + 2}.`);
  return {
    requiredLiterals: [],
    matches(m) {
      const t = m.trimStart();
      if (!t.startsWith('{') && !t.startsWith('[')) return false;
      let doc: unknown;
      try {
        doc = JSON.parse(m);
      } catch {
        return false;
      }
      return pred(doc);
    },
    fields(m) {
      let doc: unknown;
      try {
        doc = JSON.parse(m);
      } catch {
        return undefined;
      }
      if (!pred(doc)) return undefined;
      const selectors = new Map<string, (d: unknown) => unknown>();
      return (ref) => {
        if (!ref.startsWith('$.') && !ref.startsWith('$[')) return undefined;
        let sel = selectors.get(ref);
        if (!sel) {
          try {
            const lx = new Lexer(ref);
            sel = parseSelector(lx);
            if (!lx.done()) return undefined;
          } catch {
            return undefined;
          }
          selectors.set(ref, sel);
        }
        return scalarText(sel(doc));
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Space-delimited patterns: [field1, field2 = value, ..., fieldN > 3]

interface Field {
  name: string;
  ellipsis: boolean;
  conds: Array<{ op: Op; v: Value }>;
}

/** Splits a space-delimited log line: runs of spaces separate fields; "..." and [...] group. */
function splitFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && line[i] === ' ') i++;
    if (i >= line.length) break;
    const c = line[i]!;
    if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      const end = line.indexOf(close, i + 1);
      if (end > 0) {
        out.push(line.slice(i + 1, end));
        i = end + 1;
        continue;
      }
    }
    let j = i;
    while (j < line.length && line[j] !== ' ') j++;
    out.push(line.slice(i, j));
    i = j;
  }
  return out;
}

function compileSpaceDelimited(p: string): CompiledPattern {
  if (!p.endsWith(']')) throw new FilterPatternError("Invalid filter pattern: a space-delimited pattern must end with ']'.");
  const lx = new Lexer(p.slice(1, -1));
  const fields: Field[] = [];
  while (!lx.done()) {
    if (lx.eat('...')) {
      fields.push({ name: '...', ellipsis: true, conds: [] });
    } else {
      lx.ws();
      const m = /^[A-Za-z0-9_$.-]+/.exec(lx.s.slice(lx.i));
      if (!m) throw new FilterPatternError(`Invalid filter pattern: expected a field name at position ${lx.i + 2}.`);
      lx.i += m[0].length;
      const f: Field = { name: m[0], ellipsis: false, conds: [] };
      for (;;) {
        const op = parseOp(lx);
        if (!op) break;
        f.conds.push({ op, v: parseValue(lx, /[\s,&|\]]/) });
        if (!lx.eat('&&')) break;
      }
      fields.push(f);
    }
    if (!lx.eat(',')) break;
  }
  if (!lx.done()) throw new FilterPatternError(`Invalid filter pattern: unexpected '${lx.s.slice(lx.i, lx.i + 10)}' at position ${lx.i + 2}.`);
  return {
    requiredLiterals: [],
    fieldNames: fields.filter((f) => !f.ellipsis).map((f) => f.name),
    matches(m) {
      const values = splitFields(m);
      return matchFields(fields, values);
    },
    fields(m) {
      const values = splitFields(m);
      const bound = bindFields(fields, values);
      if (!bound) return undefined;
      return (ref) => (ref.startsWith('$') ? bound.get(ref.slice(1)) : undefined);
    },
  };
}

/**
 * The value each named field of a space-delimited pattern takes in a matching line (ellipses
 * take as few values as they can, left to right), or undefined when the line does not match.
 * The same table as `matchFields`, kept whole to walk forward through it.
 */
function bindFields(fields: Field[], values: string[]): Map<string, string> | undefined {
  const n = values.length;
  const tables: boolean[][] = new Array<boolean[]>(fields.length + 1);
  tables[fields.length] = Array.from({ length: n + 1 }, (_, vi) => vi === n);
  for (let fi = fields.length - 1; fi >= 0; fi--) {
    const f = fields[fi]!;
    const next = tables[fi + 1]!;
    const cur: boolean[] = new Array<boolean>(n + 1).fill(false);
    if (f.ellipsis) {
      cur[n] = next[n]!;
      for (let vi = n - 1; vi >= 0; vi--) cur[vi] = next[vi]! || cur[vi + 1]!;
    } else {
      for (let vi = 0; vi < n; vi++) cur[vi] = next[vi + 1]! && f.conds.every((c) => compare(values[vi]!, c.op, c.v));
    }
    tables[fi] = cur;
  }
  if (!tables[0]![0]) return undefined;
  const out = new Map<string, string>();
  let vi = 0;
  for (let fi = 0; fi < fields.length; fi++) {
    const f = fields[fi]!;
    if (f.ellipsis) {
      while (!tables[fi + 1]![vi]) vi++;
      continue;
    }
    out.set(f.name, values[vi]!);
    vi++;
  }
  return out;
}

/**
 * Whether `fields` match all of `values`: an ellipsis takes any run of values, every other
 * field exactly one. Computed from the last field back (ok[vi]: fields[fi..] match values[vi..]),
 * so a pattern with several ellipses costs at most fields x values steps, never a search that
 * grows exponentially with them.
 */
function matchFields(fields: Field[], values: string[]): boolean {
  const n = values.length;
  let next: boolean[] = Array.from({ length: n + 1 }, (_, vi) => vi === n);
  for (let fi = fields.length - 1; fi >= 0; fi--) {
    const f = fields[fi]!;
    const cur: boolean[] = new Array<boolean>(n + 1).fill(false);
    if (f.ellipsis) {
      cur[n] = next[n]!;
      for (let vi = n - 1; vi >= 0; vi--) cur[vi] = next[vi]! || cur[vi + 1]!;
    } else {
      for (let vi = 0; vi < n; vi++) cur[vi] = next[vi + 1]! && f.conds.every((c) => compare(values[vi]!, c.op, c.v));
    }
    next = cur;
  }
  return next[0]!;
}
