/**
 * The awsQuery protocol (STS, ELBv2, CloudFormation): form-encoded `Action`/`Version`
 * parameters in, XML out. Input is decoded against the operation's input shape (lists as
 * `Name.member.N`, maps as `Name.entry.N.key/value`, flattened forms too); output is written
 * by the output shape inside `<ActionResponse><ActionResult>` with `ResponseMetadata`.
 */
import { ServiceError } from '../errors.js';
import { commonErrors } from './errors.js';
import { toDate, type ServiceModel } from './model.js';
import type { ShapeRef } from './modelShapes.js';
import { Problems, scalarProblem, wireName, type SpecialErrors } from './modelValidation.js';

/** A form body as a tree of its dotted key segments (`Filter.1.Name` is Filter -> 1 -> Name). */
export type Tree = { value?: string; children: Map<string, Tree> };

/**
 * How a form names members and list items: awsQuery (`Name.member.N`, members by their
 * `locationName` or name) or EC2's own (`Name.N`, members by their `locationName` with its first
 * letter upper-cased, as botocore's and the SDKs' EC2 serializers write them).
 */
export type FormDialect = 'query' | 'ec2';

/** Parses `a.b.1=x&...` into a tree of dotted segments. */
export function parseForm(body: string): { params: URLSearchParams; tree: Tree } {
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(body);
  } catch {
    throw commonErrors.malformedQuery('The request body is not valid application/x-www-form-urlencoded data.');
  }
  const tree: Tree = { children: new Map() };
  for (const [k, v] of params) {
    let node = tree;
    for (const seg of k.split('.')) {
      let next = node.children.get(seg);
      if (!next) node.children.set(seg, (next = { children: new Map() }));
      node = next;
    }
    node.value = v;
  }
  return { params, tree };
}

/**
 * Decodes the form tree into the operation's typed input, then validates constraints. A value
 * that is not of its member's type is a validation error in AWS's form ("N validation errors
 * detected: Value 'x' at 'member.1.member' ..."), members named as `wireName` spells them.
 */
export function decodeQueryInput(model: ServiceModel, opName: string, tree: Tree, validationCode: string, special?: SpecialErrors): Record<string, unknown> {
  const op = model.operations[opName]!;
  if (!op.input) return {};
  const problems = new Problems();
  const out = decodeFormStruct(model, op.input.shape, tree, '', problems, 'query');
  if (problems.count) throw new ServiceError(validationCode, problems.detected());
  model.validate(op.input.shape, out, validationCode, special);
  return out;
}

/** The key a member has in a form of the dialect (see `FormDialect`). */
export function formKey(ref: ShapeRef, name: string, dialect: FormDialect): string {
  if (dialect === 'query') return ref.locationName ?? name;
  const n = ref.queryName ?? ref.locationName ?? name;
  return ref.queryName ? n : n.charAt(0).toUpperCase() + n.slice(1);
}

/**
 * Decodes the members of a structure from a form tree (type problems counted in `problems`,
 * named by their wire path); members absent from the form are left out.
 */
