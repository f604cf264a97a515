/**
 * The ECS cluster query language (CQL): parser and evaluator, used by `memberOf` placement
 * constraints and by ListContainerInstances `filter`.
 *
 * Grammar (as the ECS Developer Guide describes it):
 *   expr       := orExpr
 *   orExpr     := andExpr (('||' | 'or') andExpr)*
 *   andExpr    := unary (('&&' | 'and') unary)*
 *   unary      := ('!' | 'not') unary | '(' expr ')' | comparison
 *   comparison := subject operator [argument]
 *   subject    := attribute:<name> | task:group | agentConnected | agentVersion | ec2InstanceId
 *                 | registeredAt | runningTasksCount
 *   operator   := == equals | != not_equals | > greater_than | >= greater_than_equal | < less_than
 *                 | <= less_than_equal | exists | !exists not_exists | in | !in not_in | =~ matches
 *                 | !~ not_matches            (words are case-insensitive; `not in`, `not exists` too)
 *   argument   := value | '[' value (',' value)* ']'     (values may be 'single' or "double" quoted)
 * `matches` takes a regular expression that must match the whole value; it runs on a
 * linear-time engine (../regex.ts), so backreferences and lookaround are refused.
 *
 * Negative operators (!=, !in, !~, !exists) are the negation of their positive form, so an
 * instance without the attribute satisfies `attribute:x != y`. `task:group` compares against the
 * groups of the tasks on the instance: `task:group == g` holds when any task there is in group g.
 *
 * Errors are {@link CqlError}s with a message naming the position and the problem; the ECS API
 * maps them to InvalidParameterException.
 */

import { compileLinearRegex, type LinearRegex } from '../regex.js';

/** A CQL syntax or semantic error (unknown subject, operator not valid for the subject, bad date...). */
export class CqlError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'CqlError';
  }
}

/** Canonical comparison operators. */
export type CqlOperator = '==' | '!=' | '>' | '>=' | '<' | '<=' | 'exists' | '!exists' | 'in' | '!in' | '=~' | '!~';

/** Subjects ECS supports. */
export type CqlSubject =
  | { kind: 'attribute'; name: string }
  | { kind: 'taskGroup' }
  | { kind: 'agentConnected' }
  | { kind: 'agentVersion' }
  | { kind: 'ec2InstanceId' }
  | { kind: 'registeredAt' }
  | { kind: 'runningTasksCount' };

/** Parsed expression tree. */
export type CqlExpr =
  | { op: 'and' | 'or'; left: CqlExpr; right: CqlExpr }
  | { op: 'not'; expr: CqlExpr }
  | { op: 'cmp'; subject: CqlSubject; operator: CqlOperator; values: string[]; regex?: LinearRegex; dates?: number[] };

/** What an expression is evaluated against (ContainerInstanceView satisfies it plus `taskGroups`). */
export interface CqlInstance {
  attributes: Readonly<Record<string, string | null>>;
  ec2InstanceId?: string;
  agentConnected?: boolean;
  agentVersion?: string;
  registeredAt?: number;
  runningTasksCount?: number;
  /** Groups of the not-stopped tasks on the instance (for `task:group`). */
  taskGroups?: Iterable<string>;
}

/** The maximum expression length ECS accepts. */
export const CQL_MAX_LENGTH = 2000;

const OPERATOR_WORDS: Record<string, CqlOperator> = {
  equals: '==',
  not_equals: '!=',
  greater_than: '>',
  greater_than_equal: '>=',
  less_than: '<',
  less_than_equal: '<=',
  exists: 'exists',
  not_exists: '!exists',
  in: 'in',
  not_in: '!in',
  matches: '=~',
  not_matches: '!~',
};

const ALL_OPS: CqlOperator[] = ['==', '!=', '>', '>=', '<', '<=', 'exists', '!exists', 'in', '!in', '=~', '!~'];
const SET_OPS: CqlOperator[] = ['==', '!=', 'in', '!in', '=~', '!~'];
const ORDER_OPS: CqlOperator[] = ['==', '!=', '>', '>=', '<', '<='];
const VALID_OPS: Record<CqlSubject['kind'], CqlOperator[]> = {
  attribute: ALL_OPS,
  taskGroup: [...SET_OPS, 'exists', '!exists'],
  agentConnected: SET_OPS,
  agentVersion: ORDER_OPS,
  ec2InstanceId: SET_OPS,
  registeredAt: ORDER_OPS,
  runningTasksCount: ORDER_OPS,
};

