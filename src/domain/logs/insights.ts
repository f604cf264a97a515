/**
 * CloudWatch Logs Insights queries: a parser and an incremental executor for the common
 * commands, pure (no I/O; `LogQueries` in ./queries.ts feeds it events in chunks).
 *
 * Commands, separated by `|`:
 * - `fields expr [as name], ...` and `display field, ...` (what the results show);
 * - `filter expr`: comparisons (`= != < <= > >=`), `like "text"` / `like /regex/` / `=~ /regex/`,
 *   `in [..]`, `not`, `and`, `or`, arithmetic, functions (`strlen tolower toupper concat abs
 *   floor ceil ispresent isempty`);
 * - `stats agg(expr) [as name], ... [by expr [as name], ...]` with `count(*)`, `count(expr)`,
 *   `count_distinct`, `sum`, `avg`, `min`, `max`, grouped by fields or `bin(5m)` (ms s m h d);
 * - `sort expr [asc|desc], ...`, `limit n`;
 * - `parse field "glob * with * wildcards" as a, b` and `parse field /regex (?<name>...)/`.
 * Regexes are RE2 (src/domain/regex.ts): linear time whatever the pattern. Fields are the
 * system fields (`@timestamp @message @logStream @log @ingestionTime`), fields made by earlier
 * commands, and, for JSON messages, the message's fields (`a.b` for nested ones).
 */
import { compileCapturingRegex, compileLinearRegex, RegexSyntaxError, type CapturingRegex, type LinearRegex } from '../regex.js';

/** Longest query string (AWS: 10,000 characters). */
export const MAX_QUERY_LENGTH = 10_000;
/** Most commands in one query. */
export const MAX_COMMANDS = 50;
/** Most groups a `stats` keeps (AWS returns at most 10,000 rows). */
export const MAX_STATS_GROUPS = 10_000;
/** Most records held for a `sort` not followed only by `limit`. */
export const MAX_SORT_RECORDS = 100_000;

/** A malformed query; the message says where. */
export class QuerySyntaxError extends Error {}

type Value = string | number | boolean | undefined;
/** One log record flowing through the query: field name -> value. */
export type QueryRecord = Record<string, Value>;

// ---- tokens -------------------------------------------------------------------------------------

type Tok = { t: 'id' | 'num' | 'str' | 're' | 'op' | 'pipe'; v: string; pos: number };

const KEYWORDS = new Set(['and', 'or', 'not', 'like', 'in', 'as', 'by', 'asc', 'desc']);

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const regexAllowed = () => {
    const p = out[out.length - 1];
    return !p || p.t === 'pipe' || (p.t === 'op' && p.v !== ')' && p.v !== ']') || (p.t === 'id' && (p.v === 'like' || p.v === 'and' || p.v === 'or' || p.v === 'not' || p.v === 'filter' || isParseField(out)));
  };
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < q.length && q[i] !== '\n') i++;
      continue;
    }
    const start = i;
    if (c === '|') {
      out.push({ t: 'pipe', v: '|', pos: i++ });
    } else if (c === '"' || c === "'") {
      let s = '';
      i++;
      while (i < q.length && q[i] !== c) {
        if (q[i] === '\\' && i + 1 < q.length) i++;
        s += q[i++];
      }
      if (i >= q.length) throw new QuerySyntaxError(`unterminated string starting at character ${start + 1}`);
      i++;
      out.push({ t: 'str', v: s, pos: start });
    } else if (c === '`') {
      const end = q.indexOf('`', i + 1);
      if (end < 0) throw new QuerySyntaxError(`unterminated \`field\` starting at character ${start + 1}`);
      out.push({ t: 'id', v: q.slice(i + 1, end), pos: start });
      i = end + 1;
    } else if (c === '/' && regexAllowed()) {
      let s = '';
      i++;
      while (i < q.length && q[i] !== '/') {
        if (q[i] === '\\' && q[i + 1] === '/') {
          s += '/';
          i += 2;
          continue;
        }
        if (q[i] === '\\' && i + 1 < q.length) s += q[i++];
        s += q[i++];
      }
      if (i >= q.length) throw new QuerySyntaxError(`unterminated /regex/ starting at character ${start + 1}`);
      i++;
      let flags = '';
      while (q[i] === 'i') flags += q[i++];
      out.push({ t: 're', v: flags ? `(?i)${s}` : s, pos: start });
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(q[i + 1] ?? ''))) {
      const m = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[a-z]*/.exec(q.slice(i))!;
      out.push({ t: 'num', v: m[0], pos: start });
      i += m[0].length;
    } else if (/[A-Za-z_@$]/.test(c)) {
      const m = /^[A-Za-z_@$][A-Za-z0-9_@$.\-]*/.exec(q.slice(i))!;
      let v = m[0];
      // `a-b` reads as a name only when no spaces separate it; a trailing `-`/`.` is not part of it.
      v = v.replace(/[.\-]+$/, '');
      out.push({ t: 'id', v, pos: start });
      i += v.length;
    } else {
      const two = q.slice(i, i + 2);
      if (['!=', '<=', '>=', '=~'].includes(two)) {
        out.push({ t: 'op', v: two, pos: i });
        i += 2;
      } else if ('()[],=<>+-*/%'.includes(c)) {
        out.push({ t: 'op', v: c, pos: i++ });
      } else {
        throw new QuerySyntaxError(`unexpected character '${c}' at character ${i + 1}`);
      }
    }
  }
  return out;
}

