/**
 * AWS API models (src/models/*.json, derived from AWS's published service descriptions) and the
 * walks over them that the protocol layer needs: input decoding with type checks, constraint
 * validation (required, enum, length, range, pattern) and shape-directed output encoding; and
 * `parseJson`, the same checks for a client of Berth's own channel (the agent) on what it receives.
 * Error messages name the first few problems and count the rest, however large the input.
 *
 * Handlers only ever see input that passed here, and whatever they return is encoded strictly
 * by the output shape (unknown members are dropped), so the wire shape is the model's.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RE2JS } from 're2js';
import { ServiceError } from '../errors.js';

/** A compiled model pattern: whether a whole string satisfies it. */
export interface PatternMatcher {
  /** Which engine runs it (RE2 for patterns with nested quantifiers, see compileModelPattern). */
  readonly engine: 'regexp' | 're2';
  test(s: string): boolean;
}

/**
 * Whether a pattern repeats a group that itself holds a quantifier (`(a+)*`, `(?:x?y+)*`): the
 * shape that can make a backtracking engine take exponential time. Scans the pattern (a model's,
 * trusted and short) once, skipping escapes and character classes.
 */
export function hasNestedQuantifier(src: string): boolean {
  const stack: boolean[] = [];
  let inner = false; // the current group's body has a quantifier
  let lastGroupQuantified = false; // the group just closed had one
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      i++;
      lastGroupQuantified = false;
      continue;
    }
    if (c === '[') {
      for (i++; i < src.length && src[i] !== ']'; i++) if (src[i] === '\\') i++;
      lastGroupQuantified = false;
      continue;
    }
    if (c === '(') {
      stack.push(inner);
      inner = false;
      lastGroupQuantified = false;
      // A group's own syntax, not a quantifier: (?: (?= (?! (?<= (?<! (?<name>
      if (src[i + 1] === '?') {
        i += 2;
        if (src[i] === '<' && src[i + 1] !== '=' && src[i + 1] !== '!') i = Math.max(i, src.indexOf('>', i));
        else if (src[i] === '<') i++;
      }
      continue;
    }
    if (c === ')') {
      lastGroupQuantified = inner;
      inner = (stack.pop() ?? false) || inner;
      continue;
    }
    const repeats = c === '*' || c === '+' || (c === '{' && /^\{\d*,\d*\}|^\{\d*[2-9]\d*\}|^\{\d{2,}\}/.test(src.slice(i, i + 12)));
    if (repeats && lastGroupQuantified) return true;
    if (repeats || c === '?' || c === '{') inner = true;
    lastGroupQuantified = false;
  }
  return false;
}

/**
 * Compiles a model pattern (Java syntax, anchored to the whole string) the way the validator runs
 * it: on RegExp, except patterns with nested quantifiers (hasNestedQuantifier), which run on RE2
 * (re2js, linear time) whenever RE2 accepts them. ECR's ScanningRepositoryFilterValue,
 * `^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`, takes exponential time on RegExp. Null for the
 * few patterns neither engine takes (the validator skips those rather than guessing).
 */
export function compileModelPattern(src: string): PatternMatcher | null {
  // Java's POSIX class \p{Print} (ASCII printable, as Application Auto Scaling's PolicyName
  // uses it) has no JavaScript equivalent: without the 'u' flag it would match the literal text.
  const anchored = `^(?:${src.replaceAll('\\p{Print}', '[\\x20-\\x7E]')})$`;
  if (hasNestedQuantifier(src)) {
    try {
      const re = RE2JS.compile(anchored);
      return { engine: 're2', test: (s) => re.testExact(s) };
    } catch {
      // RE2 refuses it (a construct it lacks): RegExp below, which the patterns test keeps honest.
    }
  }
  // Models use Java regular expressions; nearly all are valid JS with the 'u' flag.
  for (const flags of ['u', '']) {
    try {
      const re = new RegExp(anchored, flags);
      return { engine: 'regexp', test: (s) => re.test(s) };
    } catch {
      /* next */
    }
  }
  return null;
}

