/**
 * Where HTTPS listeners find certificates, since Berth has no ACM. A `CertificateArn` is
 * resolved to a PEM file holding the certificate chain and its private key:
 * - `file:///absolute/path.pem` names the file directly (a Berth extension);
 * - an ACM-style ARN `arn:aws:acm:<region>:<account>:certificate/<id>` maps to
 *   `<data-dir>/certificates/<id>.pem`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Platform } from '../platform.js';

export interface PemPair {
  cert: string;
  key: string;
}

/** The PEM file a certificate ARN names (see module doc). */
export function certificatePath(platform: Platform, certificateArn: string): string | undefined {
  if (certificateArn.startsWith('file://')) return fileURLToPath(certificateArn);
  const m = /^arn:[\w-]+:(?:acm|iam):[\w-]*:\d*:(?:certificate|server-certificate)\/([A-Za-z0-9._-]+)$/.exec(certificateArn);
  return m ? join(platform.dataDir, 'certificates', `${m[1]}.pem`) : undefined;
}

/** Loads a certificate and key; returns an error message instead when it cannot. */
export function loadCertificate(platform: Platform, certificateArn: string): PemPair | string {
  const path = certificatePath(platform, certificateArn);
  if (!path) return `Certificate '${certificateArn}' is neither a file:// URL nor an ACM certificate ARN`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return `Certificate '${certificateArn}' not found: Berth looks for a PEM file with the certificate and its private key at ${path}`;
  }
  const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  const key = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(text);
  if (!certs || !key) return `Certificate file ${path} must hold a PEM certificate and its PEM private key`;
  return { cert: certs.join('\n'), key: key[0] };
}
