/**
 * Registry credentials, as ECR's GetAuthorizationToken hands them out: user `AWS` and a password
 * that is a signed, expiring token (12 hours, as on ECR), and short-lived signed download URLs
 * (GetDownloadUrlForLayer). Both are HMAC-SHA256 under a key derived from the root secret
 * access key, so they are bound to the root credentials (new credentials void every token) and
 * nothing about them is stored: the key is derived in memory at start.
 *
 * Password: `<base64url(JSON {v, a: account, e: expiry (s), n: nonce, k: access key})>.<base64url(mac)>`:
 * `k` is the access key that asked for it, so the registry acts for that key's principal (an
 * agent's password pulls only its own tasks' images, src/registry/front.ts).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a registry password is valid (ECR: 12 hours). */
export const TOKEN_LIFETIME_MS = 12 * 60 * 60 * 1000;
/** How long a GetDownloadUrlForLayer URL is valid (ECR's presigned URLs: about an hour). */
export const DOWNLOAD_URL_LIFETIME_MS = 60 * 60 * 1000;
/** Longest password looked at (a real one is about 120 characters). */
const MAX_PASSWORD = 1024;

/** What a presented password turned out to be. */
export type TokenCheck = 'valid' | 'expired' | 'invalid';

export class RegistryTokens {
  readonly #key: Buffer;

  constructor(private readonly accountId: string, rootSecretAccessKey: string) {
    this.#key = createHmac('sha256', rootSecretAccessKey).update('berth/ecr/registry-token/v1').digest();
  }

  private mac(text: string): Buffer {
    return createHmac('sha256', this.#key).update(text).digest();
  }

  /** A new password for the holder of `accessKeyId`, valid from `now` for TOKEN_LIFETIME_MS. */
  mint(now: number, accessKeyId?: string): { password: string; expiresAt: number } {
    const expiresAt = now + TOKEN_LIFETIME_MS;
    const body = Buffer.from(JSON.stringify({ v: 1, a: this.accountId, e: Math.floor(expiresAt / 1000), n: randomBytes(8).toString('hex'), ...(accessKeyId ? { k: accessKeyId } : {}) })).toString('base64url');
    return { password: `${body}.${this.mac(body).toString('base64url')}`, expiresAt: Math.floor(expiresAt / 1000) * 1000 };
  }

  /** Whether `password` is a token this registry minted and that has not expired at `now`. */
  check(password: string, now: number): TokenCheck {
    return this.inspect(password, now).check;
  }

  /** {@link check}, and the access key the password was minted for (when it names one). */
  inspect(password: string, now: number): { check: TokenCheck; accessKeyId?: string } {
    const invalid = { check: 'invalid' as const };
    if (password.length > MAX_PASSWORD) return invalid;
    const dot = password.indexOf('.');
    if (dot <= 0) return invalid;
    const body = password.slice(0, dot);
    const given = Buffer.from(password.slice(dot + 1), 'base64url');
    const want = this.mac(body);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return invalid;
    let claims: { v?: unknown; a?: unknown; e?: unknown; k?: unknown };
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return invalid;
    }
    if (claims.v !== 1 || claims.a !== this.accountId || typeof claims.e !== 'number' || (claims.k !== undefined && typeof claims.k !== 'string')) return invalid;
    return { check: claims.e * 1000 > now ? 'valid' : 'expired', accessKeyId: claims.k as string | undefined };
  }

  /** The signature of a download URL for one blob of one repository, valid until `expires` (s). */
  downloadSignature(region: string, repository: string, digest: string, expires: number): string {
    return this.mac(`download\n${region}\n${repository}\n${digest}\n${expires}`).toString('base64url');
  }

  /** Whether a download URL's signature is right and `expires` (s) is still ahead of `now`. */
  checkDownload(region: string, repository: string, digest: string, expires: number, signature: string, now: number): boolean {
    if (!Number.isSafeInteger(expires) || expires * 1000 <= now || signature.length > 100) return false;
    const given = Buffer.from(signature, 'base64url');
    const want = Buffer.from(this.downloadSignature(region, repository, digest, expires), 'base64url');
    return given.length === want.length && timingSafeEqual(given, want);
  }
}