/** Whether the tokens end with `parse <field>` (a regex may follow). */
function isParseField(out: Tok[]): boolean {
  const a = out[out.length - 2];
  return !!a && a.t === 'id' && a.v === 'parse' && (out.length === 2 || out[out.length - 3]?.t === 'pipe');
}

// ---- expressions --------------------------------------------------------------------------------

/** A compiled expression: evaluates against a record. */
export type Expr = { eval(r: QueryRecord): Value; text: string; field?: string; agg?: Aggregate; star?: boolean };

/** An aggregate call inside `stats`. */
interface Aggregate {
  fn: 'count' | 'sum' | 'avg' | 'min' | 'max' | 'count_distinct';
  arg: Expr | undefined;
}

function num(v: Value): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function str(v: Value): string {
  return v === undefined ? '' : typeof v === 'number' ? String(v) : String(v);
}

function compare(a: Value, b: Value): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return x - y;
  const s = str(a);
  const t = str(b);
  return s < t ? -1 : s > t ? 1 : 0;
}

function regex(source: string): LinearRegex {
  try {
    return compileLinearRegex(source);
  } catch (e) {
    if (e instanceof RegexSyntaxError) throw new QuerySyntaxError(`invalid regular expression /${source}/: ${e.message}`);
    throw e;
  }
}

const BIN_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Parses `5m` and the like into milliseconds. */
function period(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(text);
  if (!m || Number(m[1]) <= 0) throw new QuerySyntaxError(`invalid bin period '${text}': use a number and a unit (ms, s, m, h, d, w), e.g. 5m`);
  return Number(m[1]) * BIN_UNITS[m[2]!]!;
}

const FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  strlen: ([a]) => (a === undefined ? undefined : str(a).length),
  tolower: ([a]) => (a === undefined ? undefined : str(a).toLowerCase()),
  toupper: ([a]) => (a === undefined ? undefined : str(a).toUpperCase()),
  concat: (args) => args.map(str).join(''),
  abs: ([a]) => (num(a) === undefined ? undefined : Math.abs(num(a)!)),
  floor: ([a]) => (num(a) === undefined ? undefined : Math.floor(num(a)!)),
  ceil: ([a]) => (num(a) === undefined ? undefined : Math.ceil(num(a)!)),
  ispresent: ([a]) => a !== undefined,
  isempty: ([a]) => a === undefined || str(a) === '',
};
const AGGREGATES = new Set(['count', 'sum', 'avg', 'min', 'max', 'count_distinct']);

