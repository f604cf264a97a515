/**
 * Signals sent to a stack from outside: what a WaitConditionHandle's URL receives (cfn-signal's
 * `{Status, UniqueId, Data, Reason}`) and what a custom resource's ResponseURL receives (the
 * response `{Status, Reason, PhysicalResourceId, Data, NoEcho}`).
 *
 * Both URLs are presigned on Berth's own endpoint, as AWS presigns S3 URLs for them:
 * `<endpoint>/_berth/cloudformation/<purpose>/<stack id>/<logical id>/<id>?Expires=<s>&Signature=<mac>`,
 * the signature an HMAC (a key derived from the master key, never stored) over purpose, stack,
 * logical id, id and expiry: unguessable, good for that one handle or request only, checked in
 * constant time. Nothing about a URL is stored to check it; a signal is stored (one durable
 * commit) before it is acknowledged, so it survives a restart, and only while the resource it is
 * for exists. Bodies are at most {@link MAX_SIGNAL_BYTES}; a handle takes at most
 * {@link MAX_SIGNALS_PER_HANDLE} distinct UniqueIds.
 */
import { timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../../errors.js';
import type { Scope } from '../platform.js';
import type { Write } from '../../store/types.js';
import { RESOURCE_KIND, resourceKey } from './keys.js';
import type { ResourceRecord } from './records.js';

/** Signals received by wait condition handles: `<stack id>|<logical id>|<handle id>|<UniqueId>`. */
export const WAIT_SIGNAL_KIND = 'cfn.wait-signal';
/** Custom resources' responses: `<stack id>|<logical id>|<request id>`. */
export const RESPONSE_KIND = 'cfn.response';

/** The largest body a signal or response may have (a custom resource's response limit on AWS). */
export const MAX_SIGNAL_BYTES = 4096;
/** Most distinct UniqueIds one handle records (a WaitCondition's Count is bounded by it too). */
export const MAX_SIGNALS_PER_HANDLE = 1000;
/** Where the URLs live on Berth's endpoint. */
export const SIGNAL_PATH = '/_berth/cloudformation/';

/** What a URL is for: a wait condition handle, or one custom resource request's response. */
export type SignalPurpose = 'wait' | 'response';

/** Makes the MACs of presigned URLs (the master key: see src/domain/ssm/masterKey.ts). */
export interface UrlSigner {
  mac(purpose: string, message: string): Buffer;
}

/** What a presigned URL names. */
export interface SignalTarget {
  purpose: SignalPurpose;
  stackId: string;
  logicalId: string;
  /** The handle's id, or the request's RequestId. */
  id: string;
  /** Unix seconds after which the URL is refused. */
  expires: number;
}

/** A wait condition signal as stored. */
export interface WaitSignal {
  status: 'SUCCESS' | 'FAILURE';
  uniqueId: string;
  data: string;
  reason: string;
  time: number;
}

/** A custom resource's response as stored. */
export interface CustomResponse {
  status: 'SUCCESS' | 'FAILED';
  reason: string;
  physicalResourceId?: string;
  data: Record<string, unknown>;
  noEcho: boolean;
  time: number;
}

const MAC_PURPOSE = 'cloudformation-signal-url';
const ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const LOGICAL_ID_PATTERN = /^[A-Za-z0-9]{1,255}$/;
const STACK_ID_PATTERN = /^arn:aws:cloudformation:[a-z0-9-]{1,32}:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]{0,127}\/[0-9a-f-]{36}$/;

const message = (t: SignalTarget) => [t.purpose, t.stackId, t.logicalId, t.id, String(t.expires)].join('\n');

/** The presigned URL of `target` on `endpoint` (no trailing slash). */
export function presignedUrl(signer: UrlSigner, endpoint: string, target: SignalTarget): string {
  const sig = signer.mac(MAC_PURPOSE, message(target)).toString('base64url');
  return `${endpoint}${SIGNAL_PATH}${target.purpose}/${encodeURIComponent(target.stackId)}/${target.logicalId}/${target.id}?Expires=${target.expires}&Signature=${sig}`;
}