export interface ShapeRef {
  shape: string;
  locationName?: string;
  /** EC2: the member's name in a request form, when it is not its capitalized `locationName`. */
  queryName?: string;
  flattened?: boolean;
  xmlNamespace?: unknown;
  location?: string;
  resultWrapper?: string;
}

export interface Shape {
  type: 'structure' | 'list' | 'map' | 'string' | 'integer' | 'long' | 'float' | 'double' | 'boolean' | 'timestamp' | 'blob';
  members?: Record<string, ShapeRef>;
  required?: string[];
  member?: ShapeRef;
  key?: ShapeRef;
  value?: ShapeRef;
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  flattened?: boolean;
  locationName?: string;
  timestampFormat?: string;
  error?: { code?: string; httpStatusCode?: number; senderFault?: boolean };
  exception?: boolean;
}

export interface Operation {
  name: string;
  input?: ShapeRef;
  output?: ShapeRef;
  errors?: ShapeRef[];
}

export interface ModelDocument {
  metadata: {
    apiVersion: string;
    endpointPrefix: string;
    protocol: string;
    serviceId: string;
    signingName?: string;
    targetPrefix?: string;
    xmlNamespace?: string;
    jsonVersion?: string;
    /** The wire protocols the service speaks, in its clients' order of preference (newer models). */
    protocols?: string[];
    /** Present when JSON and CBOR errors also carry the awsQuery error code (`x-amzn-query-error`). */
    awsQueryCompatible?: Record<string, unknown>;
  };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
  /** For a model trimmed to the operations Berth serves: the names of the others (see scripts/extract-models.py). */
  unservedOperations?: string[];
}

/** Largest and smallest values of the models' number types (Java's int and long, as AWS's services parse them). */
const INT_RANGE = [-(2 ** 31), 2 ** 31 - 1] as const;
/** Past these the instant is not a real date (years 0001 to 9999, in epoch seconds). */
const TIMESTAMP_RANGE_S = [-62135596800, 253402300799] as const;

/**
 * Why a decoded scalar is not a value of its model type, or undefined when it is: integers in
 * Java int range, longs exact (safe integers), doubles finite, timestamps within years 1-9999,
 * strings well-formed Unicode (no lone surrogate). Shared by the JSON and query decoders.
 */
export function scalarProblem(type: Shape['type'], v: unknown): string | undefined {
  switch (type) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) && v >= INT_RANGE[0] && v <= INT_RANGE[1] ? undefined : `an Integer (a whole number from ${INT_RANGE[0]} to ${INT_RANGE[1]})`;
    case 'long':
      return typeof v === 'number' && Number.isSafeInteger(v) ? undefined : `a Long (a whole number of at most 2^53 in size)`;
    case 'float':
    case 'double':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'a Double (a finite number)';
    case 'timestamp':
      return v instanceof Date && !Number.isNaN(v.getTime()) && v.getTime() / 1000 >= TIMESTAMP_RANGE_S[0] && v.getTime() / 1000 <= TIMESTAMP_RANGE_S[1] ? undefined : 'a Timestamp (years 1 to 9999)';
    case 'string':
      return typeof v === 'string' && isWellFormedUnicode(v) ? undefined : 'a String of well-formed Unicode (no lone surrogate)';
    default:
      return undefined;
  }
}

