/**
 * The registry's ports: what the ECR API handlers (src/services/ecr/), the registry front
 * (src/registry/) and the registry's controllers (src/control/) are handed by the composition
 * root, besides the platform. One object, built once in src/berth.ts.
 */
import type { BlobStore } from '../../store/blobs/types.js';
import type { RegistryTokens } from './authToken.js';
import type { CallerPrincipal } from '../iam/credentials.js';
import type { AccessQuestion } from '../iam/authorizer.js';
import type { AuthzRequest, Decision } from '../iam/policy/evaluate.js';
import type { CompiledPolicy } from '../iam/policy/document.js';

/**
 * The IAM authorizer as the registry front uses it (src/domain/iam/authorizer.ts): decisions for
 * a principal (root always allowed; policies cached per principal until IAM changes) and
 * compiled repository policies (cached by their text).
 */
export interface RegistryAccess {
  decide(caller: CallerPrincipal, q: AccessQuestion): Promise<Decision & { request: AuthzRequest }>;
  compile(text: string, kind: 'resource'): CompiledPolicy;
  /** Changes whenever any principal's policies may have changed. */
  generation(): number;
}

export interface RegistrySettings {
  /**
   * Where docker reaches the registry, `host:port` (the first part of every repositoryUri):
   * by default the address Berth listens on, known once it listens.
   */
  address(): string;
  /** Largest blob accepted, in bytes. */
  maxBlobBytes: number;
  /** How long an unreferenced blob is kept after it was last used, before collection may remove it. */
  gcGraceMs: number;
  /** How long an upload session may stay without new bytes before it is dropped. */
  uploadExpiryMs: number;
}

export interface Registry {
  blobs: BlobStore;
  tokens: RegistryTokens;
  settings: RegistrySettings;
  /**
   * The principal of an access key that asked for a registry password (undefined: no such key
   * now, or not active), so the registry acts for it; absent: passwords act for the account.
   */
  principalOf?: (accessKeyId: string) => Promise<CallerPrincipal | undefined>;
  /**
   * How `/v2/` requests of users and role sessions are authorized as the ECR actions they stand
   * for (src/registry/iamAccess.ts); absent: their passwords act for the account.
   */
  access?: RegistryAccess;
}

/** Default grace before an unreferenced blob may be collected: an hour. */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;
/** Default lifetime of an idle upload session: a day. */
export const DEFAULT_UPLOAD_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** Default largest blob: 10 GiB (ECR allows 52,000 MiB layers; raise BERTH_REGISTRY_MAX_BLOB_BYTES for those). */
export const DEFAULT_MAX_BLOB_BYTES = 10 * 1024 * 1024 * 1024;

/**
 * The repositoryUri of a repository: `<address>/<name>` in the default region (where docker on
 * this host can push without any configuration), and `<account>.dkr.ecr.<region>.localhost:<port>/<name>`
 * in other regions (the registry front picks the region from that host name; it needs a hosts
 * entry or DNS pointing at Berth, see src/registry/README.md).
 */
export function repositoryUri(s: { platform: { accountId: string; defaultRegion: string }; region: string }, reg: Registry, name: string): string {
  const address = reg.settings.address();
  if (s.region === s.platform.defaultRegion) return `${address}/${name}`;
  const colon = address.lastIndexOf(':');
  const port = colon > address.lastIndexOf(']') ? address.slice(colon) : '';
  return `${regionHost(s.platform.accountId, s.region)}${port}/${name}`;
}

/** The host name that selects a region's registry: `<account>.dkr.ecr.<region>.localhost`. */
export function regionHost(accountId: string, region: string): string {
  return `${accountId}.dkr.ecr.${region}.localhost`;
}

/**
 * The region a registry request is for, from its Host header: `<account>.dkr.ecr.<region>.…`
 * names that region; any other host (127.0.0.1, localhost, a name of yours) the default region.
 */
export function regionOfHost(host: string | undefined, accountId: string, defaultRegion: string): string {
  if (!host) return defaultRegion;
  const prefix = `${accountId}.dkr.ecr.`;
  if (!host.startsWith(prefix)) return defaultRegion;
  const rest = host.slice(prefix.length);
  const dot = rest.indexOf('.');
  const region = dot > 0 ? rest.slice(0, dot) : '';
  if (region.length === 0 || region.length > 32) return defaultRegion;
  for (let i = 0; i < region.length; i++) {
    const c = region.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45)) return defaultRegion;
  }
  return region;
}