class ExprParser {
  i = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly source: string,
    private readonly allowAggregates: boolean,
  ) {}

  peek(): Tok | undefined {
    return this.toks[this.i];
  }
  isId(v: string): boolean {
    const t = this.peek();
    return !!t && t.t === 'id' && t.v.toLowerCase() === v;
  }
  isOp(v: string): boolean {
    const t = this.peek();
    return !!t && t.t === 'op' && t.v === v;
  }
  expectOp(v: string): void {
    if (!this.isOp(v)) throw new QuerySyntaxError(`expected '${v}' ${this.where()}`);
    this.i++;
  }
  where(): string {
    const t = this.peek();
    return t ? `at character ${t.pos + 1} ('${this.source.slice(t.pos, t.pos + 20)}')` : 'at the end of the command';
  }
  textFrom(startTok: number): string {
    const a = this.toks[startTok]!.pos;
    const last = this.toks[this.i - 1]!;
    const next = this.toks[this.i];
    const end = next ? next.pos : this.source.length;
    return this.source.slice(a, Math.max(end, last.pos + last.v.length)).trim();
  }

  parse(): Expr {
    return this.or();
  }

  or(): Expr {
    let l = this.and();
    while (this.isId('or')) {
      this.i++;
      const a = l;
      const b = this.and();
      l = { text: `${a.text} or ${b.text}`, eval: (r) => !!a.eval(r) || !!b.eval(r) };
    }
    return l;
  }

  and(): Expr {
    let l = this.not();
    while (this.isId('and')) {
      this.i++;
      const a = l;
      const b = this.not();
      l = { text: `${a.text} and ${b.text}`, eval: (r) => !!a.eval(r) && !!b.eval(r) };
    }
    return l;
  }

  not(): Expr {
    if (this.isId('not')) {
      this.i++;
      const a = this.not();
      return { text: `not ${a.text}`, eval: (r) => !a.eval(r) };
    }
    return this.comparison();
  }

  comparison(): Expr {
    const start = this.i;
    const l = this.additive();
    let negate = false;
    if (this.isId('not') && (this.toks[this.i + 1]?.v === 'like' || this.toks[this.i + 1]?.v === 'in')) {
      this.i++;
      negate = true;
    }
    const t = this.peek();
    let e: Expr | undefined;
    if (t && t.t === 'op' && ['=', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      this.i++;
      const r = this.additive();
      const op = t.v;
      e = {
        text: '',
        eval: (rec) => {
          const c = compare(l.eval(rec), r.eval(rec));
          if (c === undefined) return op === '!=' ? l.eval(rec) !== r.eval(rec) : false;
          return op === '=' ? c === 0 : op === '!=' ? c !== 0 : op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
        },
      };
    } else if ((t && t.t === 'id' && t.v === 'like') || (t && t.t === 'op' && t.v === '=~')) {
      this.i++;
      const p = this.peek();
      if (!p || (p.t !== 're' && p.t !== 'str')) throw new QuerySyntaxError(`expected a "string" or /regex/ after like ${this.where()}`);
      this.i++;
      if (p.t === 're') {
        const re = regex(p.v);
        e = { text: '', eval: (rec) => re.test(str(l.eval(rec))) };
      } else {
        const needle = p.v;
        e = { text: '', eval: (rec) => str(l.eval(rec)).includes(needle) };
      }
    } else if (t && t.t === 'id' && t.v === 'in') {
      this.i++;
      this.expectOp('[');
      const items: Expr[] = [];
      if (!this.isOp(']')) {
        do items.push(this.additive());
        while (this.isOp(',') && ++this.i);
      }
      this.expectOp(']');
      if (items.length > 1000) throw new QuerySyntaxError('an in [...] list can have at most 1000 items');
      e = { text: '', eval: (rec) => items.some((x) => compare(l.eval(rec), x.eval(rec)) === 0) };
    } else if (negate) {
      throw new QuerySyntaxError(`expected like or in after not ${this.where()}`);
    }
    if (!e) return l;
    const inner = e;
    const text = this.textFrom(start);
    return { text, eval: negate ? (r) => !inner.eval(r) : inner.eval };
  }

  additive(): Expr {
    const start = this.i;
    let l = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.peek()!.v;
      this.i++;
      const a = l;
      const b = this.multiplicative();
      l = { text: this.textFrom(start), eval: (r) => arith(op, a.eval(r), b.eval(r)) };
    }
    return l;
  }

  multiplicative(): Expr {
    const start = this.i;
    let l = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const op = this.peek()!.v;
      this.i++;
      const a = l;
      const b = this.unary();
      l = { text: this.textFrom(start), eval: (r) => arith(op, a.eval(r), b.eval(r)) };
    }
    return l;
  }

  unary(): Expr {
    if (this.isOp('-')) {
      const start = this.i++;
      const a = this.unary();
      return { text: this.textFrom(start), eval: (r) => (num(a.eval(r)) === undefined ? undefined : -num(a.eval(r))!) };
    }
    return this.primary();
  }

  primary(): Expr {
    const start = this.i;
    const t = this.peek();
    if (!t) throw new QuerySyntaxError('an expression was expected at the end of the command');
    if (t.t === 'num') {
      this.i++;
      const v = Number(t.v);
      if (!Number.isFinite(v)) throw new QuerySyntaxError(`'${t.v}' is not a number`);
      return { text: t.v, eval: () => v };
    }
    if (t.t === 'str') {
      this.i++;
      return { text: JSON.stringify(t.v), eval: () => t.v };
    }
    if (t.t === 'op' && t.v === '(') {
      this.i++;
      const e = this.parse();
      this.expectOp(')');
      return { ...e, text: this.textFrom(start) };
    }
    if (t.t === 'op' && t.v === '*') {
      this.i++;
      return { text: '*', star: true, eval: () => 1 };
    }
    if (t.t === 'id' && !KEYWORDS.has(t.v.toLowerCase())) {
      this.i++;
      if (this.isOp('(')) return this.call(t.v.toLowerCase(), start);
      const name = t.v;
      return { text: name, field: name, eval: (r) => fieldOf(r, name) };
    }
    throw new QuerySyntaxError(`unexpected ${t.v} ${this.where()}`);
  }

  call(fn: string, start: number): Expr {
    this.expectOp('(');
    const args: Expr[] = [];
    if (fn === 'bin') {
      const p = this.peek();
      if (!p || p.t !== 'num') throw new QuerySyntaxError(`bin() takes a period such as 5m ${this.where()}`);
      this.i++;
      const ms = period(p.v);
      this.expectOp(')');
      return { text: this.textFrom(start), eval: (r) => {
        const ts = num(r['@timestamp']);
        return ts === undefined ? undefined : formatTime(Math.floor(ts / ms) * ms);
      } };
    }
    if (!this.isOp(')')) {
      do args.push(this.parse());
      while (this.isOp(',') && ++this.i);
    }
    this.expectOp(')');
    const text = this.textFrom(start);
    if (AGGREGATES.has(fn)) {
      if (!this.allowAggregates) throw new QuerySyntaxError(`${fn}() is an aggregate: use it in stats`);
      if (args.length > 1 || (args.length === 0 && fn !== 'count')) throw new QuerySyntaxError(`${fn}() takes one argument`);
      const arg = args[0]?.star ? undefined : args[0];
      return { text, agg: { fn: fn as Aggregate['fn'], arg }, eval: () => undefined };
    }
    const f = FUNCTIONS[fn];
    if (!f) throw new QuerySyntaxError(`unknown function ${fn}(); Berth knows ${[...Object.keys(FUNCTIONS), 'bin', ...AGGREGATES].join(', ')}`);
    return { text, eval: (r) => f(args.map((a) => a.eval(r))) };
  }
}