const SUBJECT_NAMES: Record<string, CqlSubject> = {
  'task:group': { kind: 'taskGroup' },
  agentconnected: { kind: 'agentConnected' },
  agentversion: { kind: 'agentVersion' },
  ec2instanceid: { kind: 'ec2InstanceId' },
  registeredat: { kind: 'registeredAt' },
  runningtaskscount: { kind: 'runningTasksCount' },
};

const isWs = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const DELIMS = new Set(['(', ')', '[', ']', ',']);
const OP_START = new Set(['=', '!', '<', '>', '&', '|']);

class Parser {
  pos = 0;
  constructor(readonly src: string) {}

  fail(msg: string, at = this.pos): never {
    throw new CqlError(`Invalid cluster query expression at position ${at + 1}: ${msg}`, at);
  }
  skipWs(): void {
    while (this.pos < this.src.length && isWs(this.src[this.pos]!)) this.pos++;
  }
  eof(): boolean {
    this.skipWs();
    return this.pos >= this.src.length;
  }
  peek(): string {
    this.skipWs();
    return this.src[this.pos] ?? '';
  }
  /** Reads a bare word (stops at whitespace, delimiters and, if `stopAtOps`, operator characters). */
  word(stopAtOps: boolean): string {
    this.skipWs();
    const start = this.pos;
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (isWs(c) || DELIMS.has(c) || (stopAtOps && OP_START.has(c))) break;
      this.pos++;
    }
    return this.src.slice(start, this.pos);
  }
  /** Looks at the next bare word without consuming it. */
  peekWord(): string {
    const save = this.pos;
    const w = this.word(true);
    this.pos = save;
    return w;
  }

  parseExpr(): CqlExpr {
    let left = this.parseAnd();
    for (;;) {
      this.skipWs();
      if (this.src.startsWith('||', this.pos)) this.pos += 2;
      else if (this.peekWord().toLowerCase() === 'or') this.word(true);
      else return left;
      left = { op: 'or', left, right: this.parseAnd() };
    }
  }
  parseAnd(): CqlExpr {
    let left = this.parseUnary();
    for (;;) {
      this.skipWs();
      if (this.src.startsWith('&&', this.pos)) this.pos += 2;
      else if (this.peekWord().toLowerCase() === 'and') this.word(true);
      else return left;
      left = { op: 'and', left, right: this.parseUnary() };
    }
  }
  parseUnary(): CqlExpr {
    const c = this.peek();
    if (c === '') this.fail('expected an expression but the input ended');
    if (c === '(') {
      const open = this.pos;
      this.pos++;
      const e = this.parseExpr();
      if (this.peek() !== ')') this.fail(`missing ')' for '(' at position ${open + 1}`);
      this.pos++;
      return e;
    }
    if (c === '!' && this.src[this.pos + 1] !== '=' && this.src[this.pos + 1] !== '~') {
      this.pos++;
      return { op: 'not', expr: this.parseUnary() };
    }
    if (this.peekWord().toLowerCase() === 'not') {
      this.word(true);
      return { op: 'not', expr: this.parseUnary() };
    }
    return this.parseComparison();
  }

  parseSubject(): CqlSubject {
    const at = (this.skipWs(), this.pos);
    const w = this.word(true);
    if (w === '') this.fail(`expected a subject (attribute:<name>, task:group, ec2InstanceId, ...) but found '${this.src[this.pos] ?? ''}'`, at);
    if (w.toLowerCase().startsWith('attribute:')) {
      const name = w.slice('attribute:'.length);
      if (name === '') this.fail("'attribute:' must be followed by an attribute name", at);
      return { kind: 'attribute', name };
    }
    const s = SUBJECT_NAMES[w.toLowerCase()];
    if (!s) this.fail(`unknown subject '${w}' (expected attribute:<name>, task:group, agentConnected, agentVersion, ec2InstanceId, registeredAt or runningTasksCount)`, at);
    return s;
  }

  parseOperator(): CqlOperator {
    this.skipWs();
    const at = this.pos;
    const s = this.src;
    for (const sym of ['==', '!=', '>=', '<=', '=~', '!~', '>', '<'] as const) {
      if (s.startsWith(sym, this.pos)) {
        this.pos += sym.length;
        return sym;
      }
    }
    if (s[this.pos] === '!') {
      this.pos++;
      const w = this.word(true).toLowerCase();
      if (w === 'exists') return '!exists';
      if (w === 'in') return '!in';
      this.fail(`unknown operator '!${w}'`, at);
    }
    const w = this.word(true).toLowerCase();
    if (w === 'not') {
      const w2 = this.word(true).toLowerCase();
      if (w2 === 'in') return '!in';
      if (w2 === 'exists') return '!exists';
      if (w2 === 'matches') return '!~';
      if (w2 === 'equals') return '!=';
      this.fail(`unknown operator 'not ${w2}'`, at);
    }
    const op = OPERATOR_WORDS[w];
    if (!op) this.fail(w === '' ? 'expected an operator (==, !=, in, exists, =~, ...) but the input ended' : `unknown operator '${w}'`, at);
    return op;
  }

  value(raw: boolean): string {
    this.skipWs();
    const at = this.pos;
    const q = this.src[this.pos];
    if (q === "'" || q === '"') {
      const end = this.src.indexOf(q, this.pos + 1);
      if (end < 0) this.fail(`unterminated quoted value`, at);
      this.pos = end + 1;
      return this.src.slice(at + 1, end);
    }
    if (raw) {
      // A regular expression: up to whitespace, giving back unbalanced closing parentheses.
      while (this.pos < this.src.length && !isWs(this.src[this.pos]!)) this.pos++;
      let text = this.src.slice(at, this.pos);
      let depth = 0;
      let cut = text.length;
      for (let i = 0; i < text.length; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '(') depth++;
        else if (text[i] === ')') {
          if (depth === 0) {
            cut = i;
            break;
          }
          depth--;
        }
      }
      text = text.slice(0, cut);
      this.pos = at + cut;
      if (text === '') this.fail('expected a pattern', at);
      return text;
    }
    if (OP_START.has(this.src[this.pos] ?? '')) this.fail(`expected a value but found '${this.src[this.pos]}'`, at);
    const w = this.word(false);
    if (w === '') this.fail(this.pos >= this.src.length ? 'expected a value but the input ended' : `expected a value but found '${this.src[this.pos]}'`, at);
    return w;
  }

  parseComparison(): CqlExpr {
    const subjectAt = (this.skipWs(), this.pos);
    const subject = this.parseSubject();
    const opAt = (this.skipWs(), this.pos);
    const operator = this.parseOperator();
    if (!VALID_OPS[subject.kind].includes(operator)) {
      this.fail(`operator '${operator}' is not valid for subject '${this.src.slice(subjectAt, opAt).trim()}'`, opAt);
    }
    let values: string[] = [];
    if (operator === 'exists' || operator === '!exists') {
      // no argument
    } else if (this.peek() === '[') {
      const open = this.pos;
      this.pos++;
      for (;;) {
        values.push(this.value(false));
        const c = this.peek();
        if (c === ',') {
          this.pos++;
          continue;
        }
        if (c === ']') {
          this.pos++;
          break;
        }
        this.fail(`expected ',' or ']' to continue the list opened at position ${open + 1}`);
      }
      if (operator !== 'in' && operator !== '!in') this.fail(`operator '${operator}' takes a single value, not a list`, open);
    } else {
      values = [this.value(operator === '=~' || operator === '!~')];
    }
    const node: CqlExpr & { op: 'cmp' } = { op: 'cmp', subject, operator, values };
    if (operator === '=~' || operator === '!~') {
      try {
        node.regex = compileLinearRegex(values[0]!);
      } catch (e) {
        this.fail(`'${values[0]}' is not a valid regular expression (${(e as Error).message})`, opAt);
      }
    }
    if (subject.kind === 'registeredAt') node.dates = values.map((v) => parseCqlDate(v, this, opAt));
    if (subject.kind === 'runningTasksCount' && values.some((v) => !/^\d+$/.test(v))) this.fail(`runningTasksCount compares with a whole number, not '${values[0]}'`, opAt);
    if (subject.kind === 'agentConnected' && values.some((v) => v !== 'true' && v !== 'false') && operator !== '=~' && operator !== '!~') {
      this.fail(`agentConnected compares with true or false, not '${values.find((v) => v !== 'true' && v !== 'false')}'`, opAt);
    }
    return node;
  }
}

