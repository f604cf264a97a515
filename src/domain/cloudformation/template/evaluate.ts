/**
 * The intrinsic functions and pseudo parameters: `evaluate(value, ctx)` turns a template value
 * into plain JSON, resolving Ref, Fn::GetAtt, Fn::Sub (both forms), Fn::Join, Fn::Select,
 * Fn::Split, Fn::GetAZs, Fn::FindInMap, Fn::If/Equals/Not/And/Or, Fn::Base64, Fn::Cidr,
 * Fn::ImportValue, Fn::Length and Fn::ToJsonString (AWS::LanguageExtensions), and removing
 * values that are `AWS::NoValue`. Pure: resources, exports and zones come from the context.
 * A malformed call is a `ValidationError` naming the function and where it is.
 */
import { cfnErrors } from '../errors.js';
import { subVariables } from './graph.js';

/** What a resource offers references: its Ref value and its attributes (GetAtt). */
export interface ResourceValues {
  ref: string;
  attributes: Record<string, unknown>;
}

/** Everything an evaluation may read. */
export interface EvalContext {
  /** Parameter values (lists for list types), and the pseudo parameters by their names. */
  params: ReadonlyMap<string, string | string[]>;
  conditions: ReadonlyMap<string, boolean>;
  mappings: Record<string, Record<string, Record<string, unknown>>>;
  /**
   * A resource's values, or undefined if it has none (not created, or left out by its
   * condition). With `unknownResources`, a reference to such a resource evaluates to
   * `UNKNOWN` (planning a change before the resource exists) instead of failing.
   */
  resource(logicalId: string): ResourceValues | undefined;
  unknownResources?: boolean;
  importValue(name: string): string | undefined;
  availabilityZones(region: string): string[];
  region: string;
}

/** The value of `AWS::NoValue`: removed from the object or list that holds it. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');
/** Stands for a value known only once a resource exists (change-set planning). */
export const UNKNOWN = '{{berth:unknown-until-created}}';

const MAX_STRING = 1_048_576;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The intrinsic function a value calls (an object with one key, a function name), if any. */
function intrinsic(v: unknown): [string, unknown] | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const k = keys[0]!;
  return k === 'Ref' || k === 'Condition' || k.startsWith('Fn::') ? [k, v[k]] : undefined;
}

function bad(fn: string, path: string, what: string): never {
  throw cfnErrors.template(`[${path || '/'}] ${fn} ${what}`);
}

function asString(v: unknown, fn: string, path: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return bad(fn, path, `needs a string here, got ${describe(v)}`);
}

function asList(v: unknown, fn: string, path: string): unknown[] {
  if (Array.isArray(v)) return v;
  return bad(fn, path, `needs a list here, got ${describe(v)}`);
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'an object' : JSON.stringify(v)?.slice(0, 60) ?? String(v);
}

/** Evaluates a condition expression (Fn::Equals/And/Or/Not, {Condition: name}) to a boolean. */
export function evaluateCondition(v: unknown, ctx: EvalContext, path: string): boolean {
  const f = intrinsic(v);
  if (!f) {
    if (v === 'true' || v === true) return true;
    if (v === 'false' || v === false) return false;
    return bad('Condition', path, `must be a condition function (Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition), got ${describe(v)}`);
  }
  const [fn, arg] = f;
  switch (fn) {
    case 'Condition': {
      const name = asString(arg, fn, path);
      const c = ctx.conditions.get(name);
      if (c === undefined) bad(fn, path, `names an undeclared condition ${name.slice(0, 100)}`);
      return c;
    }
    case 'Fn::Equals': {
      const a = asList(arg, fn, path);
      if (a.length !== 2) bad(fn, path, 'takes a list of two values');
      const [x, y] = a.map((e, i) => evaluate(e, ctx, `${path}/${fn}/${i}`));
      return JSON.stringify(normalizeScalar(x)) === JSON.stringify(normalizeScalar(y));
    }
    case 'Fn::Not': {
      const a = asList(arg, fn, path);
      if (a.length !== 1) bad(fn, path, 'takes a list of one condition');
      return !evaluateCondition(a[0], ctx, `${path}/${fn}/0`);
    }
    case 'Fn::And':
    case 'Fn::Or': {
      const a = asList(arg, fn, path);
      if (a.length < 2 || a.length > 10) bad(fn, path, 'takes a list of 2 to 10 conditions');
      const vals = a.map((e, i) => evaluateCondition(e, ctx, `${path}/${fn}/${i}`));
      return fn === 'Fn::And' ? vals.every(Boolean) : vals.some(Boolean);
    }
    default:
      return bad(fn, path, 'cannot be used as a condition');
  }
}