function arith(op: string, a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x === undefined || y === undefined) return undefined;
  const v = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : op === '/' ? x / y : x % y;
  return Number.isFinite(v) ? v : undefined;
}

const JSON_CACHE = Symbol('json');

/** A field of a record: set fields first, then the JSON fields of its message (dotted paths). */
export function fieldOf(r: QueryRecord, name: string): Value {
  if (name in r) return r[name];
  const holder = r as QueryRecord & { [JSON_CACHE]?: unknown };
  if (holder[JSON_CACHE] === undefined) {
    const m = r['@message'];
    let parsed: unknown = null;
    if (typeof m === 'string' && m.length < 262_144 && m.trimStart().startsWith('{')) {
      try {
        parsed = JSON.parse(m);
      } catch {
        parsed = null;
      }
    }
    holder[JSON_CACHE] = parsed;
  }
  let cur: unknown = holder[JSON_CACHE];
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === null || cur === undefined) return undefined;
  if (typeof cur === 'object') return JSON.stringify(cur);
  return cur as Value;
}

/** `yyyy-MM-dd HH:mm:ss.SSS` (UTC), as Logs Insights shows times. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

// ---- commands -----------------------------------------------------------------------------------

type Stage =
  | { kind: 'fields'; items: { expr: Expr; name: string }[]; display: boolean }
  | { kind: 'filter'; expr: Expr }
  | { kind: 'parse'; source: Expr; re: CapturingRegex; names: string[] }
  | { kind: 'stats'; aggs: { agg: Aggregate; name: string }[]; by: { expr: Expr; name: string }[] }
  | { kind: 'sort'; keys: { expr: Expr; desc: boolean }[] }
  | { kind: 'limit'; n: number };

/** A parsed query. */
export interface CompiledQuery {
  stages: Stage[];
}

