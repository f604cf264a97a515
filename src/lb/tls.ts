/**
 * An HTTPS listener's TLS, as ALB does it: its security policy decides the TLS versions and
 * ciphers, and of its certificates (the default and those added with AddListenerCertificates)
 * the one whose names match the server name a client sends (SNI) is served: an exact name
 * before a wildcard (`*.example.com` covers one label), the default certificate when several
 * match it or none does, and also to clients that send no server name.
 *
 * Versions: Berth serves TLS 1.2 at the least, even under a policy that also allows TLS 1.0 and
 * 1.1 (this runtime's OpenSSL refuses them at its default security level); a policy without
 * TLS 1.3 (ELBSecurityPolicy-2016-08, the default) never negotiates it, and a TLS 1.3-only
 * policy refuses TLS 1.2 clients.
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { PemPair } from '../domain/elbv2/certificates.js';
import { DEFAULT_SSL_POLICY, findSslPolicy, type SslProtocol } from '../domain/elbv2/sslPolicies.js';

/** The TLS settings of a security policy, as node:tls takes them. */
export interface PolicyTls {
  minVersion: 'TLSv1.3' | 'TLSv1.2';
  maxVersion: 'TLSv1.3' | 'TLSv1.2';
  /** The policy's ciphers by priority (OpenSSL names; TLS 1.3 suites included). */
  ciphers: string;
}

const ORDER: readonly SslProtocol[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** The TLS versions and ciphers of a policy by name (an unknown or empty name: the default policy). */
export function policyTls(name: string): PolicyTls {
  const policy = findSslPolicy(name) ?? findSslPolicy(DEFAULT_SSL_POLICY)!;
  const ranks = policy.protocols.map((p) => ORDER.indexOf(p));
  const highest = ORDER[Math.max(...ranks)]!;
  const lowest = ORDER[Math.min(...ranks)]!;
  return {
    minVersion: lowest === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2',
    maxVersion: highest === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2',
    ciphers: policy.ciphers.join(':'),
  };
}

/** The DNS names a certificate is for: its subject alternative names, else its subject's common name (lower case). */
export function certificateNames(certPem: string): string[] {
  const x = new X509Certificate(certPem);
  const sans = (x.subjectAltName ?? '')
    .split(', ')
    .filter((e) => e.startsWith('DNS:'))
    .map((e) => e.slice(4).toLowerCase());
  if (sans.length) return sans;
  const cn = /^CN=(.*)$/m.exec(x.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/** How well a certificate name covers a host: 2 exactly, 1 as a wildcard over one label, 0 not. */
export function nameMatch(pattern: string, host: string): 0 | 1 | 2 {
  if (pattern === host) return 2;
  if (pattern.startsWith('*.')) {
    const dot = host.indexOf('.');
    if (dot > 0 && host.slice(dot + 1) === pattern.slice(2)) return 1;
  }
  return 0;
}

/** One certificate of a listener, ready to serve. */
interface Served {
  arn: string;
  names: string[];
  context: SecureContext;
}

/** A listener's TLS, built from its certificates (default first) and policy. */
export interface ListenerTls {
  /** What the server's default context is made from (the default certificate, the policy's versions and ciphers). */
  readonly defaultOptions: SecureContextOptions;
  /** The context for a client's SNI server name, or undefined for the default one. */
  select(servername: string): SecureContext | undefined;
}

/**
 * Builds a listener's TLS from its certificates (the first is the default) and its security
 * policy. Throws (node:tls's error) when a certificate cannot be used.
 */
export function buildListenerTls(certs: ReadonlyArray<{ arn: string; pem: PemPair }>, policyName: string): ListenerTls {
  const policy = policyTls(policyName);
  const optionsOf = (pem: PemPair): SecureContextOptions => ({ cert: pem.cert, key: pem.key, ...policy });
  const served: Served[] = certs.map(({ arn, pem }) => ({ arn, names: certificateNames(pem.cert), context: createSecureContext(optionsOf(pem)) }));
  return {
    defaultOptions: optionsOf(certs[0]!.pem),
    select(servername) {
      const host = servername.toLowerCase().replace(/\.$/, '');
      let best: Served | undefined;
      let bestScore = 0;
      for (const [i, c] of served.entries()) {
        const score = Math.max(0, ...c.names.map((n) => nameMatch(n, host)));
        // A better match wins; on a tie the earlier (the default first) keeps it.
        if (score > bestScore) {
          best = c;
          bestScore = score;
        }
        if (i === 0 && score === 2) break;
      }
      return best && best !== served[0] ? best.context : undefined;
    },
  };
}
