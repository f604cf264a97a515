// SigV4 verification against an independent signer (@smithy/signature-v4, what the SDKs use):
// header signatures, presigned URLs, UNSIGNED-PAYLOAD, skew and expiry, and tampering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { isRegionName, verifySigV4, type SignatureExpectation, type SignedRequest } from '../../src/protocol/sigv4.js';
import { ServiceError } from '../../src/errors.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const secretFor = (id: string) => (id === credentials.accessKeyId ? credentials.secretAccessKey : undefined);
const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

function signer(service = 'ecs', region = 'eu-west-1') {
  return new SignatureV4({ credentials, region, service, sha256: Sha256, uriEscapePath: true });
}

function httpRequest(body: string, extra: Record<string, string> = {}, query: Record<string, string> = {}, path = '/') {
  return {
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 4566,
    path,
    query,
    headers: { host: '127.0.0.1:4566', 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters', ...extra },
    body,
  };
}

function toSigned(r: { method: string; path: string; query?: Record<string, string | string[] | null>; headers: Record<string, string>; body?: unknown }): SignedRequest {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(r.query ?? {})) if (typeof v === 'string') q.append(k, v);
  const qs = q.toString().replace(/\+/g, '%20');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = v;
  return { method: r.method, rawUrl: r.path + (qs ? `?${qs}` : ''), headers, body: Buffer.from(String(r.body ?? '')) };
}

/** What the gateway expects of an ECS (JSON) request, and of an STS (query) request. */
const ECS: SignatureExpectation = { services: ['ecs'], mustSign: ['x-amz-target', 'content-type'], presignedAllowed: false };
const STS_GET: SignatureExpectation = { services: ['sts'], mustSign: ['content-type'], presignedAllowed: true };

const expectCode = (code: string) => (e: unknown) => e instanceof ServiceError && e.code === code && e.status === 403;

test('a header signature from the SDK signer verifies and yields key, region and service', async () => {
  const signed = await signer().sign(httpRequest('{}'), { signingDate: new Date(NOW) });
  const id = verifySigV4(toSigned(signed), 'json', secretFor, NOW, ECS);
  assert.deepEqual(id, { accessKeyId: 'AKIDEXAMPLE', region: 'eu-west-1', service: 'ecs' });
});

test('query strings and odd paths are canonicalized like the SDK', async () => {
  const signed = await signer().sign(httpRequest('', {}, { b: 'two words', a: 'x/y~z', 'c*': '1' }, '/some path/ü'), { signingDate: new Date(NOW) });
  const req = toSigned(signed);
  req.rawUrl = `/some%20path/%C3%BC?b=two%20words&a=x%2Fy~z&c%2A=1`;
  assert.equal(verifySigV4(req, 'json', secretFor, NOW, ECS).service, 'ecs');
});

test('UNSIGNED-PAYLOAD is refused for a header signature: the body must be covered', async () => {
  const signed = await signer().sign(httpRequest('anything', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), { signingDate: new Date(NOW) });
  assert.throws(() => verifySigV4(toSigned(signed), 'json', secretFor, NOW, ECS), (e: unknown) => expectCode('InvalidSignatureException')(e) && /UNSIGNED-PAYLOAD/.test((e as Error).message));
});

test('a declared payload hash that does not match the body is rejected', async () => {
  const signed = await signer().sign(httpRequest('{}'), { signingDate: new Date(NOW) });
  const req = toSigned(signed);
  req.headers['x-amz-content-sha256'] = 'ab'.repeat(32);
  assert.throws(() => verifySigV4(req, 'json', secretFor, NOW, ECS), expectCode('InvalidSignatureException'));
});

test('tampered body, header or wrong secret fail with the protocol code', async () => {
  const signed = await signer().sign(httpRequest('{"a":1}'), { signingDate: new Date(NOW) });
  const body = toSigned(signed);
  body.body = Buffer.from('{"a":2}');
  assert.throws(() => verifySigV4(body, 'json', secretFor, NOW, ECS), expectCode('InvalidSignatureException'));
  const hdr = toSigned(signed);
  hdr.headers['x-amz-target'] = 'AmazonEC2ContainerServiceV20141113.DeleteCluster';
  assert.throws(() => verifySigV4(hdr, 'query', secretFor, NOW, ECS), expectCode('SignatureDoesNotMatch'));
  assert.throws(() => verifySigV4(toSigned(signed), 'json', () => 'other-secret', NOW, ECS), expectCode('InvalidSignatureException'));
  assert.throws(() => verifySigV4(toSigned(signed), 'json', () => undefined, NOW, ECS), expectCode('UnrecognizedClientException'));
  assert.throws(() => verifySigV4(toSigned(signed), 'query', () => undefined, NOW, ECS), expectCode('InvalidClientTokenId'));
});