function splitCommands(toks: Tok[]): Tok[][] {
  const out: Tok[][] = [[]];
  for (const t of toks) {
    if (t.t === 'pipe') out.push([]);
    else out[out.length - 1]!.push(t);
  }
  return out;
}

function globToRegex(glob: string): { source: string; count: number } {
  const parts = glob.split('*');
  const esc = (s: string) => s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
  let source = esc(parts[0]!);
  for (let i = 1; i < parts.length; i++) {
    // The last wildcard at the end of the pattern takes the rest; the others as little as they can.
    source += i === parts.length - 1 && parts[i] === '' ? '(.*)' : '(.*?)';
    source += esc(parts[i]!);
  }
  return { source, count: parts.length - 1 };
}

/** Parses a query string; throws QuerySyntaxError with what is wrong and where. */
export function compileQuery(query: string): CompiledQuery {
  if (query.length > MAX_QUERY_LENGTH) throw new QuerySyntaxError(`the query is ${query.length} characters; at most ${MAX_QUERY_LENGTH} are accepted`);
  const commands = splitCommands(tokenize(query)).filter((c) => c.length > 0);
  if (commands.length === 0) throw new QuerySyntaxError('the query has no command');
  if (commands.length > MAX_COMMANDS) throw new QuerySyntaxError(`the query has ${commands.length} commands; at most ${MAX_COMMANDS} are accepted`);
  const stages: Stage[] = [];
  for (const cmd of commands) {
    const head = cmd[0]!;
    const p = new ExprParser(cmd, query, false);
    p.i = 1;
    const name = head.t === 'id' ? head.v.toLowerCase() : '';
    const end = () => {
      if (p.peek()) throw new QuerySyntaxError(`unexpected ${p.peek()!.v} ${p.where()}`);
    };
    const named = (): { expr: Expr; name: string } => {
      const expr = p.parse();
      let alias = expr.text;
      if (p.isId('as')) {
        p.i++;
        const a = p.peek();
        if (!a || a.t !== 'id') throw new QuerySyntaxError(`expected a name after as ${p.where()}`);
        p.i++;
        alias = a.v;
      }
      return { expr, name: alias };
    };
    const list = <T>(item: () => T): T[] => {
      const out = [item()];
      while (p.isOp(',')) {
        p.i++;
        out.push(item());
      }
      return out;
    };
    switch (name) {
      case 'fields':
      case 'display':
        stages.push({ kind: 'fields', items: list(named), display: name === 'display' });
        end();
        break;
      case 'filter':
        stages.push({ kind: 'filter', expr: p.parse() });
        end();
        break;
      case 'parse': {
        const source = p.parse();
        const pat = p.peek();
        if (!pat || (pat.t !== 'str' && pat.t !== 're')) throw new QuerySyntaxError(`parse needs a "glob * pattern" or a /regex/ ${p.where()}`);
        p.i++;
        let re: CapturingRegex;
        let names: string[];
        try {
          if (pat.t === 'str') {
            const g = globToRegex(pat.v);
            if (g.count === 0) throw new QuerySyntaxError('a parse glob needs at least one * to capture');
            if (!p.isId('as')) throw new QuerySyntaxError(`parse with a glob needs "as name, ..." ${p.where()}`);
            p.i++;
            names = list(() => {
              const a = p.peek();
              if (!a || a.t !== 'id') throw new QuerySyntaxError(`expected a field name ${p.where()}`);
              p.i++;
              return a.v;
            });
            if (names.length !== g.count) throw new QuerySyntaxError(`the glob has ${g.count} wildcards but ${names.length} names follow as`);
            re = compileCapturingRegex(g.source, { dotAll: true });
          } else {
            re = compileCapturingRegex(pat.v);
            names = [];
            for (let i = 1; i <= re.groupCount; i++) names.push(re.groupNames.get(i) ?? '');
            if (!names.some((n) => n)) throw new QuerySyntaxError('a parse regex needs named groups, (?<name>...)');
          }
        } catch (e) {
          if (e instanceof RegexSyntaxError) throw new QuerySyntaxError(`invalid parse pattern: ${e.message}`);
          throw e;
        }
        stages.push({ kind: 'parse', source, re, names });
        end();
        break;
      }
      case 'stats': {
        const ap = new ExprParser(cmd, query, true);
        ap.i = 1;
        const aggs: { agg: Aggregate; name: string }[] = [];
        do {
          const expr = ap.parse();
          if (!expr.agg) throw new QuerySyntaxError(`stats needs aggregate functions (count, sum, avg, min, max, count_distinct), not ${expr.text}`);
          let alias = expr.text;
          if (ap.isId('as')) {
            ap.i++;
            const a = ap.peek();
            if (!a || a.t !== 'id') throw new QuerySyntaxError(`expected a name after as ${ap.where()}`);
            ap.i++;
            alias = a.v;
          }
          aggs.push({ agg: expr.agg, name: alias });
        } while (ap.isOp(',') && ++ap.i);
        let by: { expr: Expr; name: string }[] = [];
        if (ap.isId('by')) {
          ap.i++;
          p.i = ap.i;
          by = list(named);
          ap.i = p.i;
        }
        if (ap.peek()) throw new QuerySyntaxError(`unexpected ${ap.peek()!.v} ${ap.where()}`);
        stages.push({ kind: 'stats', aggs, by });
        break;
      }
      case 'sort':
        stages.push({
          kind: 'sort',
          keys: list(() => {
            const expr = p.parse();
            let desc = false;
            if (p.isId('desc') || p.isId('asc')) desc = p.peek()!.v.toLowerCase() === 'desc' && !!++p.i;
            if (p.isId('asc')) p.i++;
            return { expr, desc };
          }),
        });
        end();
        break;
      case 'limit': {
        const n = p.peek();
        if (!n || n.t !== 'num' || !/^\d+$/.test(n.v) || Number(n.v) < 1 || Number(n.v) > 10_000) throw new QuerySyntaxError('limit takes a whole number from 1 to 10000');
        p.i++;
        stages.push({ kind: 'limit', n: Number(n.v) });
        end();
        break;
      }
      default:
        throw new QuerySyntaxError(`unknown command '${head.v}' at character ${head.pos + 1}; Berth runs fields, display, filter, parse, stats, sort and limit`);
    }
  }
  return { stages };
}

