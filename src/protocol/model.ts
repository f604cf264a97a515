/**
 * AWS API models (src/models/*.json, derived from AWS's published service descriptions) and the
 * walks over them that the protocol layer needs: input decoding with type checks, constraint
 * validation (required, enum, length, range, pattern) and shape-directed output encoding; and
 * `parseJson`, the same checks for a client of Berth's own channel (the agent) on what it receives.
 * Error messages name the first few problems and count the rest, however large the input.
 *
 * Handlers only ever see input that passed here, and whatever they return is encoded strictly
 * by the output shape (unknown members are dropped), so the wire shape is the model's.
 *
 * This file holds `ServiceModel` (loading, decoding, encoding); the shape types are in
 * ./modelShapes.ts, constraint validation and its messages in ./modelValidation.ts, pattern
 * compilation in ./modelPatterns.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ServiceError } from '../errors.js';
import type { ModelDocument, Operation, Shape } from './modelShapes.js';
import { ConstraintChecker, joinPath, Problems, scalarProblem, wireName, type SpecialErrors } from './modelValidation.js';

/** A value decoded and checked against a shape (see `ServiceModel.parseJson`). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const MODELS_DIR = fileURLToPath(new URL('../../../src/models/', import.meta.url));

/** One service's API model with decoding, validation and encoding over its shapes. */
export class ServiceModel {
  readonly metadata: ModelDocument['metadata'];
  readonly operations: Record<string, Operation>;
  readonly shapes: Record<string, Shape>;
  /** Operations of the AWS API that this (trimmed) model leaves out: Berth does not serve them. */
  readonly unservedOperations: ReadonlySet<string>;
  /** Checks values against this model's shapes (with its compiled patterns). */
  private readonly checker = new ConstraintChecker((name) => this.shape(name));

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
    if (!problems.count) this.checker.check(shapeName, value, '', problems, '');
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
          out[k] = this.decodeJson(ref.shape, mv, joinPath(path, wireName(ref, k)), problems, wire);
        }
        return out;
      }
      case 'list': {
        if (!Array.isArray(v)) return bad('a list');
        return v.map((item, i) => this.decodeJson(s.member!.shape, item, joinPath(path, `${i + 1}.member`), problems, wire)).filter((x) => x !== undefined);
      }
      case 'map': {
        if (typeof v !== 'object' || Array.isArray(v)) return bad('a map');
        const out: Record<string, unknown> = {};
        for (const [k, mv] of Object.entries(v as Record<string, unknown>)) {
          const d = this.decodeJson(s.value!.shape, mv, joinPath(path, k), problems, wire);
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
    this.checker.check(shapeName, value, '', errors, '');
    if (!errors.count) return;
    for (const [member, make] of Object.entries(special ?? {})) if (errors.members.has(member)) throw make();
    throw new ServiceError(code, errors.detected());
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

/** A JSON value as AWS's JSON decoders name what they found (`Start of list`, `STRING_VALUE`...). */
function describeJson(v: unknown): string {
  if (Array.isArray(v)) return 'Start of list';
  if (typeof v === 'object') return 'Start of structure or map';
  if (typeof v === 'string') return 'STRING_VALUE';
  if (typeof v === 'boolean') return 'BOOLEAN_VALUE';
  if (typeof v === 'number') return Number.isInteger(v) ? 'NUMBER_VALUE' : 'DECIMAL_VALUE';
  return 'VALUE';
}
