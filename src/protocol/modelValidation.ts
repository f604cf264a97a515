/**
 * Constraint validation over AWS API models (./model.ts): the scalar type checks shared by the
 * JSON and query decoders (`scalarProblem`), the problem counter that keeps error messages short
 * however large the input (`Problems`), members' wire names, and `ConstraintChecker`, the walk
 * that checks required members, enums, lengths, ranges and patterns the way AWS reports them.
 */
import type { ServiceError } from '../errors.js';
import { compileModelPattern, type PatternMatcher } from './modelPatterns.js';
import type { Shape, ShapeRef } from './modelShapes.js';

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

/**
 * Checks values against the shapes of one model (see `ServiceModel.validate`): walks a value,
 * adding every failed constraint to a `Problems`. Holds the model's compiled patterns.
 */
export class ConstraintChecker {
  private readonly patterns = new Map<string, PatternMatcher | null>();

  constructor(
    /** The model's shape of a name (throws for an unknown one). */
    private readonly shape: (name: string) => Shape,
  ) {}

  /**
   * Walks `v` against its shape, adding what fails to `errors`. `mpath` is the model path of the
   * value (see `SpecialErrors`), recorded with each constraint failure.
   */
  check(shapeName: string, v: unknown, path: string, errors: Problems, mpath: string): void {
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
          if (obj[r] === undefined) errors.add(`Value null at '${joinPath(path, ref ? wireName(ref, r) : r)}' failed to satisfy constraint: Member must not be null`);
        }
        for (const [k, ref] of Object.entries(members)) {
          if (obj[k] !== undefined) this.check(ref.shape, obj[k], joinPath(path, wireName(ref, k)), errors, joinPath(mpath, k));
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
          if (arr.some((item) => this.scalarFailures(ms, item).length > 0)) fail(`Member must satisfy constraint: [${scalarConstraints(ms).join(', ')}]`, joinPath(mpath, 'member'));
          return;
        }
        arr.forEach((item, i) => this.check(s.member!.shape, item, joinPath(path, `${i + 1}.member`), errors, mpath));
        return;
      }
      case 'map': {
        const obj = v as Record<string, unknown>;
        const keys = Object.keys(obj);
        if (s.min !== undefined && keys.length < s.min) fail(`Member must have length greater than or equal to ${s.min}`);
        if (s.max !== undefined && keys.length > s.max) fail(`Member must have length less than or equal to ${s.max}`);
        const ks = this.shape(s.key!.shape);
        const vs = this.shape(s.value!.shape);
        if (keys.some((k) => this.scalarFailures(ks, k).length > 0)) fail(`Map keys must satisfy constraint: [${scalarConstraints(ks).join(', ')}]`, joinPath(mpath, 'key'));
        if (isScalar(vs)) {
          if (keys.some((k) => this.scalarFailures(vs, obj[k]).length > 0)) fail(`Map value must satisfy constraint: [${scalarConstraints(vs).join(', ')}]`, joinPath(mpath, 'value'));
          return;
        }
        for (const k of keys) this.check(s.value!.shape, obj[k], joinPath(path, k), errors, joinPath(mpath, 'value'));
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

/** The enum constraint as AWS words it. */
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

/** A member path with `k` appended (`a.b`), or `k` at the top. */
export function joinPath(path: string, k: string): string {
  return path ? `${path}.${k}` : k;
}

/** A value as AWS's validation messages quote it (strings, lists and maps shortened). */
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

/** One item or key of a quoted list or map, shortened. */
function describeItem(x: unknown): string {
  const s = String(x);
  return s.length > 64 ? `${s.slice(0, 64)}...` : s;
}