// ---- execution ----------------------------------------------------------------------------------

interface AggState {
  n: number;
  sum: number;
  min: Value;
  max: Value;
  distinct?: Set<string>;
}

/** Why a query stopped early. */
export class QueryLimitError extends Error {}

/**
 * Runs a compiled query over records fed in order (`push`), then `finish` gives the rows. The
 * stages before the first `stats` or `sort` run per record as it comes; a `limit` there ends the
 * scan early (`done`).
 */
export class QueryExecution {
  private readonly stream: Stage[];
  private readonly rest: Stage[];
  private readonly barrier: Stage | undefined;
  private readonly held: QueryRecord[] = [];
  private readonly groups = new Map<string, { keys: Value[]; aggs: AggState[] }>();
  /** Fields to show, in order (undefined: the default @timestamp, @message plus parsed fields). */
  private shown: string[] | undefined;
  private readonly parsedFields: string[] = [];
  private passed = 0;
  private streamLimit = Infinity;
  /** Records that passed the per-record stages. */
  matched = 0;

  constructor(
    q: CompiledQuery,
    private readonly maxRows: number,
  ) {
    const i = q.stages.findIndex((s) => s.kind === 'stats' || s.kind === 'sort');
    this.stream = i < 0 ? q.stages : q.stages.slice(0, i);
    this.barrier = i < 0 ? undefined : q.stages[i];
    this.rest = i < 0 ? [] : q.stages.slice(i + 1);
    for (const s of this.stream) {
      if (s.kind === 'limit') this.streamLimit = Math.min(this.streamLimit, s.n);
      if (s.kind === 'fields') this.shown = s.display ? s.items.map((x) => x.name) : [...(this.shown ?? []), ...s.items.map((x) => x.name)];
      if (s.kind === 'parse') this.parsedFields.push(...s.names.filter((n) => n));
    }
    if (!this.barrier) this.streamLimit = Math.min(this.streamLimit, maxRows);
  }

