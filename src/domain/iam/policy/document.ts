/**
 * IAM policy documents: parsed and checked once (as IAM does when a policy is stored), then
 * compiled into statements whose action and resource patterns are precompiled wildcard matchers
 * (src/domain/glob.ts: linear in the text, no backtracking), so evaluating a request costs no
 * parsing. A document that is not a policy fails with `MalformedPolicyDocument` and a message
 * that names what is wrong, as IAM's does.
 *
 * The grammar (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html):
 * `Version` ("2012-10-17" or "2008-10-17"), `Statement` (one object or a list), each with
 * `Effect`, one of `Action`/`NotAction`, one of `Resource`/`NotResource` (identity policies) and
 * `Principal`/`NotPrincipal` (resource and trust policies), optional `Sid` and `Condition`.
 */
import { ServiceError } from '../../../errors.js';
import { compileGlob, type Glob } from '../../glob.js';
import { compileCondition, type CompiledCondition } from './conditions.js';

/** Where a document is used: identity policies carry resources, resource/trust policies carry principals. */
export type PolicyKind = 'identity' | 'resource' | 'trust';

/** Most statements one document may hold (IAM's size limits keep real ones far below this). */
export const MAX_STATEMENTS = 200;
/** Most characters of a policy document Berth reads (IAM's largest, a role's inline policies: 10,240). */
export const MAX_POLICY_CHARS = 131_072;

/** A statement's principal patterns by kind (`AWS`, `Service`, `Federated`, `CanonicalUser`), or `*` for anyone. */
export type PrincipalSpec = '*' | Record<string, string[]>;

/** One compiled statement. */
export interface CompiledStatement {
  sid?: string;
  effect: 'Allow' | 'Deny';
  /** Action patterns (case-insensitive), and whether they are a NotAction list. */
  actions: Glob[];
  notAction: boolean;
  /** Resource patterns with policy variables still in them (resolved per request), and whether NotResource. */
  resources: ResourcePattern[] | undefined;
  notResource: boolean;
  principal: PrincipalSpec | undefined;
  notPrincipal: boolean;
  condition: CompiledCondition;
}

/** A resource pattern: compiled once when it has no policy variable, else per request. */
export interface ResourcePattern {
  source: string;
  glob?: Glob;
}

/** A checked, compiled policy document. */
export interface CompiledPolicy {
  version: string;
  statements: CompiledStatement[];
}

function malformed(message: string): ServiceError {
  return new ServiceError('MalformedPolicyDocument', message);
}

function stringList(v: unknown, what: string): string[] {
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
  if (!list || list.length === 0) throw malformed(`${what} must be a string or a non-empty list of strings.`);
  for (const x of list) if (typeof x !== 'string' || x.length === 0) throw malformed(`${what} must be a string or a non-empty list of strings.`);
  if (list.length > 1000) throw malformed(`${what} lists more than 1000 values.`);
  return list as string[];
}

const ACTION_RE = /^(\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+)$/;

function compileActions(v: unknown, key: string): Glob[] {
  return stringList(v, key).map((a) => {
    if (!ACTION_RE.test(a)) throw malformed(`Action '${a.slice(0, 128)}' in ${key} is not 'service:Action' (wildcards * and ? allowed) or '*'.`);
    return compileGlob(a, true);
  });
}

function compileResources(v: unknown, key: string): ResourcePattern[] {
  return stringList(v, key).map((r) => {
    if (r !== '*' && !r.startsWith('arn:')) throw malformed(`Resource ${r.slice(0, 256)} must be in ARN format or "*".`);
    return r.includes('${') ? { source: r } : { source: r, glob: compileGlob(r, false) };
  });
}

function compilePrincipal(v: unknown, key: string): PrincipalSpec {
  if (v === '*') return '*';
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw malformed(`${key} must be "*" or an object such as {"AWS": "arn:aws:iam::123456789012:root"}.`);
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [kind, values] of Object.entries(v)) {
    if (!['AWS', 'Service', 'Federated', 'CanonicalUser'].includes(kind)) throw malformed(`Invalid principal kind ${kind.slice(0, 64)} in ${key}: use AWS, Service, Federated or CanonicalUser.`);
    out[kind] = stringList(values, `${key}.${kind}`);
  }
  return out;
}