test('more than 15 minutes of skew either way is rejected; within it is fine', async () => {
  const signed = await signer().sign(httpRequest('{}'), { signingDate: new Date(NOW) });
  const req = toSigned(signed);
  assert.ok(verifySigV4(req, 'json', secretFor, NOW + 14 * 60_000, ECS));
  assert.throws(() => verifySigV4(req, 'json', secretFor, NOW + 16 * 60_000, ECS), (e: unknown) => expectCode('InvalidSignatureException')(e) && /Signature expired/.test((e as Error).message));
  assert.throws(() => verifySigV4(req, 'json', secretFor, NOW - 16 * 60_000, ECS), expectCode('InvalidSignatureException'));
});

test('presigned URLs verify until they expire', async () => {
  const presigned = await signer('sts', 'us-east-1').presign(
    { ...httpRequest(''), method: 'GET', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers: { host: '127.0.0.1:4566' } },
    { signingDate: new Date(NOW), expiresIn: 60 },
  );
  const req = toSigned(presigned);
  req.body = Buffer.alloc(0);
  assert.equal(verifySigV4(req, 'query', secretFor, NOW + 30_000, STS_GET).service, 'sts');
  assert.throws(() => verifySigV4(req, 'query', secretFor, NOW + 61_000, STS_GET), (e: unknown) => expectCode('SignatureDoesNotMatch')(e) && /expired/.test((e as Error).message));
  const tampered = { ...req, rawUrl: req.rawUrl.replace('GetCallerIdentity', 'GetSessionToken') };
  assert.throws(() => verifySigV4(tampered, 'query', secretFor, NOW, STS_GET), expectCode('SignatureDoesNotMatch'));
});

test('missing or malformed authorization is a 403 that says what is wrong', () => {
  const base: SignedRequest = { method: 'POST', rawUrl: '/', headers: { host: 'x' }, body: Buffer.alloc(0) };
  assert.throws(() => verifySigV4(base, 'json', secretFor, NOW, ECS), expectCode('MissingAuthenticationTokenException'));
  assert.throws(() => verifySigV4(base, 'query', secretFor, NOW, ECS), expectCode('MissingAuthenticationToken'));
  assert.throws(() => verifySigV4({ ...base, headers: { authorization: 'Basic Zm9vOmJhcg==' } }, 'json', secretFor, NOW, ECS), expectCode('IncompleteSignatureException'));
  assert.throws(
    () => verifySigV4({ ...base, headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request' } }, 'json', secretFor, NOW, ECS),
    expectCode('IncompleteSignatureException'),
  );
  assert.throws(
    () => verifySigV4({ ...base, headers: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/bad, SignedHeaders=host, Signature=00' } }, 'json', secretFor, NOW, ECS),
    expectCode('IncompleteSignatureException'),
  );
});

test('the credential scope must name the service that handles the request and a real region', async () => {
  const sts = await signer('sts', 'us-east-1').sign(httpRequest('{}'), { signingDate: new Date(NOW) });
  assert.throws(() => verifySigV4(toSigned(sts), 'json', secretFor, NOW, ECS), (e: unknown) => expectCode('InvalidSignatureException')(e) && /scoped to the service/.test((e as Error).message));
  for (const region of ['', '*', 'x'.repeat(5000), "us-east-1'", 'US-EAST-1']) {
    const bad = await signer('ecs', region).sign(httpRequest('{}'), { signingDate: new Date(NOW) });
    assert.throws(() => verifySigV4(toSigned(bad), 'json', secretFor, NOW, ECS), expectCode('IncompleteSignatureException'), `region ${JSON.stringify(region.slice(0, 20))}`);
  }
  assert.deepEqual(['us-east-1', 'us-gov-west-1', 'ap-southeast-3', 'cn-north-1', 'il-central-1', 'us-isob-east-1'].filter((r) => !isRegionName(r)), []);
});

test('host, the operation header and the content type must be signed', async () => {
  for (const unsigned of ['host', 'x-amz-target', 'content-type']) {
    const signed = await signer().sign(httpRequest('{}'), { signingDate: new Date(NOW), unsignableHeaders: new Set([unsigned]) });
    const names = /SignedHeaders=([^,]+)/.exec(String(signed.headers.authorization))![1]!.split(';');
    assert.ok(!names.includes(unsigned), `the signer left ${unsigned} out`);
    assert.throws(() => verifySigV4(toSigned(signed), 'json', secretFor, NOW, ECS), (e: unknown) => expectCode('InvalidSignatureException')(e) && (e as Error).message.includes(`'${unsigned}'`), unsigned);
  }
});

test('a presigned URL is accepted only where the gateway allows it (query GETs), never as a header-signed JSON call', async () => {
  const presigned = await signer('ecs', 'us-east-1').presign({ ...httpRequest(''), method: 'GET', headers: { host: '127.0.0.1:4566' } }, { signingDate: new Date(NOW), expiresIn: 60 });
  const req = toSigned(presigned);
  req.body = Buffer.alloc(0);
  assert.throws(() => verifySigV4(req, 'json', secretFor, NOW, ECS), (e: unknown) => expectCode('IncompleteSignatureException')(e) && /Presigned URLs are accepted only/.test((e as Error).message));
});
