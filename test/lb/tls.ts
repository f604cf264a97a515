/**
 * TLS helpers for load balancer tests: self-signed certificates made with `openssl` in a temp
 * dir (as file:// CertificateArns), the certificate a listener serves for an SNI server name,
 * an HTTPS GET, HTTP/2 GETs over one connection, and a search of a directory for a string (keys on disk).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, lstatSync } from 'node:fs';
import { request } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connect } from 'node:tls';
import { send, type Reply } from './backends.js';

/** A self-signed certificate for `names` (the first is also the CN) with its key in one PEM file in `dir`; returns its file:// CertificateArn. */
export function selfSignedCertificate(dir: string, file: string, names: string[]): string {
  const key = join(dir, `${file}.key`);
  const cert = join(dir, `${file}.crt`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`],
    { stdio: 'ignore' },
  );
  const pem = join(dir, `${file}.pem`);
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
  return pathToFileURL(pem).href;
}

/** The subject alternative names of the certificate a TLS listener serves for `servername` ('' sends no SNI). */
export function servedCertificate(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, servername: servername || undefined, rejectUnauthorized: false }, () => {
      const names = sock.getPeerX509Certificate()?.subjectAltName ?? '';
      sock.end();
      resolve(names);
    });
    sock.setTimeout(5000, () => sock.destroy(new Error('TLS handshake timed out')));
    sock.on('error', reject);
  });
}

/** An HTTPS GET to a listener with SNI `servername` (certificates not verified). */
export function httpsGet(port: number, servername: string, path: string): Promise<Reply> {
  return send((done) => request({ host: '127.0.0.1', port, path, servername, headers: { host: servername }, rejectUnauthorized: false, agent: false }, done));
}

/** What an HTTP/2 client saw: the ALPN protocol its connection negotiated and each response. */
export interface Http2Replies {
  alpn: string | false | undefined;
  replies: Reply[];
}

/**
 * GETs `paths` at once as streams of one node:http2 connection to a listener (SNI `servername`,
 * ALPN offering h2 then http/1.1, certificates not verified); fails if the connection does not
 * negotiate h2 or takes over 10 s.
 */
export function http2Get(port: number, servername: string, paths: string[]): Promise<Http2Replies> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${port}`, { servername, ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false });
    const timer = setTimeout(() => session.destroy(new Error('HTTP/2 requests timed out')), 10_000);
    session.on('error', reject);
    const one = (path: string) =>
      new Promise<Reply>((done, fail) => {
        const stream = session.request({ ':path': path, ':authority': `${servername}:${port}` });
        let body = '';
        let headers: Reply['headers'] = {};
        stream.setEncoding('utf8');
        stream.on('response', (h) => (headers = h as Reply['headers']));
        stream.on('data', (d: string) => (body += d));
        stream.on('end', () => done({ status: Number(headers[':status']), headers, body }));
        stream.on('error', fail);
        stream.end();
      });
    Promise.all(paths.map(one))
      .then((replies) => resolve({ alpn: session.alpnProtocol, replies }))
      .catch(reject)
      .finally(() => {
        clearTimeout(timer);
        session.close();
      });
  });
}

/** Regular files under `dir` (recursively) whose contents hold `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const st = lstatSync(path);
    if (st.isDirectory()) found.push(...filesContaining(path, needle));
    else if (st.isFile() && readFileSync(path).includes(needle)) found.push(path);
  }
  return found;
}