  /** Whether no more records can change the result. */
  get done(): boolean {
    return this.passed >= this.streamLimit;
  }

  /** Feeds one record (a fresh object the execution may change). */
  push(rec: QueryRecord): void {
    if (this.done) return;
    for (const s of this.stream) {
      if (!this.apply(s, rec)) return;
    }
    this.passed++;
    this.matched++;
    const b = this.barrier;
    if (!b) {
      this.held.push(rec);
    } else if (b.kind === 'stats') {
      this.accumulate(b, rec);
    } else {
      this.held.push(rec);
      const onlyLimitAfter = this.rest.every((s) => s.kind === 'limit' || (s.kind === 'fields'));
      const k = Math.min(this.maxRows, ...this.rest.filter((s): s is Extract<Stage, { kind: 'limit' }> => s.kind === 'limit').map((s) => s.n));
      if (onlyLimitAfter && this.held.length >= 2 * k + 1000) {
        sortRecords(this.held, b as Extract<Stage, { kind: 'sort' }>);
        this.held.length = k;
      } else if (!onlyLimitAfter && this.held.length > MAX_SORT_RECORDS) {
        throw new QueryLimitError(`the query sorts more than ${MAX_SORT_RECORDS} records; narrow the time range or filter first`);
      }
    }
  }

  /** Applies a per-record stage; false drops the record. */
  private apply(s: Stage, rec: QueryRecord): boolean {
    switch (s.kind) {
      case 'filter':
        return !!s.expr.eval(rec);
      case 'fields':
        for (const it of s.items) if (it.expr.field !== it.name || !(it.name in rec)) rec[it.name] = it.expr.eval(rec);
        return true;
      case 'parse': {
        const m = s.re.exec(str(s.source.eval(rec)));
        if (m) s.names.forEach((n, i) => n && m[i + 1] !== undefined && (rec[n] = m[i + 1]));
        return true;
      }
      case 'limit':
        return true;
      default:
        return true;
    }
  }