/**
 * Parses and compiles a policy document (JSON text). `kind` says which elements it must and may
 * have. Throws `MalformedPolicyDocument` with what is wrong.
 */
export function compilePolicy(text: string, kind: PolicyKind): CompiledPolicy {
  if (text.length > MAX_POLICY_CHARS) throw malformed(`The policy document is longer than ${MAX_POLICY_CHARS} characters.`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('The policy document is not valid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed('The policy document must be a JSON object.');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!['Version', 'Id', 'Statement'].includes(k)) throw malformed(`Policy document has an unknown element ${k.slice(0, 64)}.`);
  const version = d.Version ?? '2008-10-17';
  if (version !== '2012-10-17' && version !== '2008-10-17') throw malformed(`The policy document's Version must be "2012-10-17" (or "2008-10-17").`);
  if (d.Statement === undefined) throw malformed('Syntax errors in policy: the policy document has no Statement.');
  const raw = Array.isArray(d.Statement) ? d.Statement : [d.Statement];
  if (raw.length === 0) throw malformed('Syntax errors in policy: Statement is an empty list.');
  if (raw.length > MAX_STATEMENTS) throw malformed(`The policy document holds more than ${MAX_STATEMENTS} statements.`);
  const sids = new Set<string>();
  const statements = raw.map((s, i): CompiledStatement => {
    const where = `Statement ${i + 1}`;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw malformed(`${where} must be a JSON object.`);
    const st = s as Record<string, unknown>;
    for (const k of Object.keys(st)) {
      if (!['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal', 'Condition'].includes(k)) throw malformed(`${where} has an unknown element ${k.slice(0, 64)}.`);
    }
    if (st.Sid !== undefined) {
      if (typeof st.Sid !== 'string' || (version === '2012-10-17' && !/^[A-Za-z0-9]*$/.test(st.Sid))) throw malformed(`${where}: a Sid holds only letters and digits.`);
      if (st.Sid && sids.has(st.Sid)) throw malformed(`Statement IDs (SID) in a single policy must be unique: ${st.Sid}.`);
      sids.add(st.Sid);
    }
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw malformed(`${where}: Effect must be "Allow" or "Deny".`);
    if ((st.Action === undefined) === (st.NotAction === undefined)) throw malformed(`${where} must have exactly one of Action and NotAction.`);
    const notAction = st.NotAction !== undefined;
    const actions = compileActions(notAction ? st.NotAction : st.Action, notAction ? 'NotAction' : 'Action');
    const hasResource = st.Resource !== undefined || st.NotResource !== undefined;
    const hasPrincipal = st.Principal !== undefined || st.NotPrincipal !== undefined;
    if (st.Resource !== undefined && st.NotResource !== undefined) throw malformed(`${where} must not have both Resource and NotResource.`);
    if (st.Principal !== undefined && st.NotPrincipal !== undefined) throw malformed(`${where} must not have both Principal and NotPrincipal.`);
    if (kind === 'identity') {
      if (hasPrincipal) throw malformed(`Has prohibited field Principal: an identity-based policy names no principal (${where}).`);
      if (!hasResource) throw malformed(`Policy statement must contain resources (${where}).`);
    } else {
      if (!hasPrincipal) throw malformed(`Has no Principal: a ${kind} policy must say whom each statement is about (${where}).`);
      if (kind === 'trust' && hasResource) throw malformed(`Has prohibited field Resource: a trust policy names no resource (${where}).`);
    }
    const notResource = st.NotResource !== undefined;
    const notPrincipal = st.NotPrincipal !== undefined;
    return {
      sid: typeof st.Sid === 'string' && st.Sid ? st.Sid : undefined,
      effect: st.Effect,
      actions,
      notAction,
      resources: hasResource ? compileResources(notResource ? st.NotResource : st.Resource, notResource ? 'NotResource' : 'Resource') : undefined,
      notResource,
      principal: hasPrincipal ? compilePrincipal(notPrincipal ? st.NotPrincipal : st.Principal, notPrincipal ? 'NotPrincipal' : 'Principal') : undefined,
      notPrincipal,
      condition: compileCondition(st.Condition, where, malformed),
    };
  });
  return { version: String(version), statements };
}