/** S3's answer to a presigned URL it refuses, as clients of these URLs (curl, cfn-signal) expect. */
export const signalErrors = {
  notFound: () => new ServiceError('NoSuchKey', 'The specified key does not exist.', 404),
  denied: (msg: string) => new ServiceError('AccessDenied', msg, 403),
  badSignature: () => new ServiceError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.', 403),
  invalid: (msg: string) => new ServiceError('InvalidRequest', msg, 400),
  tooLarge: () => new ServiceError('EntityTooLarge', `Your proposed upload exceeds the maximum allowed size (${MAX_SIGNAL_BYTES} bytes).`, 400),
};

/**
 * The target of a presigned URL's path and query, if its signature is this Berth's and it has
 * not expired at `nowMs`; else throws (NoSuchKey for a path that names nothing, AccessDenied,
 * SignatureDoesNotMatch). Constant-time comparison of the signature.
 */
export function verifyPresigned(signer: UrlSigner, url: URL, nowMs: number): SignalTarget {
  const parts = url.pathname.slice(SIGNAL_PATH.length).split('/');
  if (parts.length !== 4) throw signalErrors.notFound();
  const [purpose, rawStack, logicalId, id] = parts as [string, string, string, string];
  let stackId: string;
  try {
    stackId = decodeURIComponent(rawStack);
  } catch {
    throw signalErrors.notFound();
  }
  if ((purpose !== 'wait' && purpose !== 'response') || !STACK_ID_PATTERN.test(stackId) || !LOGICAL_ID_PATTERN.test(logicalId) || !ID_PATTERN.test(id)) throw signalErrors.notFound();
  const expiresText = url.searchParams.get('Expires') ?? '';
  const given = Buffer.from(url.searchParams.get('Signature') ?? '', 'base64url');
  if (!/^\d{1,12}$/.test(expiresText) || !given.length) throw signalErrors.denied('Query-string authentication requires the Signature and Expires parameters');
  const target: SignalTarget = { purpose, stackId, logicalId, id, expires: Number(expiresText) };
  const want = signer.mac(MAC_PURPOSE, message(target));
  if (given.length !== want.length || !timingSafeEqual(given, want)) throw signalErrors.badSignature();
  if (nowMs > target.expires * 1000) throw signalErrors.denied('Request has expired');
  return target;
}

/** The region of a stack ARN. */
const regionOf = (stackId: string) => stackId.split(':')[3]!;

function text(v: unknown, name: string, max: number): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw signalErrors.invalid(`${name} must be a string`);
  if (v.length > max) throw signalErrors.invalid(`${name} must be at most ${max} characters`);
  return v;
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length > MAX_SIGNAL_BYTES) throw signalErrors.tooLarge();
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw signalErrors.invalid('The body must be a JSON object');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw signalErrors.invalid('The body must be a JSON object');
  return doc as Record<string, unknown>;
}

/** The live resource a signal is for (absent, deleted or of another type: NoSuchKey). */
async function liveResource(scope: Scope, t: SignalTarget, fits: (r: ResourceRecord) => boolean): Promise<ResourceRecord> {
  const r = (await scope.platform.store.get<ResourceRecord>(RESOURCE_KIND, resourceKey(t.stackId, t.logicalId)))?.value;
  if (!r || r.status === 'DELETE_COMPLETE' || !fits(r)) throw signalErrors.notFound();
  return r;
}

const signalPrefix = (stackId: string, logicalId: string, id: string) => `${stackId}|${logicalId}|${id}|`;
const responseKey = (stackId: string, logicalId: string, requestId: string) => `${stackId}|${logicalId}|${requestId}`;

/**
 * Records a cfn-signal body sent to a wait condition handle's URL (durably, before it is
 * acknowledged). A UniqueId sent again replaces its earlier signal, as on AWS.
 */