export function decodeFormStruct(model: ServiceModel, shapeName: string, node: Tree, path: string, problems: Problems, dialect: FormDialect): Record<string, unknown> {
  const s = model.shape(shapeName);
  const out: Record<string, unknown> = {};
  for (const [name, ref] of Object.entries(s.members ?? {})) {
    const child = dialect === 'query' ? (node.children.get(ref.locationName ?? name) ?? node.children.get(name)) : node.children.get(formKey(ref, name, dialect));
    if (!child) continue;
    const wire = dialect === 'query' ? wireName(ref, name) : formKey(ref, name, dialect);
    const v = decodeValue(model, ref, child, path ? `${path}.${wire}` : wire, problems, dialect);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function indexed(node: Tree): Tree[] {
  return [...node.children.entries()]
    .filter(([k]) => /^\d+$/.test(k))
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([, v]) => v);
}

function decodeValue(model: ServiceModel, ref: ShapeRef, node: Tree, path: string, problems: Problems, dialect: FormDialect): unknown {
  const s = model.shape(ref.shape);
  switch (s.type) {
    case 'structure':
      return decodeFormStruct(model, ref.shape, node, path, problems, dialect);
    case 'list': {
      if (node.value === '' && node.children.size === 0) return [];
      const memberName = s.member!.locationName ?? 'member';
      // EC2 lists are always `Name.N`; awsQuery ones `Name.member.N` unless flattened.
      const items = s.flattened || dialect === 'ec2' ? indexed(node) : indexed(node.children.get(memberName) ?? { children: new Map() });
      const out: unknown[] = [];
      const itemPath = (i: number) => (dialect === 'ec2' ? `${path}.${i + 1}` : `${path}.${i + 1}.member`);
      items.forEach((item, i) => {
        const v = decodeValue(model, s.member!, item, itemPath(i), problems, dialect);
        if (v === undefined) problems.add(`Value null at '${itemPath(i)}' failed to satisfy constraint: Member must not be null`);
        else out.push(v);
      });
      return out;
    }
    case 'map': {
      const keyName = s.key!.locationName ?? 'key';
      const valueName = s.value!.locationName ?? 'value';
      const entries = s.flattened ? indexed(node) : indexed(node.children.get('entry') ?? { children: new Map() });
      const out: Record<string, unknown> = {};
      for (const e of entries) {
        const k = e.children.get(keyName)?.value;
        const v = e.children.get(valueName);
        if (k === undefined || !v) continue;
        // Defined, not assigned: a key such as __proto__ is an ordinary key here.
        Object.defineProperty(out, k, { value: decodeValue(model, s.value!, v, `${path}.${k}`, problems, dialect), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    default: {
      const raw = node.value;
      if (raw === undefined) return undefined;
      switch (s.type) {
        case 'string':
          if (!scalarProblem('string', raw)) return raw;
          problems.add(`Value at '${path}' failed to satisfy constraint: Member must be a String of well-formed Unicode`);
          return undefined;
        case 'boolean':
          if (raw === 'true' || raw === 'false') return raw === 'true';
          problems.add(`Value '${raw.slice(0, 64)}' at '${path}' failed to satisfy constraint: Member must be a boolean (true or false)`);
          return undefined;
        case 'integer':
        case 'long': {
          const n = /^-?\d{1,20}$/.test(raw) ? Number(raw) : NaN;
          const problem = scalarProblem(s.type, n);
          if (!problem) return n;
          problems.add(`Value '${raw.slice(0, 64)}' at '${path}' failed to satisfy constraint: Member must be ${problem}`);
          return undefined;
        }
        case 'float':
        case 'double': {
          const n = raw.trim() === '' ? NaN : Number(raw);
          const problem = scalarProblem(s.type, n);
          if (!problem) return n;
          problems.add(`Value '${raw.slice(0, 64)}' at '${path}' failed to satisfy constraint: Member must be ${problem}`);
          return undefined;
        }
        case 'timestamp': {
          const d = new Date(/^\d{1,15}$/.test(raw) ? Number(raw) * 1000 : raw);
          if (!scalarProblem('timestamp', d)) return d;
          problems.add(`Value '${raw.slice(0, 64)}' at '${path}' failed to satisfy constraint: Member must be a timestamp (epoch seconds or ISO 8601, years 1 to 9999)`);
          return undefined;
        }
        case 'blob':
          return Buffer.from(raw, 'base64');
        default:
          return raw;
      }
    }
  }
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Writes a value as XML by its shape (members by `locationName`, list items by their member's). */
export function encodeXmlValue(model: ServiceModel, shapeName: string, v: unknown, out: string[]): void {
  const s = model.shape(shapeName);
  switch (s.type) {
    case 'structure':
      for (const [name, ref] of Object.entries(s.members ?? {})) {
        const mv = (v as Record<string, unknown>)[name];
        if (mv === undefined || mv === null) continue;
        const tag = ref.locationName ?? name;
        const ms = model.shape(ref.shape);
        if (ms.type === 'list' && ms.flattened) {
          for (const item of mv as unknown[]) {
            out.push(`<${tag}>`);
            encodeXmlValue(model, ms.member!.shape, item, out);
            out.push(`</${tag}>`);
          }
          continue;
        }
        out.push(`<${tag}>`);
        encodeXmlValue(model, ref.shape, mv, out);
        out.push(`</${tag}>`);
      }
      return;
    case 'list': {
      const tag = s.member!.locationName ?? 'member';
      for (const item of v as unknown[]) {
        out.push(`<${tag}>`);
        encodeXmlValue(model, s.member!.shape, item, out);
        out.push(`</${tag}>`);
      }
      return;
    }
    case 'map': {
      const k = s.key!.locationName ?? 'key';
      const val = s.value!.locationName ?? 'value';
      for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) {
        out.push(`<entry><${k}>${escapeXml(mk)}</${k}><${val}>`);
        encodeXmlValue(model, s.value!.shape, mv, out);
        out.push(`</${val}></entry>`);
      }
      return;
    }
    case 'timestamp':
      out.push(toDate(v).toISOString());
      return;
    case 'blob':
      out.push(Buffer.isBuffer(v) ? v.toString('base64') : escapeXml(String(v)));
      return;
    default:
      out.push(escapeXml(String(v)));
  }
}

/** Renders a successful query response. */
export function encodeQueryResponse(model: ServiceModel, opName: string, result: unknown, requestId: string): string {
  const op = model.operations[opName]!;
  const ns = model.metadata.xmlNamespace ?? '';
  const out: string[] = [`<${opName}Response xmlns="${ns}">`];
  if (op.output) {
    const wrapper = op.output.resultWrapper ?? `${opName}Result`;
    out.push(`<${wrapper}>`);
    encodeXmlValue(model, op.output.shape, result ?? {}, out);
    out.push(`</${wrapper}>`);
  }
  out.push(`<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${opName}Response>`);
  return out.join('');
}

/** Renders an error in the query protocol's `<ErrorResponse>` shape. */
export function encodeQueryError(err: ServiceError, requestId: string, xmlNamespace = ''): string {
  return (
    `<ErrorResponse xmlns="${xmlNamespace}"><Error><Type>${err.sender ? 'Sender' : 'Receiver'}</Type>` +
    `<Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

/**
 * Renders an error as the EC2 query protocol has them (`<Response><Errors><Error>`), for answers
 * to EC2 clients (see src/server/unserved.ts).
 */
export function encodeEc2Error(err: ServiceError, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${escapeXml(err.code)}</Code>` +
    `<Message>${escapeXml(err.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
  );
}

/** Renders an error as REST-XML services (S3, Route 53, CloudFront) have them: `<Error><Code>`. */
export function encodeRestXmlError(err: ServiceError, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message><RequestId>${requestId}</RequestId></Error>`;
}