/** Whether a string has no lone (unpaired) UTF-16 surrogate, which would not survive storage as UTF-8. */
export function isWellFormedUnicode(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false;
    const next = s.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/**
 * What is wrong with a value, as counted while walking it: every problem is counted, only the
 * first MAX_REPORTED are kept, so a body of a million bad items costs a count, not a million
 * messages (and the error sent back stays short). Each constraint failure also records the
 * member it is about, by model path (see `SpecialErrors`), so a service can answer its own error
 * for that member where AWS does (see `ServiceModel.validate`).
 */
export class Problems {
  count = 0;
  readonly first: string[] = [];
  /** Model paths of the members with a failed constraint (not a missing value); as many as the model has. */
  readonly members = new Set<string>();
  add(message: string, member?: string): void {
    if (this.count++ < MAX_REPORTED) this.first.push(message);
    if (member !== undefined) this.members.add(member);
  }
  /** "m1; m2; ..." with how many more there were. */
  summary(): string {
    const more = this.count - this.first.length;
    return `${this.first.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
  }
  /** AWS's form: "1 validation error detected: m1" / "N validation errors detected: m1; m2; ...". */
  detected(): string {
    const n = this.count;
    const more = n - this.first.length;
    return `${n} validation error${n === 1 ? '' : 's'} detected: ${this.first.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
  }
}

/** How many problems an error message spells out. */
const MAX_REPORTED = 10;

/**
 * A member's name as AWS's validation messages spell it: the serialized name (a query member's
 * `locationName`, else the member name) with its first letter lower-cased, as AWS's services
 * report every protocol's members (`maxResults`, `parameterFilters.1.member.key`).
 */
export function wireName(ref: ShapeRef, memberName: string): string {
  const n = ref.locationName ?? memberName;
  return n.charAt(0).toLowerCase() + n.slice(1);
}

/**
 * Input members whose failed constraints are a service's own error (see `ServiceModel.validate`),
 * by model path: member names from the input shape joined by '.', list items and map entries
 * left out (`Filters.Key` is the Key of any item of Filters); the scalars of a list are
 * `<list>.member`, a map's keys and values `<map>.key` / `<map>.value`.
 */
export type SpecialErrors = Readonly<Record<string, () => ServiceError>>;

/** A value decoded and checked against a shape (see `ServiceModel.parseJson`). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const MODELS_DIR = fileURLToPath(new URL('../../../src/models/', import.meta.url));

/** What a decoded value of each shape type must be (checked before its constraints). */
const EXPECTED_TYPE: Partial<Record<Shape['type'], (v: unknown) => boolean>> = {
  structure: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  map: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  list: (v) => Array.isArray(v),
  string: (v) => typeof v === 'string',
  integer: (v) => typeof v === 'number',
  long: (v) => typeof v === 'number',
  float: (v) => typeof v === 'number',
  double: (v) => typeof v === 'number',
  boolean: (v) => typeof v === 'boolean',
  blob: (v) => Buffer.isBuffer(v) || v instanceof Uint8Array,
};

/** One service's API model with decoding, validation and encoding over its shapes. */
export class ServiceModel {
  readonly metadata: ModelDocument['metadata'];
  readonly operations: Record<string, Operation>;
  readonly shapes: Record<string, Shape>;
  /** Operations of the AWS API that this (trimmed) model leaves out: Berth does not serve them. */
  readonly unservedOperations: ReadonlySet<string>;
  private readonly patterns = new Map<string, PatternMatcher | null>();

  constructor(doc: ModelDocument) {
    this.metadata = doc.metadata;
    this.operations = doc.operations;
    this.shapes = doc.shapes;
    this.unservedOperations = new Set(doc.unservedOperations ?? []);
  }

  /** Loads src/models/<name>.json. */
  static load(name: string): ServiceModel {
    return new ServiceModel(JSON.parse(readFileSync(`${MODELS_DIR}${name}.json`, 'utf8')) as ModelDocument);
  }

  /**
   * The name of the error shape whose awsQuery code is `code` (`InvalidParameterValueException`
   * for `InvalidParameterValue`), or undefined: how a query-compatible service names its errors
   * on JSON and CBOR.
   */
  errorShapeOfCode(code: string): string | undefined {
    if (!this.errorShapes) {
      this.errorShapes = new Map();
      for (const [name, s] of Object.entries(this.shapes)) if (s.exception && s.error?.code && !this.errorShapes.has(s.error.code)) this.errorShapes.set(s.error.code, name);
    }
    return this.errorShapes.get(code);
  }
  private errorShapes?: Map<string, string>;

  shape(name: string): Shape {
    const s = this.shapes[name];
    if (!s) throw new Error(`model ${this.metadata.serviceId} has no shape ${name}`);
    return s;
  }

  /**
   * Decodes a parsed JSON body against an input shape: type checks (SerializationException on a
   * mismatch, as AWS's JSON services answer), timestamps to Date, blobs to Buffer, unknown
   * members dropped. Then constraint validation with the service's validation error code (and
   * its own errors for the members in `special`, see `validate`).
   */
  decodeJsonInput(opName: string, body: unknown, validationCode: string, special?: SpecialErrors, wire: 'json' | 'cbor' = 'json'): Record<string, unknown> {
    const op = this.operations[opName]!;
    if (!op.input) return {};
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ServiceError('SerializationException', 'Start of structure or map found where not expected: the request body must be a JSON object.');
    }
    const problems = new Problems();
    const value = this.decodeJson(op.input.shape, body, '', problems, wire) as Record<string, unknown>;
    if (problems.count) throw new ServiceError('SerializationException', problems.summary());
    this.validate(op.input.shape, value, validationCode, special);
    return value;
  }

  /**
   * Decodes a parsed JSON value against one shape and checks its constraints, as the gateway
   * does for input, but answers instead of throwing: for a client that checks what it receives
   * (the agent, each task of a Poll answer on its own, so one bad task does not cost the rest).
   * `T` must be the generated type of `shapeName`.
   */
  parseJson<T>(shapeName: string, v: unknown): Parsed<T> {
    const problems = new Problems();
    const value = this.decodeJson(shapeName, v, '', problems);
    if (value === undefined && !problems.count) problems.add(`a value is required for ${shapeName}`);
    if (!problems.count) this.check(shapeName, value, '', problems, '');
    return problems.count ? { ok: false, problem: problems.summary() } : { ok: true, value: value as T };
  }

  /** `wire` 'cbor': timestamps also as Dates (CBOR tag 1) and blobs as byte strings, not base64 text. */
  private decodeJson(shapeName: string, v: unknown, path: string, problems: Problems, wire: 'json' | 'cbor' = 'json'): unknown {
    if (v === null || v === undefined) return undefined;
    const s = this.shape(shapeName);
    const bad = (what: string) => {
      problems.add(`${describeJson(v)} can not be converted to ${what}${path ? ` at '${path}'` : ''}`);
      return undefined;
    };
    switch (s.type) {
      case 'structure': {
        if (typeof v !== 'object' || Array.isArray(v)) return bad('a structure');
        const out: Record<string, unknown> = {};
        for (const [k, ref] of Object.entries(s.members ?? {})) {
          const mv = (v as Record<string, unknown>)[k];
          if (mv === undefined || mv === null) continue;
          out[k] = this.decodeJson(ref.shape, mv, join(path, wireName(ref, k)), problems, wire);
        }
        return out;
      }
      case 'list': {
        if (!Array.isArray(v)) return bad('a list');
        return v.map((item, i) => this.decodeJson(s.member!.shape, item, join(path, `${i + 1}.member`), problems, wire)).filter((x) => x !== undefined);
      }
      case 'map': {
        if (typeof v !== 'object' || Array.isArray(v)) return bad('a map');
        const out: Record<string, unknown> = {};
        for (const [k, mv] of Object.entries(v as Record<string, unknown>)) {
          const d = this.decodeJson(s.value!.shape, mv, join(path, k), problems, wire);
          // Defined, not assigned: a key such as __proto__ is an ordinary key here.
          if (d !== undefined) Object.defineProperty(out, k, { value: d, enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      case 'boolean':
        return typeof v === 'boolean' ? v : bad('a Boolean');
      case 'string':
      case 'integer':
      case 'long':
      case 'float':
      case 'double': {
        const problem = scalarProblem(s.type, v);
        return problem ? bad(problem) : v;
      }
      case 'timestamp': {
        // Epoch seconds (the awsJson form; rounded to the millisecond, so that a time sent as
        // ms / 1000 comes back as the same ms), or a numeric or ISO 8601 string; years 1-9999.
        const fromSeconds = (n: number) => new Date(Math.round(n * 1000));
        if (wire === 'cbor' && v instanceof Date) return scalarProblem('timestamp', v) ? bad('a Timestamp (years 1 to 9999)') : v;
        const d = typeof v === 'number' ? fromSeconds(v) : typeof v === 'string' ? (/^\d+(\.\d+)?$/.test(v) ? fromSeconds(Number(v)) : new Date(v)) : undefined;
        return d && !scalarProblem('timestamp', d) ? d : bad('a Timestamp (epoch seconds or ISO 8601, years 1 to 9999)');
      }
      case 'blob':
        if (wire === 'cbor') return v instanceof Uint8Array ? Buffer.from(v) : bad('a Blob (a byte string)');
        return typeof v === 'string' ? Buffer.from(v, 'base64') : bad('a Blob');
      default:
        return v;
    }
  }

  /**
   * Checks required members, enums, lengths, ranges and patterns the way AWS reports them:
   * "N validation errors detected: Value 'x' at 'a.b' failed to satisfy constraint: ...", with
   * members named as on the wire (`wireName`). A scalar's failed constraints are one problem
   * each; the scalars of a list or map are judged together, as AWS does: one problem at the
   * list ("Member must satisfy constraint: [...]") or map ("Map keys/value must satisfy
   * constraint: [...]") listing the member shape's constraints.
   *
   * `special` maps input members (by model path, see `SpecialErrors`) to the service's own
   * error for them: when a constraint of such a member fails (not a missing value), that error
   * is thrown instead of the generic one (the first listed that applies), as AWS answers e.g.
   * SSM's InvalidResourceType for a resource type outside the enum.
   */
  validate(shapeName: string, value: unknown, code: string, special?: SpecialErrors): void {
    const errors = new Problems();
    this.check(shapeName, value, '', errors, '');
    if (!errors.count) return;
    for (const [member, make] of Object.entries(special ?? {})) if (errors.members.has(member)) throw make();
    throw new ServiceError(code, errors.detected());
  }

  /**
   * Walks `v` against its shape, adding what fails to `errors`. `mpath` is the model path of the
   * value (see `SpecialErrors`), recorded with each constraint failure.
   */
  private check(shapeName: string, v: unknown, path: string, errors: Problems, mpath: string): void {
    const s = this.shape(shapeName);
    const fail = (constraint: string, at = mpath) => errors.add(`Value ${describeValue(v)} at '${path}' failed to satisfy constraint: ${constraint}`, at);
    // The decoders hand over values of the shape's type; one that is not is refused, never trusted.
    const expected = EXPECTED_TYPE[s.type];
    if (expected && !expected(v)) {
      fail(`Member must be of type ${s.type}`);
      return;
    }
    switch (s.type) {
      case 'structure': {
        const obj = v as Record<string, unknown>;
        const members = s.members ?? {};
        for (const r of s.required ?? []) {
          const ref = members[r];
          if (obj[r] === undefined) errors.add(`Value null at '${join(path, ref ? wireName(ref, r) : r)}' failed to satisfy constraint: Member must not be null`);
        }
        for (const [k, ref] of Object.entries(members)) {
          if (obj[k] !== undefined) this.check(ref.shape, obj[k], join(path, wireName(ref, k)), errors, join(mpath, k));
        }
        return;
      }
      case 'list': {
        const arr = v as unknown[];
        if (s.min !== undefined && arr.length < s.min) fail(`Member must have length greater than or equal to ${s.min}`);
        if (s.max !== undefined && arr.length > s.max) fail(`Member must have length less than or equal to ${s.max}`);
        const ms = this.shape(s.member!.shape);
        if (isScalar(ms)) {
          // A list of scalars fails once, at the list, with every constraint its members have.
          if (arr.some((item) => this.scalarFailures(ms, item).length > 0)) fail(`Member must satisfy constraint: [${scalarConstraints(ms).join(', ')}]`, join(mpath, 'member'));
          return;
        }
        arr.forEach((item, i) => this.check(s.member!.shape, item, join(path, `${i + 1}.member`), errors, mpath));
        return;
      }
      case 'map': {
        const obj = v as Record<string, unknown>;
        const keys = Object.keys(obj);
        if (s.min !== undefined && keys.length < s.min) fail(`Member must have length greater than or equal to ${s.min}`);
        if (s.max !== undefined && keys.length > s.max) fail(`Member must have length less than or equal to ${s.max}`);
        const ks = this.shape(s.key!.shape);
        const vs = this.shape(s.value!.shape);
        if (keys.some((k) => this.scalarFailures(ks, k).length > 0)) fail(`Map keys must satisfy constraint: [${scalarConstraints(ks).join(', ')}]`, join(mpath, 'key'));
        if (isScalar(vs)) {
          if (keys.some((k) => this.scalarFailures(vs, obj[k]).length > 0)) fail(`Map value must satisfy constraint: [${scalarConstraints(vs).join(', ')}]`, join(mpath, 'value'));
          return;
        }
        for (const k of keys) this.check(s.value!.shape, obj[k], join(path, k), errors, join(mpath, 'value'));
        return;
      }
      default:
        for (const c of this.scalarFailures(s, v)) fail(c);
    }
  }

  /** The constraints of a scalar shape that `v` fails (after a type check), in AWS's order. */
  private scalarFailures(s: Shape, v: unknown): string[] {
    const expected = EXPECTED_TYPE[s.type];
    if (expected && !expected(v)) return [`Member must be of type ${s.type}`];
    const out: string[] = [];
    switch (s.type) {
      case 'string': {
        const str = v as string;
        if (s.enum && !s.enum.includes(str)) out.push(enumConstraint(s.enum));
        const len = codePoints(str);
        if (s.max !== undefined && len > s.max) out.push(`Member must have length less than or equal to ${s.max}`);
        if (s.min !== undefined && len < s.min) out.push(`Member must have length greater than or equal to ${s.min}`);
        if (s.pattern) {
          const re = this.pattern(s.pattern);
          if (re && !re.test(str)) out.push(`Member must satisfy regular expression pattern: ${s.pattern}`);
        }
        return out;
      }
      case 'integer':
      case 'long':
      case 'float':
      case 'double': {
        const num = v as number;
        if (s.max !== undefined && num > s.max) out.push(`Member must have value less than or equal to ${s.max}`);
        if (s.min !== undefined && num < s.min) out.push(`Member must have value greater than or equal to ${s.min}`);
        return out;
      }
      case 'blob': {
        const b = v as Buffer;
        if (s.max !== undefined && b.length > s.max) out.push(`Member must have length less than or equal to ${s.max}`);
        if (s.min !== undefined && b.length < s.min) out.push(`Member must have length greater than or equal to ${s.min}`);
        return out;
      }
      default:
        return out;
    }
  }

  private pattern(src: string): PatternMatcher | null {
    let re = this.patterns.get(src);
    if (re === undefined) {
      re = compileModelPattern(src);
      this.patterns.set(src, re);
    }
    return re;
  }

  /**
   * Encodes a handler's result for an awsJson response: members by the output shape only,
   * timestamps as epoch seconds, blobs as base64, absent members omitted.
   */
  encodeJson(shapeName: string, v: unknown, as: ScalarEncoding = JSON_SCALARS): unknown {
    if (v === undefined || v === null) return undefined;
    const s = this.shape(shapeName);
    switch (s.type) {
      case 'structure': {
        const out: Record<string, unknown> = {};
        for (const [k, ref] of Object.entries(s.members ?? {})) {
          const e = this.encodeJson(ref.shape, (v as Record<string, unknown>)[k], as);
          if (e !== undefined) out[k] = e;
        }
        return out;
      }
      case 'list':
        return (v as unknown[]).map((item) => this.encodeJson(s.member!.shape, item, as));
      case 'map': {
        const out: Record<string, unknown> = {};
        for (const [k, mv] of Object.entries(v as Record<string, unknown>)) out[k] = this.encodeJson(s.value!.shape, mv, as);
        return out;
      }
      case 'timestamp':
        return as.timestamp(toDate(v));
      case 'blob':
        return Buffer.isBuffer(v) ? as.blob(v) : v;
      default:
        return v;
    }
  }
}

/** How `encodeJson` writes the scalars the wire formats differ on (awsJson: epoch seconds and base64; CBOR: tag 1 and byte strings). */
export interface ScalarEncoding {
  timestamp(d: Date): unknown;
  blob(b: Buffer): unknown;
}

/** awsJson's scalars: timestamps as epoch seconds, blobs as base64. */
export const JSON_SCALARS: ScalarEncoding = { timestamp: (d) => d.getTime() / 1000, blob: (b) => b.toString('base64') };

/** Accepts the forms handlers and stores use for instants (Date, epoch ms, ISO string). */
export function toDate(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'number') return new Date(v);
  return new Date(String(v));
}

/** Shapes whose values are single values (checked by `scalarFailures`). */
function isScalar(s: Shape): boolean {
  return s.type !== 'structure' && s.type !== 'list' && s.type !== 'map';
}

/** Every constraint a scalar shape declares, as AWS lists them in "Member must satisfy constraint: [...]". */
function scalarConstraints(s: Shape): string[] {
  const out: string[] = [];
  const isNumber = s.type === 'integer' || s.type === 'long' || s.type === 'float' || s.type === 'double';
  const what = isNumber ? 'value' : 'length';
  if (s.enum) out.push(enumConstraint(s.enum));
  if (s.max !== undefined) out.push(`Member must have ${what} less than or equal to ${s.max}`);
  if (s.min !== undefined) out.push(`Member must have ${what} greater than or equal to ${s.min}`);
  if (s.pattern) out.push(`Member must satisfy regular expression pattern: ${s.pattern}`);
  return out;
}

function enumConstraint(values: string[]): string {
  return `Member must satisfy enum value set: [${values.join(', ')}]`;
}

/** A string's length in code points (as AWS's Java services count it, surrogate pairs once). */
function codePoints(str: string): number {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) i++;
    n++;
  }
  return n;
}

function join(path: string, k: string): string {
  return path ? `${path}.${k}` : k;
}

function describeJson(v: unknown): string {
  if (Array.isArray(v)) return 'Start of list';
  if (typeof v === 'object') return 'Start of structure or map';
  if (typeof v === 'string') return 'STRING_VALUE';
  if (typeof v === 'boolean') return 'BOOLEAN_VALUE';
  if (typeof v === 'number') return Number.isInteger(v) ? 'NUMBER_VALUE' : 'DECIMAL_VALUE';
  return 'VALUE';
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 256 ? `${v.slice(0, 256)}...` : v}'`;
  if (Array.isArray(v)) {
    // A list's first items only: the list may be what is too long.
    const shown = v.slice(0, MAX_REPORTED).map((x) => (typeof x === 'object' ? '{...}' : describeItem(x)));
    return `'[${shown.join(', ')}${v.length > MAX_REPORTED ? `, ... (${v.length} items)` : ''}]'`;
  }
  if (Buffer.isBuffer(v)) return `'java.nio.HeapByteBuffer[len=${v.length}]'`;
  if (v && typeof v === 'object') {
    // A map (or structure) as Java prints one: {k=v, ...}, its first entries only.
    const entries = Object.entries(v as Record<string, unknown>);
    const shown = entries.slice(0, MAX_REPORTED).map(([k, x]) => `${describeItem(k)}=${typeof x === 'object' && x !== null ? '{...}' : describeItem(x)}`);
    return `'{${shown.join(', ')}${entries.length > MAX_REPORTED ? `, ... (${entries.length} entries)` : ''}}'`;
  }
  return `'${String(v)}'`;
}

function describeItem(x: unknown): string {
  const s = String(x);
  return s.length > 64 ? `${s.slice(0, 64)}...` : s;
}