  private accumulate(s: Extract<Stage, { kind: 'stats' }>, rec: QueryRecord): void {
    const keys = s.by.map((b) => b.expr.eval(rec));
    const id = JSON.stringify(keys);
    let g = this.groups.get(id);
    if (!g) {
      if (this.groups.size >= MAX_STATS_GROUPS) throw new QueryLimitError(`stats makes more than ${MAX_STATS_GROUPS} groups; group by fewer values or a wider bin()`);
      g = { keys, aggs: s.aggs.map(() => ({ n: 0, sum: 0, min: undefined, max: undefined })) };
      this.groups.set(id, g);
    }
    s.aggs.forEach(({ agg }, i) => {
      const st = g!.aggs[i]!;
      if (!agg.arg) {
        st.n++;
        return;
      }
      const v = agg.arg.eval(rec);
      if (v === undefined) return;
      if (agg.fn === 'count') {
        st.n++;
      } else if (agg.fn === 'count_distinct') {
        st.distinct ??= new Set();
        if (st.distinct.size < 100_000) st.distinct.add(str(v));
      } else if (agg.fn === 'min' || agg.fn === 'max') {
        const c = st.n === 0 ? undefined : compare(v, agg.fn === 'min' ? st.min : st.max);
        if (st.n === 0 || (c !== undefined && (agg.fn === 'min' ? c < 0 : c > 0))) agg.fn === 'min' ? (st.min = v) : (st.max = v);
        st.n++;
      } else {
        const x = num(v);
        if (x === undefined) return;
        st.n++;
        st.sum += x;
      }
    });
  }

  /** The result rows, each as (field, value) pairs in display order. */
  finish(): { field: string; value: string }[][] {
    let rows: QueryRecord[];
    let columns: string[];
    const b = this.barrier;
    if (b && b.kind === 'stats') {
      rows = [];
      for (const g of this.groups.values()) {
        const row: QueryRecord = {};
        b.by.forEach((x, i) => (row[x.name] = g.keys[i]));
        b.aggs.forEach(({ agg, name }, i) => {
          const st = g.aggs[i]!;
          row[name] = agg.fn === 'count' ? st.n : agg.fn === 'count_distinct' ? st.distinct?.size ?? 0 : agg.fn === 'sum' ? st.sum : agg.fn === 'avg' ? (st.n ? st.sum / st.n : undefined) : agg.fn === 'min' ? st.min : st.max;
        });
        rows.push(row);
      }
      // Groups by a time bin come out in time order, as AWS shows them.
      rows.sort((x, y) => {
        for (const k of b.by) {
          const c = compare(x[k.name], y[k.name]) ?? 0;
          if (c) return c;
        }
        return 0;
      });
      columns = [...b.by.map((x) => x.name), ...b.aggs.map((x) => x.name)];
    } else {
      rows = this.held;
      if (b && b.kind === 'sort') sortRecords(rows, b);
      columns = this.shown ?? ['@timestamp', '@message', ...this.parsedFields];
    }
    for (const s of this.rest) {
      if (s.kind === 'sort') sortRecords(rows, s);
      else if (s.kind === 'limit') rows = rows.slice(0, s.n);
      else if (s.kind === 'filter') rows = rows.filter((r) => !!s.expr.eval(r));
      else if (s.kind === 'fields') {
        for (const r of rows) this.apply(s, r);
        columns = s.display ? s.items.map((x) => x.name) : [...new Set([...columns, ...s.items.map((x) => x.name)])];
      } else if (s.kind === 'parse') {
        for (const r of rows) this.apply(s, r);
      } else if (s.kind === 'stats') {
        throw new QueryLimitError('Berth runs one stats command per query');
      }
    }
    rows = rows.slice(0, this.maxRows);
    return rows.map((r) =>
      columns.flatMap((c) => {
        const v = fieldOf(r, c);
        if (v === undefined) return [];
        return [{ field: c, value: c === '@timestamp' || c === '@ingestionTime' ? (typeof v === 'number' ? formatTime(v) : str(v)) : str(v) }];
      }),
    );
  }
}

function sortRecords(rows: QueryRecord[], s: Extract<Stage, { kind: 'sort' }>): void {
  rows.sort((x, y) => {
    for (const k of s.keys) {
      const a = k.expr.eval(x);
      const b = k.expr.eval(y);
      if (a === undefined && b === undefined) continue;
      if (a === undefined) return 1;
      if (b === undefined) return -1;
      const c = compare(a, b) ?? 0;
      if (c) return k.desc ? -c : c;
    }
    return 0;
  });
}