function parseCqlDate(v: string, p: Parser, at: number): number {
  // Formats ECS documents: 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28, 2018-06-18
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})?)?$/.exec(v);
  if (!m) p.fail(`'${v}' is not a valid date (use 2018-06-18, 2018-06-18T22:28:28, 2018-06-18T22:28:28Z or 2018-06-18T22:28:28+00:00)`, at);
  const iso = m[4] ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? 'Z'}` : `${m[1]}-${m[2]}-${m[3]}T00:00:00Z`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) p.fail(`'${v}' is not a valid date`, at);
  return t;
}

/**
 * Parses a CQL expression. Throws {@link CqlError} for anything ECS would reject (empty, longer
 * than {@link CQL_MAX_LENGTH}, unknown subject/operator, operator not valid for the subject,
 * unbalanced parentheses, bad regex, bad date, trailing input).
 */
export function parseCql(expression: string): CqlExpr {
  if (expression.length > CQL_MAX_LENGTH) throw new CqlError(`Invalid cluster query expression: longer than ${CQL_MAX_LENGTH} characters`, CQL_MAX_LENGTH);
  const p = new Parser(expression);
  if (p.eof()) throw new CqlError('Invalid cluster query expression: the expression is empty', 0);
  const e = p.parseExpr();
  if (!p.eof()) p.fail(`unexpected '${expression.slice(p.pos, p.pos + 20)}' after a complete expression`);
  return e;
}

/** Whether the expression looks at `task:group` (its result then changes as tasks are placed). */
export function cqlUsesTaskGroups(e: CqlExpr): boolean {
  if (e.op === 'cmp') return e.subject.kind === 'taskGroup';
  if (e.op === 'not') return cqlUsesTaskGroups(e.expr);
  return cqlUsesTaskGroups(e.left) || cqlUsesTaskGroups(e.right);
}

function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split(/[.-]/);
  const pb = b.replace(/^v/, '').split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) ? nx - ny : x < y ? -1 : x > y ? 1 : 0;
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  return 0;
}

function compareValues(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (a !== '' && b !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Evaluates a positive comparison of one present value. */
function positive(op: CqlOperator, v: string, node: CqlExpr & { op: 'cmp' }, cmp: (a: string, b: string) => number): boolean {
  switch (op) {
    case '==':
    case '!=':
      return v === node.values[0];
    case 'in':
    case '!in':
      return node.values.includes(v);
    case '=~':
    case '!~':
      return node.regex!.testWhole(v);
    case '>':
      return cmp(v, node.values[0]!) > 0;
    case '>=':
      return cmp(v, node.values[0]!) >= 0;
    case '<':
      return cmp(v, node.values[0]!) < 0;
    case '<=':
      return cmp(v, node.values[0]!) <= 0;
    default:
      return true; // exists
  }
}

const NEGATIVE = new Set<CqlOperator>(['!=', '!in', '!~', '!exists']);

function evalCmp(node: CqlExpr & { op: 'cmp' }, inst: CqlInstance): boolean {
  const op = node.operator;
  const neg = NEGATIVE.has(op);
  const s = node.subject;
  let result: boolean;
  switch (s.kind) {
    case 'attribute': {
      const has = Object.prototype.hasOwnProperty.call(inst.attributes, s.name);
      const v = has ? (inst.attributes[s.name] ?? '') : undefined;
      result = v === undefined ? false : positive(op, v, node, compareValues);
      break;
    }
    case 'taskGroup': {
      result = false;
      for (const g of inst.taskGroups ?? []) {
        if (positive(op, g, node, compareValues)) {
          result = true;
          break;
        }
      }
      break;
    }
    case 'agentConnected':
      result = positive(op, String(inst.agentConnected ?? false), node, compareValues);
      break;
    case 'ec2InstanceId':
      result = inst.ec2InstanceId !== undefined && positive(op, inst.ec2InstanceId, node, compareValues);
      break;
    case 'agentVersion':
      result = inst.agentVersion !== undefined && positive(op, inst.agentVersion, node, compareVersions);
      break;
    case 'runningTasksCount':
      result = positive(op, String(inst.runningTasksCount ?? 0), node, compareValues);
      break;
    case 'registeredAt': {
      if (inst.registeredAt === undefined) {
        result = false;
        break;
      }
      const t = inst.registeredAt;
      const d = node.dates![0]!;
      const c = t < d ? -1 : t > d ? 1 : 0;
      result = op === '==' || op === '!=' ? c === 0 : op === '>' ? c > 0 : op === '>=' ? c >= 0 : op === '<' ? c < 0 : c <= 0;
      break;
    }
  }
  return neg ? !result : result;
}

/** Evaluates a parsed expression against one instance. Pure. */
export function evaluateCql(e: CqlExpr, inst: CqlInstance): boolean {
  switch (e.op) {
    case 'and':
      return evaluateCql(e.left, inst) && evaluateCql(e.right, inst);
    case 'or':
      return evaluateCql(e.left, inst) || evaluateCql(e.right, inst);
    case 'not':
      return !evaluateCql(e.expr, inst);
    default:
      return evalCmp(e, inst);
  }
}

/** Parses and returns a predicate; convenience for one-off filters (ListContainerInstances). */
export function compileCql(expression: string): (inst: CqlInstance) => boolean {
  const e = parseCql(expression);
  return (inst) => evaluateCql(e, inst);
}
