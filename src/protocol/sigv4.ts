/**
 * AWS Signature Version 4 verification, for the Authorization header and for presigned query
 * strings. Pure: it takes the request's parts and a secret-key lookup and either returns who
 * signed (access key, region, service) or throws the protocol's 403 error.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { commonErrors, type WireProtocol } from './errors.js';

/** What SigV4 needs of an HTTP request. `rawUrl` is the request target as received. */
export interface SignedRequest {
  method: string;
  rawUrl: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The verified signer of a request. */
export interface SigV4Identity {
  accessKeyId: string;
  region: string;
  service: string;
}

/** Requests whose signing time is further than this from now are rejected, as on AWS. */
export const MAX_SKEW_MS = 15 * 60 * 1000;

const ALGORITHM = 'AWS4-HMAC-SHA256';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters escaped. */
export function uriEncode(s: string, encodeSlash = true): string {
  let out = '';
  for (const ch of s) {
    if (/[A-Za-z0-9\-._~]/.test(ch)) out += ch;
    else if (ch === '/' && !encodeSlash) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function header(h: SignedRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * Derived signing keys by secret, date, region and service. A key only changes with its inputs
 * (daily, per region and service), so deriving it once saves four HMACs per request, on both the
 * signing and the verifying side. Bounded: cleared when it grows past SIGNING_KEY_CACHE_MAX.
 */
const signingKeys = new Map<string, Buffer>();
const SIGNING_KEY_CACHE_MAX = 256;

/** The SigV4 signing key for a secret and a credential scope (cached; see `signingKeys`). */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${secret}\n${date}\n${region}\n${service}`;
  let key = signingKeys.get(id);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
    if (signingKeys.size >= SIGNING_KEY_CACHE_MAX) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

function canonicalQuery(pairs: Array<[string, string]>): string {
  return pairs
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function queryPairs(rawQuery: string): Array<[string, string]> {
  if (!rawQuery) return [];
  return rawQuery.split('&').filter(Boolean).map((p) => {
    const i = p.indexOf('=');
    return i < 0 ? [safeDecode(p), ''] : [safeDecode(p.slice(0, i)), safeDecode(p.slice(i + 1))];
  });
}

/** Candidate canonical URIs: AWS services other than S3 encode the (already encoded) path again. */
function canonicalPaths(rawPath: string): string[] {
  const decoded = rawPath.split('/').map(safeDecode);
  const once = decoded.map((s) => uriEncode(s)).join('/');
  const twice = decoded.map((s) => uriEncode(uriEncode(s))).join('/');
  return once === twice ? [once || '/'] : [twice || '/', once || '/'];
}

/** A request's signature as its headers (or presigned query) state it, before anything is checked. */
export interface SignatureClaim {
  accessKeyId: string;
  /** The credential scope: yyyymmdd, region and service. */
  date: string;
  region: string;
  service: string;
  /** Lower-case names, in the order signed. */
  signedHeaders: string[];
  signature: string;
  /** X-Amz-Date (or the Date header in that form). */
  amzDate: string;
  signedAt: number;
  /** A presigned URL (the signature in the query string) rather than an Authorization header. */
  presigned: boolean;
  /** How long the signature is valid after `signedAt` (presigned: X-Amz-Expires). */
  validMs: number;
  /** The query pairs that are signed (all but X-Amz-Signature). */
  signedQuery: Array<[string, string]>;
  rawPath: string;
}

/** A valid AWS region name (us-east-1, us-gov-west-1, ap-southeast-3...): what a credential scope must name. */
const REGION_RE = /^[a-z]{2}(?:-[a-z]{2,10}){1,2}-\d{1,2}$/;

/** Whether `s` is shaped like an AWS region name. */
export function isRegionName(s: string): boolean {
  return s.length <= 32 && REGION_RE.test(s);
}

/**
 * Reads the signature a request claims to carry, from its Authorization header or presigned
 * query, without the body and without any secret. Throws the protocol's 403 when there is none or
 * it is malformed.
 */
export function readSignature(req: Omit<SignedRequest, 'body'>, protocol: WireProtocol): SignatureClaim {
  const qIndex = req.rawUrl.indexOf('?');
  const rawPath = qIndex < 0 ? req.rawUrl : req.rawUrl.slice(0, qIndex);
  const rawQuery = qIndex < 0 ? '' : req.rawUrl.slice(qIndex + 1);
  const query = queryPairs(rawQuery);
  const auth = header(req.headers, 'authorization');
  const presigned = !auth && query.some(([k]) => k === 'X-Amz-Algorithm');

  let credential: string, signedHeaders: string, signature: string, amzDate: string | undefined;
  let validMs = MAX_SKEW_MS;
  let signedQuery = query;
  if (auth) {
    if (!auth.startsWith(`${ALGORITHM} `)) {
      throw commonErrors.incompleteSignature(protocol, `Unsupported authorization type or algorithm: only ${ALGORITHM} (Signature Version 4) is accepted.`);
    }
    const fields: Record<string, string> = {};
    for (const part of auth.slice(ALGORITHM.length + 1).split(',')) {
      const i = part.indexOf('=');
      if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
    if (!fields.Credential || !fields.SignedHeaders || !fields.Signature) {
      throw commonErrors.incompleteSignature(protocol, `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.`);
    }
    credential = fields.Credential;
    signedHeaders = fields.SignedHeaders;
    signature = fields.Signature;
    amzDate = header(req.headers, 'x-amz-date');
    if (!amzDate) {
      const d = header(req.headers, 'date');
      if (d && !Number.isNaN(Date.parse(d))) amzDate = new Date(d).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    }
  } else if (presigned) {
    const get = (k: string) => query.find(([qk]) => qk === k)?.[1];
    if (get('X-Amz-Algorithm') !== ALGORITHM) throw commonErrors.incompleteSignature(protocol, `X-Amz-Algorithm must be ${ALGORITHM}.`);
    credential = get('X-Amz-Credential') ?? '';
    signedHeaders = get('X-Amz-SignedHeaders') ?? '';
    signature = get('X-Amz-Signature') ?? '';
    amzDate = get('X-Amz-Date');
    const expires = Number(get('X-Amz-Expires') ?? '900');
    if (!Number.isInteger(expires) || expires < 1 || expires > 604800) {
      throw commonErrors.incompleteSignature(protocol, 'X-Amz-Expires must be a whole number of seconds from 1 to 604800.');
    }
    validMs = expires * 1000;
    if (!credential || !signedHeaders || !signature) {
      throw commonErrors.incompleteSignature(protocol, 'Presigned URL requires X-Amz-Credential, X-Amz-SignedHeaders and X-Amz-Signature.');
    }
    signedQuery = query.filter(([k]) => k !== 'X-Amz-Signature');
  } else {
    throw commonErrors.missingAuthentication(protocol);
  }

  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1]!) || !scope[0]) {
    throw commonErrors.incompleteSignature(protocol, `Credential should be scoped to a valid region, service and 'aws4_request': got '${credential.slice(0, 200)}'.`);
  }
  const [accessKeyId, date, region, service] = scope as [string, string, string, string];
  if (!isRegionName(region)) {
    throw commonErrors.incompleteSignature(protocol, `Credential should be scoped to a valid region: '${region.slice(0, 64)}' is not an AWS region name (like us-east-1).`);
  }
  if (!/^[a-z0-9-]{1,64}$/.test(service)) throw commonErrors.incompleteSignature(protocol, `Credential should be scoped to a valid service: got '${service.slice(0, 64)}'.`);
  const signedAt = amzDate ? parseAmzDate(amzDate) : undefined;
  if (signedAt === undefined) {
    throw commonErrors.incompleteSignature(protocol, 'Authorization requires a valid X-Amz-Date (yyyyMMddTHHmmssZ) or Date header.');
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) throw commonErrors.incompleteSignature(protocol, 'The signature must be 64 hexadecimal digits.');
  return {
    accessKeyId,
    date,
    region,
    service,
    signedHeaders: signedHeaders.split(';'),
    signature,
    amzDate: amzDate!,
    signedAt,
    presigned,
    validMs,
    signedQuery,
    rawPath,
  };
}

/** What the request must be signed for, as the gateway knows it from the headers alone. */
export interface SignatureExpectation {
  /** The credential-scope service names of the service that handles the request. */
  services: readonly string[];
  /** Headers that must be among the signed ones when the request has them (host always must). */
  mustSign: readonly string[];
  /** Whether a presigned URL may authenticate this request (AWS: query-protocol GETs only). */
  presignedAllowed: boolean;
}

/**
 * Everything about a signature that can be checked before the body is read: the access key is
 * known, the time is within the skew (or the presigned URL has not expired), the scope names the
 * service that handles the request and a real region, and whatever selects the service and the
 * operation is signed. Returns the secret to verify the signature with once the body is in.
 */
export function checkSignatureClaim(
  claim: SignatureClaim,
  req: Omit<SignedRequest, 'body'>,
  protocol: WireProtocol,
  expect: SignatureExpectation,
  secretFor: (accessKeyId: string) => string | undefined,
  now: number,
): string {
  const secret = secretFor(claim.accessKeyId);
  if (secret === undefined) throw commonErrors.unknownAccessKey(protocol);
  if (claim.presigned) {
    if (!expect.presignedAllowed) {
      throw commonErrors.incompleteSignature(protocol, 'Presigned URLs are accepted only for GET requests to query-protocol services (such as STS), with the Action in the signed query; sign this request with an Authorization header.');
    }
    if (now > claim.signedAt + claim.validMs) throw commonErrors.signatureExpired(protocol, `the presigned request expired at ${new Date(claim.signedAt + claim.validMs).toISOString()}.`);
    if (claim.signedAt - now > MAX_SKEW_MS) throw commonErrors.signatureExpired(protocol, `${claim.amzDate} is later than 15 minutes from now.`);
  } else if (Math.abs(now - claim.signedAt) > MAX_SKEW_MS) {
    const nowStr = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    throw commonErrors.signatureExpired(protocol, `${claim.amzDate} is now earlier than ${nowStr} minus 15 minutes, or later than it plus 15 minutes.`);
  }
  if (claim.amzDate.slice(0, 8) !== claim.date) throw commonErrors.badSignature(protocol, 'The credential date does not match X-Amz-Date.');
  if (!expect.services.includes(claim.service)) {
    throw commonErrors.badSignature(protocol, `Credential should be scoped to the service that handles this request ('${expect.services[0]}'), not '${claim.service}'.`);
  }
  const signed = new Set(claim.signedHeaders);
  const dateHeader = claim.presigned ? undefined : header(req.headers, 'x-amz-date') !== undefined ? 'x-amz-date' : 'date';
  for (const name of ['host', ...(dateHeader ? [dateHeader] : []), ...expect.mustSign]) {
    if (name !== 'host' && header(req.headers, name) === undefined) continue;
    if (!signed.has(name)) throw commonErrors.badSignature(protocol, `The '${name}' header must be signed (it is not in SignedHeaders).`);
  }
  return secret;
}

/**
 * Verifies the signature over the whole request, body included (its SHA-256 is part of what is
 * signed: UNSIGNED-PAYLOAD is accepted only on a presigned GET without a body).
 */
export function verifySignature(claim: SignatureClaim, req: SignedRequest, protocol: WireProtocol, secret: string): SigV4Identity {
  const canonicalHeaders = claim.signedHeaders.map((n) => `${n}:${(header(req.headers, n) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const bodyHash = sha256Hex(req.body);
  const declared = header(req.headers, 'x-amz-content-sha256');
  if (declared !== undefined && declared !== bodyHash) {
    throw commonErrors.badSignature(protocol, declared.endsWith('UNSIGNED-PAYLOAD') ? 'UNSIGNED-PAYLOAD is not accepted: the body must be signed (its SHA-256 in the canonical request).' : 'The provided x-amz-content-sha256 header does not match what was computed.');
  }
  const payloadHashes = claim.presigned && req.body.length === 0 ? ['UNSIGNED-PAYLOAD', bodyHash] : [bodyHash];
  const key = signingKey(secret, claim.date, claim.region, claim.service);
  const given = Buffer.from(claim.signature, 'hex');
  const signedHeaders = claim.signedHeaders.join(';');
  for (const path of canonicalPaths(claim.rawPath)) {
    for (const payloadHash of payloadHashes) {
      const canonical = [req.method, path, canonicalQuery(claim.signedQuery), canonicalHeaders, signedHeaders, payloadHash].join('\n');
      const stringToSign = [ALGORITHM, claim.amzDate, `${claim.date}/${claim.region}/${claim.service}/aws4_request`, sha256Hex(canonical)].join('\n');
      const expected = createHmac('sha256', key).update(stringToSign).digest();
      if (given.length === expected.length && timingSafeEqual(given, expected)) return { accessKeyId: claim.accessKeyId, region: claim.region, service: claim.service };
    }
  }
  throw commonErrors.badSignature(protocol);
}

/**
 * Verifies a request's SigV4 signature in one step (the three above). `secretFor` returns the
 * secret key of an access key id, or undefined for an unknown key. Throws the protocol's AWS
 * error on any failure.
 */
export function verifySigV4(
  req: SignedRequest,
  protocol: WireProtocol,
  secretFor: (accessKeyId: string) => string | undefined,
  now: number,
  expect: SignatureExpectation,
): SigV4Identity {
  const claim = readSignature(req, protocol);
  const secret = checkSignatureClaim(claim, req, protocol, expect, secretFor, now);
  return verifySignature(claim, req, protocol, secret);
}

/**
 * Signs a request with SigV4 (Authorization header). Used by Berth's own clients (agents, the
 * `berth` CLI) and by tests that need to forge requests the SDKs would refuse to send.
 */
export function signRequest(opts: {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string | Buffer;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
  now?: number;
}): Record<string, string> {
  const amzDate = new Date(opts.now ?? Date.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = { ...opts.headers, host: opts.url.host, 'x-amz-date': amzDate };
  const names = Object.keys(headers).map((h) => h.toLowerCase()).sort();
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const canonicalHeaders = names.map((n) => `${n}:${lower[n]!.trim()}\n`).join('');
  const signedHeaders = names.join(';');
  const path = canonicalPaths(opts.url.pathname)[0]!;
  const query = canonicalQuery([...opts.url.searchParams.entries()]);
  const canonical = [opts.method, path, query, canonicalHeaders, signedHeaders, sha256Hex(opts.body)].join('\n');
  const scope = `${date}/${opts.region}/${opts.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
  const signature = createHmac('sha256', signingKey(opts.secretAccessKey, date, opts.region, opts.service)).update(stringToSign).digest('hex');
  return {
    ...headers,
    authorization: `${ALGORITHM} Credential=${opts.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}
