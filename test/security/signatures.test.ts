// Regressions for signatures that did not bind the operation (issue 12, item 1) and bodies read
// before authentication (item 6), against a real Berth over loopback HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { request } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';

let berth: TestBerth;
const SECRET = `s3cr3t-${Math.random().toString(36).slice(2)}`;

before(async () => {
  berth = await startTestBerth();
  const ssm = new SSMClient(berth.clientConfig);
  await ssm.send(new PutParameterCommand({ Name: '/prod/db/password', Type: 'SecureString', Value: SECRET }));
  ssm.destroy();
});
after(async () => {
  await berth.close();
});

function signer(service: string) {
  return new SignatureV4({ credentials: berth.credentials, region: 'us-east-1', service, sha256: Sha256, uriEscapePath: true });
}

/** One request over node:http, which (unlike fetch) lets a GET carry a body, as an attacker's client can. */
function send(method: string, url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A presigned STS GetCallerIdentity URL, the kind handed out as an identity token, with an
 * unsigned payload as query-signed URLs are usually made (botocore does so).
 */
async function presignedIdentityUrl(): Promise<URL> {
  const url = new URL(berth.url);
  const req = await signer('sts').presign(
    { method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { expiresIn: 3600 },
  );
  const out = new URL(berth.url + '/');
  for (const [k, v] of Object.entries(req.query ?? {})) out.searchParams.set(k, String(v));
  return out;
}

test('a presigned STS URL works as what it was signed for, and as nothing else', async () => {
  const url = await presignedIdentityUrl();
  const ok = await fetch(url);
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /<GetCallerIdentityResult>/);

  // The attack: the same URL replayed (still a GET, as signed) with an SSM operation header and a body.
  for (const method of ['GET', 'POST']) {
    const replay = await send(method, url, { 'x-amz-target': 'AmazonSSM.GetParameter', 'content-type': 'application/x-amz-json-1.1' }, JSON.stringify({ Name: '/prod/db/password', WithDecryption: true }));
    assert.equal(replay.status, 403, `${method}: ${replay.text}`);
    assert.ok(!replay.text.includes(SECRET), 'the secret is not in the answer');
    assert.match(JSON.parse(replay.text).__type, /IncompleteSignatureException|InvalidSignatureException/);
  }

  // A presigned URL POSTed with a form body choosing another action is refused too.
  const form = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetSessionToken&Version=2011-06-15' });
  assert.equal(form.status, 403, await form.text());
});

/** A request signed by hand with exactly `signed` among its headers. */
function handSigned(signed: string[], headers: Record<string, string>, body: string, service = 'ssm'): Record<string, string> {
  const url = new URL(berth.url);
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const date = amzDate.slice(0, 8);
  const all: Record<string, string> = { ...headers, host: url.host, 'x-amz-date': amzDate };
  const names = [...signed].sort();
  const canonical = ['POST', '/', '', names.map((n) => `${n}:${all[n]}\n`).join(''), names.join(';'), createHash('sha256').update(body).digest('hex')].join('\n');
  const scope = `${date}/us-east-1/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const hmac = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${berth.credentials.secretAccessKey}`, date), 'us-east-1'), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return { ...all, authorization: `AWS4-HMAC-SHA256 Credential=${berth.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

test('a signature that does not cover the operation header, the host or the content type is refused', async () => {
  const body = JSON.stringify({ Name: '/prod/db/password', WithDecryption: true });
  const base = { 'x-amz-target': 'AmazonSSM.GetParameter', 'content-type': 'application/x-amz-json-1.1' };
  const full = handSigned(['host', 'x-amz-date', 'x-amz-target', 'content-type'], base, body);
  const good = await fetch(berth.url + '/', { method: 'POST', headers: full, body });
  assert.equal(good.status, 200, 'the same request, fully signed, works');
  assert.equal((await good.json()).Parameter.Value, SECRET);
  for (const signed of [['x-amz-date'], ['host', 'x-amz-date'], ['host', 'x-amz-date', 'x-amz-target']]) {
    const res = await fetch(berth.url + '/', { method: 'POST', headers: handSigned(signed, base, body), body });
    const text = await res.text();
    assert.equal(res.status, 403, `${signed.join(';')}: ${text}`);
    assert.ok(!text.includes(SECRET));
  }
  // A signature scoped to another service does not open this one.
  const sts = await fetch(berth.url + '/', { method: 'POST', headers: handSigned(['host', 'x-amz-date', 'x-amz-target', 'content-type'], base, body, 'sts'), body });
  assert.equal(sts.status, 403);
  assert.match((await sts.json()).message, /scoped to the service/);
});

test('unauthenticated requests are refused on their headers, before any of the body is read', async () => {
  // The client declares a 15 MB body, sends 1 KB of it and waits: the answer must come without
  // the rest (before the fix, the server waited for the whole body and buffered it).
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(berth.url + '/', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonSSM.GetParameter',
        'x-amz-date': amzDate,
        'content-length': String(15 * 1024 * 1024),
        authorization: `AWS4-HMAC-SHA256 Credential=AKIANOTAKEY/${amzDate.slice(0, 8)}/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
      },
    });
    const timer = setTimeout(() => reject(new Error('no answer while the body was still coming')), 5_000);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text });
      });
    });
    req.on('error', () => undefined); // the server closes the connection after answering
    req.write(Buffer.alloc(1024, 0x20));
  });
  assert.equal(answer.status, 403);
  assert.equal(JSON.parse(answer.text).__type, 'UnrecognizedClientException');
  const health = await fetch(`${berth.url}/_berth/health`);
  assert.equal(health.status, 200);
});
