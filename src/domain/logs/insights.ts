/**
 * CloudWatch Logs Insights queries: the parser of the common commands, pure (the executor is
 * ./insightsExecution.ts; `LogQueries` in ./queries.ts feeds it events in chunks).
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
import { KEYWORDS, QuerySyntaxError, tokenize, type Tok } from './insightsLexer.js';

export { QuerySyntaxError };
import { compileCapturingRegex, compileLinearRegex, RegexSyntaxError, type CapturingRegex, type LinearRegex } from '../regex.js';

/** Longest query string (AWS: 10,000 characters). */
export const MAX_QUERY_LENGTH = 10_000;
/** Most commands in one query. */
export const MAX_COMMANDS = 50;
/** Most groups a `stats` keeps (AWS returns at most 10,000 rows). */
export const MAX_STATS_GROUPS = 10_000;
/** Most records held for a `sort` not followed only by `limit`. */
export const MAX_SORT_RECORDS = 100_000;


/** A field's value in a record. */
export type Value = string | number | boolean | undefined;
/** One log record flowing through the query: field name -> value. */
export type QueryRecord = Record<string, Value>;

// ---- expressions --------------------------------------------------------------------------------

/** A compiled expression: evaluates against a record. */
export type Expr = { eval(r: QueryRecord): Value; text: string; field?: string; agg?: Aggregate; star?: boolean };

/** An aggregate call inside `stats`. */
interface Aggregate {
  fn: 'count' | 'sum' | 'avg' | 'min' | 'max' | 'count_distinct';
  arg: Expr | undefined;
}

/** A value as a number, or undefined when it is not one. */
export function num(v: Value): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** A value as text. */
export function str(v: Value): string {
  return v === undefined ? '' : typeof v === 'number' ? String(v) : String(v);
}

/** Orders two values (numbers numerically, else as text); undefined when either is missing. */
export function compare(a: Value, b: Value): number | undefined {
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

/** One command of a compiled query. */
export type Stage =
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