/** Numbers and booleans compare as their strings (CloudFormation passes everything as strings). */
function normalizeScalar(v: unknown): unknown {
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
}

/** Evaluates every condition of a template, in dependency order (conditions may use conditions). */
export function evaluateConditions(conditions: Record<string, unknown>, base: Omit<EvalContext, 'conditions'>): Map<string, boolean> {
  const out = new Map<string, boolean>();
  const visiting = new Set<string>();
  const ctx: EvalContext = {
    ...base,
    conditions: {
      get: (name: string) => {
        if (out.has(name)) return out.get(name);
        if (!(name in conditions)) return undefined;
        if (visiting.has(name)) throw cfnErrors.templateFormat(`Circular dependency between conditions: [${[...visiting].join(', ')}]`);
        visiting.add(name);
        const v = evaluateCondition(conditions[name], ctx, `/Conditions/${name}`);
        visiting.delete(name);
        out.set(name, v);
        return v;
      },
    } as ReadonlyMap<string, boolean>,
  };
  for (const name of Object.keys(conditions)) ctx.conditions.get(name);
  return out;
}

/** Evaluates a template value (see the module doc); `NO_VALUE` at the top means "leave it out". */
export function evaluate(v: unknown, ctx: EvalContext, path = ''): unknown {
  if (Array.isArray(v)) return v.map((x, i) => evaluate(x, ctx, `${path}/${i}`)).filter((x) => x !== NO_VALUE);
  if (!isObject(v)) return v;
  const f = intrinsic(v);
  if (!f) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const e = evaluate(x, ctx, `${path}/${k}`);
      if (e !== NO_VALUE) Object.defineProperty(out, k, { value: e, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  const [fn, arg] = f;
  const at = `${path}/${fn}`;
  switch (fn) {
    case 'Ref': {
      const name = asString(arg, fn, path);
      if (name === 'AWS::NoValue') return NO_VALUE;
      const p = ctx.params.get(name);
      if (p !== undefined) return p;
      const r = ctx.resource(name);
      if (r) return r.ref;
      if (ctx.unknownResources) return UNKNOWN;
      return bad(fn, path, `refers to ${name.slice(0, 100)}, which is not a parameter or a resource of this stack that exists`);
    }
    case 'Fn::GetAtt': {
      let parts: unknown[];
      if (typeof arg === 'string') {
        const dot = arg.indexOf('.');
        parts = dot < 0 ? [arg] : [arg.slice(0, dot), arg.slice(dot + 1)];
      } else parts = asList(arg, fn, path);
      if (parts.length !== 2) bad(fn, path, 'takes [LogicalName, AttributeName]');
      const name = asString(parts[0], fn, path);
      const attr = asString(evaluate(parts[1], ctx, `${at}/1`), fn, path);
      return getAtt(name, attr, ctx, path);
    }
    case 'Fn::Sub':
      return sub(arg, ctx, path);
    case 'Fn::Join': {
      const a = asList(arg, fn, path);
      if (a.length !== 2) bad(fn, path, 'takes [delimiter, [values]]');
      const delim = asString(evaluate(a[0], ctx, `${at}/0`), fn, path);
      const items = asList(evaluate(a[1], ctx, `${at}/1`), fn, path);
      const s = items.map((x) => asString(x, fn, path)).join(delim);
      if (s.length > MAX_STRING) bad(fn, path, `makes a string longer than ${MAX_STRING} characters`);
      return s;
    }
    case 'Fn::Select': {
      const a = asList(arg, fn, path);
      if (a.length !== 2) bad(fn, path, 'takes [index, [values]]');
      const idx = Number(asString(evaluate(a[0], ctx, `${at}/0`), fn, path));
      const list = asList(evaluate(a[1], ctx, `${at}/1`), fn, path);
      if (!Number.isInteger(idx) || idx < 0 || idx >= list.length) bad(fn, path, `index ${idx} is out of bounds for a list of ${list.length}`);
      return list[idx];
    }
    case 'Fn::Split': {
      const a = asList(arg, fn, path);
      if (a.length !== 2) bad(fn, path, 'takes [delimiter, string]');
      const delim = asString(evaluate(a[0], ctx, `${at}/0`), fn, path);
      const s = asString(evaluate(a[1], ctx, `${at}/1`), fn, path);
      if (!delim) bad(fn, path, 'needs a non-empty delimiter');
      return s.split(delim);
    }
    case 'Fn::GetAZs': {
      const region = evaluate(arg, ctx, at);
      return ctx.availabilityZones(region === '' || region === undefined ? ctx.region : asString(region, fn, path));
    }
    case 'Fn::FindInMap': {
      const a = asList(arg, fn, path);
      if (a.length !== 3 && a.length !== 4) bad(fn, path, 'takes [MapName, TopLevelKey, SecondLevelKey]');
      const [map, top, second] = a.slice(0, 3).map((x, i) => asString(evaluate(x, ctx, `${at}/${i}`), fn, path));
      const value = ctx.mappings[map!]?.[top!]?.[second!];
      if (value !== undefined) return value;
      const fallback = a[3];
      if (isObject(fallback) && 'DefaultValue' in fallback) return evaluate(fallback.DefaultValue, ctx, `${at}/3`);
      return bad(fn, path, `found no value at [${map}, ${top}, ${second}] in the Mappings`);
    }
    case 'Fn::If': {
      const a = asList(arg, fn, path);
      if (a.length !== 3) bad(fn, path, 'takes [ConditionName, ValueIfTrue, ValueIfFalse]');
      const name = asString(a[0], fn, path);
      const c = ctx.conditions.get(name);
      if (c === undefined) bad(fn, path, `names an undeclared condition ${name.slice(0, 100)}`);
      return evaluate(c ? a[1] : a[2], ctx, `${at}/${c ? 1 : 2}`);
    }
    case 'Fn::Equals':
    case 'Fn::Not':
    case 'Fn::And':
    case 'Fn::Or':
    case 'Condition':
      return evaluateCondition(v, ctx, path);
    case 'Fn::Base64':
      return Buffer.from(asString(evaluate(arg, ctx, at), fn, path)).toString('base64');
    case 'Fn::Cidr': {
      const a = asList(arg, fn, path);
      if (a.length !== 3) bad(fn, path, 'takes [ipBlock, count, cidrBits]');
      const [block, count, bits] = a.map((x, i) => asString(evaluate(x, ctx, `${at}/${i}`), fn, path));
      return cidr(block!, Number(count), Number(bits), path);
    }
    case 'Fn::ImportValue': {
      const name = asString(evaluate(arg, ctx, at), fn, path);
      if (ctx.unknownResources && name.includes(UNKNOWN)) return UNKNOWN;
      const value = ctx.importValue(name);
      if (value === undefined) throw cfnErrors.validation(`No export named ${name.slice(0, 255)} found. Rollback requested by user.`.replace(' Rollback requested by user.', ''));
      return value;
    }
    case 'Fn::Length': {
      const list = asList(evaluate(arg, ctx, at), fn, path);
      return list.length;
    }
    case 'Fn::ToJsonString': {
      const s = JSON.stringify(evaluate(arg, ctx, at));
      if (s.length > MAX_STRING) bad(fn, path, `makes a string longer than ${MAX_STRING} characters`);
      return s;
    }
    case 'Fn::Transform':
      return bad(fn, path, 'is not supported here (Berth runs no macros)');
    default:
      return bad(fn, path, 'is not a function CloudFormation knows');
  }
}

function getAtt(name: string, attr: string, ctx: EvalContext, path: string): unknown {
  const r = ctx.resource(name);
  if (!r) {
    if (ctx.unknownResources) return UNKNOWN;
    return bad('Fn::GetAtt', path, `refers to ${name.slice(0, 100)}, which is not a resource of this stack that exists`);
  }
  if (attr in r.attributes) return r.attributes[attr];
  throw cfnErrors.template(`[${path || '/'}] resource ${name.slice(0, 100)} does not support attribute type ${attr.slice(0, 100)} in Fn::GetAtt`);
}

function sub(arg: unknown, ctx: EvalContext, path: string): string {
  const fn = 'Fn::Sub';
  let str: unknown;
  let vars: Record<string, unknown> = {};
  if (typeof arg === 'string') str = arg;
  else {
    const a = asList(arg, fn, path);
    if (a.length !== 2 || !isObject(a[1])) bad(fn, path, 'takes a string or [string, {Var: value}]');
    str = a[0];
    vars = a[1] as Record<string, unknown>;
  }
  const s = asString(str, fn, path);
  const local = new Map<string, unknown>();
  for (const [k, x] of Object.entries(vars)) local.set(k, evaluate(x, ctx, `${path}/${fn}/1/${k}`));
  let out = '';
  let last = 0;
  for (const v of subVariables(s)) {
    out += s.slice(last, v.start);
    last = v.end;
    let value: unknown;
    if (v.attribute === undefined && local.has(v.name)) value = local.get(v.name);
    else if (v.attribute !== undefined) value = getAtt(v.name, v.attribute, ctx, path);
    else value = evaluate({ Ref: v.name }, ctx, path);
    if (value === NO_VALUE) value = '';
    if (Array.isArray(value)) value = value.join(',');
    out += asString(value, fn, path);
    if (out.length > MAX_STRING) bad(fn, path, `makes a string longer than ${MAX_STRING} characters`);
  }
  out += s.slice(last);
  // ${!Literal} stands for the literal ${Literal}.
  return out.replace(/\$\{!/g, '${');
}

/** Fn::Cidr: `count` consecutive blocks of `cidrBits` host bits carved from an IPv4 block. */
export function cidr(block: string, count: number, cidrBits: number, path = ''): string[] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(block);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) bad('Fn::Cidr', path, `needs an IPv4 CIDR block, got ${block.slice(0, 60)}`);
  if (!Number.isInteger(count) || count < 1 || count > 256) bad('Fn::Cidr', path, 'count must be from 1 to 256');
  const prefix = Number(m[5]);
  const newPrefix = 32 - cidrBits;
  if (!Number.isInteger(cidrBits) || cidrBits < 0 || newPrefix < prefix) bad('Fn::Cidr', path, `cidrBits ${cidrBits} does not fit in a /${prefix}`);
  if (count > 2 ** (newPrefix - prefix)) bad('Fn::Cidr', path, `a /${prefix} holds fewer than ${count} blocks of /${newPrefix}`);
  const base = m.slice(1, 5).reduce((a, o) => a * 256 + Number(o), 0);
  const start = prefix === 0 ? 0 : base - (base % 2 ** (32 - prefix));
  const size = 2 ** cidrBits;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = start + i * size;
    out.push(`${[24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')}/${newPrefix}`);
  }
  return out;
}
