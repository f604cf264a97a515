/**
 * The gateway's authorization step, between decoding a request and calling its handler: every
 * call by a principal other than root is checked against IAM policies, for each resource the
 * operation acts on and each role it passes (src/services/authorization.ts says which), with
 * the request's global condition keys (aws:SourceIp, aws:CurrentTime, aws:SecureTransport,
 * aws:RequestedRegion, request tags), and the resource's own policy where it has one (ECR repository
 * policies: an Allow naming the caller allows, a Deny denies). A denied call gets the protocol's access-denied error
 * (awsJson `AccessDeniedException`, awsQuery `AccessDenied` 403) in AWS's words.
 */
import type { CallerPrincipal } from '../domain/iam/credentials.js';
import type { AccessQuestion } from '../domain/iam/authorizer.js';
import { ACTION_PREFIX, accessRuleFor, resourcePolicyOf } from '../services/authorization.js';
import type { CompiledPolicy } from '../domain/iam/policy/document.js';
import type { RequestContext, ServiceDefinition } from '../services/types.js';
import { authorizeAgent } from '../services/agentAccess.js';

/** The port the gateway asks: throws the access-denied error (with `code`) unless the caller may. */
export interface AccessGate {
  check(caller: CallerPrincipal, q: AccessQuestion, code?: string): Promise<void>;
  /** Compiles a resource's own policy (cached by its text), for resources that have one. */
  compile?(text: string, kind: 'resource'): CompiledPolicy;
}

/** What the authorization step learnt of a request, for its audit record. */
export interface AuthorizationNote {
  /** The resource ARNs the operation acts on (set before any check, so a denied call has them too). */
  resources?: string[];
}

/**
 * Checks one decoded request; throws the access-denied error of the service's protocol. With
 * `note`, says which resources the request acts on (root's requests included).
 */
export async function authorizeRequest(gate: AccessGate, service: ServiceDefinition, op: string, input: unknown, ctx: RequestContext, note?: AuthorizationNote): Promise<void> {
  if (ctx.principal.kind === 'root' && !note) return;
  // Agents hold no IAM policies: they act as their container instance only.
  if (ctx.principal.kind === 'agent') return authorizeAgent(service.name, service.protocol, `${ACTION_PREFIX[service.name] ?? service.name}:${op}`, input, ctx);
  const rule = accessRuleFor(service.name, op, input, ctx);
  if (note && typeof rule === 'object') note.resources = rule.resources;
  if (ctx.principal.kind === 'root') return;
  if (rule === 'public' || rule === 'handler') return;
  const now = ctx.platform.clock.now();
  const keys: Record<string, string[]> = {
    'aws:currenttime': [new Date(now).toISOString()],
    'aws:epochtime': [String(Math.floor(now / 1000))],
    'aws:securetransport': [ctx.secureTransport ? 'true' : 'false'],
    'aws:requestedregion': [ctx.region],
    ...(ctx.sourceIp ? { 'aws:sourceip': [ctx.sourceIp] } : {}),
    ...rule.keys,
  };
  const code = service.protocol === 'query' || service.protocol === 'ec2' ? 'AccessDenied' : 'AccessDeniedException';
  const action = `${ACTION_PREFIX[service.name] ?? service.name}:${op}`;
  for (const resource of rule.resources) await gate.check(ctx.principal, { action, resource, keys, resourcePolicy: await compiledResourcePolicy(gate, service.name, resource, ctx) }, code);
  for (const p of rule.passRoles ?? []) await gate.check(ctx.principal, { action: 'iam:PassRole', resource: p.roleArn, keys: { ...keys, 'iam:passedtoservice': [p.service] } }, code);
}

/** The resource's own policy (an ECR repository policy), compiled; one that does not compile counts as none. */
async function compiledResourcePolicy(gate: AccessGate, service: string, resource: string, ctx: RequestContext): Promise<CompiledPolicy | undefined> {
  if (!gate.compile) return undefined;
  const text = await resourcePolicyOf(service, resource, ctx);
  if (!text) return undefined;
  try {
    return gate.compile(text, 'resource');
  } catch {
    return undefined;
  }
}