export async function recordWaitSignal(platformScope: Omit<Scope, 'region'>, t: SignalTarget, body: Buffer, nowMs: number): Promise<void> {
  const doc = parseBody(body);
  const status = doc.Status;
  if (status !== 'SUCCESS' && status !== 'FAILURE') throw signalErrors.invalid("Status must be 'SUCCESS' or 'FAILURE'");
  const uniqueId = text(doc.UniqueId, 'UniqueId', 255);
  if (!uniqueId) throw signalErrors.invalid('UniqueId is required');
  const signal: WaitSignal = { status, uniqueId, data: text(doc.Data, 'Data', MAX_SIGNAL_BYTES), reason: text(doc.Reason, 'Reason', MAX_SIGNAL_BYTES), time: nowMs };
  const scope = { ...platformScope, region: regionOf(t.stackId) };
  await liveResource(scope, t, (r) => r.type === 'AWS::CloudFormation::WaitConditionHandle');
  const store = scope.platform.store;
  const key = signalPrefix(t.stackId, t.logicalId, t.id) + uniqueId;
  if (!(await store.get(WAIT_SIGNAL_KIND, key))) {
    const existing = await store.list(WAIT_SIGNAL_KIND, { prefix: signalPrefix(t.stackId, t.logicalId, t.id), limit: MAX_SIGNALS_PER_HANDLE });
    if (existing.length >= MAX_SIGNALS_PER_HANDLE) throw signalErrors.invalid(`This handle has received ${MAX_SIGNALS_PER_HANDLE} signals, the most it takes`);
  }
  await store.commit([{ kind: WAIT_SIGNAL_KIND, key, value: signal }]);
}

/** The signals a handle has received, oldest UniqueId first. */
export async function waitSignals(scope: Scope, stackId: string, logicalId: string, handleId: string): Promise<WaitSignal[]> {
  const all = await scope.platform.store.list<WaitSignal>(WAIT_SIGNAL_KIND, { prefix: signalPrefix(stackId, logicalId, handleId), limit: MAX_SIGNALS_PER_HANDLE });
  return all.map((r) => r.value).sort((a, b) => a.time - b.time);
}

/** The writes that forget a handle's signals (when it is deleted). */
export async function discardWaitSignals(scope: Scope, stackId: string, logicalId: string, handleId: string): Promise<void> {
  const all = await scope.platform.store.list(WAIT_SIGNAL_KIND, { prefix: signalPrefix(stackId, logicalId, handleId), limit: MAX_SIGNALS_PER_HANDLE });
  if (all.length) await scope.platform.store.commit(all.map((r): Write => ({ kind: WAIT_SIGNAL_KIND, key: r.key, value: null })));
}

/** Records a custom resource's response sent to its ResponseURL (durably, before it is acknowledged). */
export async function recordCustomResponse(platformScope: Omit<Scope, 'region'>, t: SignalTarget, body: Buffer, nowMs: number): Promise<void> {
  const doc = parseBody(body);
  const status = doc.Status;
  if (status !== 'SUCCESS' && status !== 'FAILED') throw signalErrors.invalid("Status must be 'SUCCESS' or 'FAILED'");
  const data = doc.Data ?? {};
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw signalErrors.invalid('Data must be a JSON object');
  if (doc.NoEcho !== undefined && typeof doc.NoEcho !== 'boolean') throw signalErrors.invalid('NoEcho must be a boolean');
  const physicalResourceId = text(doc.PhysicalResourceId, 'PhysicalResourceId', 1024) || undefined;
  const response: CustomResponse = { status, reason: text(doc.Reason, 'Reason', MAX_SIGNAL_BYTES), physicalResourceId, data: data as Record<string, unknown>, noEcho: doc.NoEcho === true, time: nowMs };
  const scope = { ...platformScope, region: regionOf(t.stackId) };
  await liveResource(scope, t, (r) => r.type.startsWith('Custom::') || r.type === 'AWS::CloudFormation::CustomResource');
  await scope.platform.store.commit([{ kind: RESPONSE_KIND, key: responseKey(t.stackId, t.logicalId, t.id), value: response }]);
}

/** The response to one custom resource request, if it has come. */
export async function customResponse(scope: Scope, stackId: string, logicalId: string, requestId: string): Promise<CustomResponse | undefined> {
  return (await scope.platform.store.get<CustomResponse>(RESPONSE_KIND, responseKey(stackId, logicalId, requestId)))?.value;
}

/** Forgets a request's response (once its resource step has used it). */
export async function discardCustomResponse(scope: Scope, stackId: string, logicalId: string, requestId: string): Promise<void> {
  await scope.platform.store.commit([{ kind: RESPONSE_KIND, key: responseKey(stackId, logicalId, requestId), value: null }]);
}
