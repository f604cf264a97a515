/**
 * `InProcessInvoker`, the `ServiceInvoker` port (src/domain/invoker.ts): calls a served API's
 * handler in process the way the gateway does for a request (the model's validation, then the
 * handler), with the input conformed to the model first (member names matched
 * case-insensitively, scalars converted to the member's type, unknown members dropped).
 */
import { randomUUID } from 'node:crypto';
import { ServiceError } from '../errors.js';
import type { ServiceInvoker } from '../domain/invoker.js';
import type { Scope } from '../domain/platform.js';
import type { ServiceModel } from '../protocol/model.js';
import type { RequestContext, ServiceDefinition } from '../services/types.js';
import type { CallerPrincipal } from '../domain/iam/credentials.js';
import { authorizeRequest, type AccessGate } from './authorization.js';

/** How deep an input may nest before it is refused. */
const MAX_DEPTH = 40;

export class InProcessInvoker implements ServiceInvoker {
  private services = new Map<string, ServiceDefinition>();

  constructor(
    private readonly shutdown: AbortSignal,
    /** IAM's decision, applied to calls made as a principal (`as`). */
    private readonly access?: AccessGate,
  ) {}

  /** Registers the services it calls (the composition root, once they are built). */
  serve(services: readonly ServiceDefinition[]): void {
    this.services = new Map(services.map((s) => [s.name, s]));
  }

  async call<T = Record<string, unknown>>(scope: Scope, service: string, operation: string, input: Record<string, unknown>, as?: CallerPrincipal): Promise<T> {
    const s = this.services.get(service);
    const op = s?.model.operations[operation];
    const handler = s?.handlers[operation];
    if (!s || !op || !handler) throw new ServiceError('InternalFailure', `Berth does not serve ${service}:${operation}`, 500);
    const conformed = op.input ? (conform(s.model, op.input.shape, input, 0) as Record<string, unknown>) ?? {} : {};
    if (op.input) s.model.validate(op.input.shape, conformed, s.validationErrorCodes?.[operation] ?? s.validationErrorCode, s.constraintErrors?.[operation]);
    const ctx: RequestContext = {
      requestId: randomUUID(),
      region: scope.region,
      platform: scope.platform,
      principal: as ?? { kind: 'root', accessKeyId: 'berth-internal', arn: `arn:aws:iam::${scope.platform.accountId}:root`, accountId: scope.platform.accountId, userId: scope.platform.accountId },
      signal: this.shutdown,
      endpoint: 'http://localhost',
    };
    if (as) {
      if (!this.access) throw new ServiceError('InternalFailure', 'Calls as a principal need the authorizer.', 500);
      await authorizeRequest(this.access, s, operation, conformed, ctx);
    }
    return (await handler(conformed, ctx)) as T;
  }
}

/** Conforms a value to a shape (see the module doc); undefined for null or an unusable value. */
function conform(model: ServiceModel, shapeName: string, v: unknown, depth: number): unknown {
  if (v === null || v === undefined) return undefined;
  if (depth > MAX_DEPTH) throw new ServiceError('ValidationError', `The input nests more than ${MAX_DEPTH} levels deep.`);
  const s = model.shape(shapeName);
  switch (s.type) {
    case 'structure': {
      if (typeof v !== 'object' || Array.isArray(v)) return v;
      const members = Object.entries(s.members ?? {});
      const byLower = new Map(members.map(([k, ref]) => [k.toLowerCase(), [k, ref] as const]));
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const m = byLower.get(k.toLowerCase());
        if (!m) continue;
        const c = conform(model, m[1].shape, x, depth + 1);
        if (c !== undefined) out[m[0]] = c;
      }
      return out;
    }
    case 'list':
      return Array.isArray(v) ? v.map((x) => conform(model, s.member!.shape, x, depth + 1)).filter((x) => x !== undefined) : [conform(model, s.member!.shape, v, depth + 1)];
    case 'map': {
      if (typeof v !== 'object' || Array.isArray(v)) return v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        const c = conform(model, s.value!.shape, x, depth + 1);
        if (c !== undefined) Object.defineProperty(out, k, { value: c, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case 'string':
      return typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
    case 'integer':
    case 'long':
    case 'float':
    case 'double':
      return typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
    case 'boolean':
      return v === 'true' ? true : v === 'false' ? false : v;
    case 'timestamp':
      return typeof v === 'string' || typeof v === 'number' ? new Date(typeof v === 'number' ? v * 1000 : v) : v;
    default:
      return v;
  }
}
