/**
 * IAM's records, their store kinds and keys, ids and ARNs. IAM is global: records are keyed by
 * name (users, groups, roles, instance profiles), by ARN (managed policies) or by access key id,
 * never by region. Every kind starts with `iam.`, which the authorizer's cache watches.
 *
 * Secrets (access keys' and sessions' secret keys) are stored sealed under the master key
 * (AES-256-GCM, AAD `iam:<kind>:<access key id>`), never in clear.
 */
import { randomBytes } from 'node:crypto';
import { ServiceError } from '../../errors.js';

export const KINDS = {
  user: 'iam.user',
  group: 'iam.group',
  role: 'iam.role',
  policy: 'iam.policy',
  accessKey: 'iam.key',
  session: 'iam.session',
  profile: 'iam.profile',
} as const;

/** Every IAM kind starts with this (the authorizer's cache drops entries when one changes). */
export const KIND_PREFIX = 'iam.';

export interface Tag {
  Key: string;
  Value: string;
}

/** What users, groups and roles share: where their permissions come from. */
export interface PolicyHolder {
  /** ARNs of attached managed policies. */
  attached: string[];
  /** Inline policies by name (documents as JSON text). */
  inline: Record<string, string>;
}

export interface UserRecord extends PolicyHolder {
  name: string;
  path: string;
  id: string;
  arn: string;
  created: string;
  tags: Tag[];
  boundary?: string;
  groups: string[];
}

export interface GroupRecord extends PolicyHolder {
  name: string;
  path: string;
  id: string;
  arn: string;
  created: string;
}

export interface RoleRecord extends PolicyHolder {
  name: string;
  path: string;
  id: string;
  arn: string;
  created: string;
  trustPolicy: string;
  description?: string;
  maxSessionDuration: number;
  tags: Tag[];
  boundary?: string;
}

export interface PolicyVersionRecord {
  versionId: string;
  document: string;
  created: string;
}

export interface ManagedPolicyRecord {
  name: string;
  path: string;
  id: string;
  arn: string;
  description?: string;
  defaultVersionId: string;
  versions: PolicyVersionRecord[];
  /** Next version number (v1, v2...; never reused). */
  nextVersion: number;
  attachments: number;
  created: string;
  updated: string;
  tags: Tag[];
}

export interface AccessKeyRecord {
  accessKeyId: string;
  userName: string;
  status: 'Active' | 'Inactive';
  created: string;
  /** The secret access key, sealed under the master key. */
  sealedSecret: string;
  lastUsed?: { date: string; service: string; region: string };
}

/** Temporary credentials from STS (AssumeRole, GetSessionToken). */
export interface SessionRecord {
  accessKeyId: string;
  sealedSecret: string;
  /** SHA-256 (hex) of the session token the caller must present. */
  tokenHash: string;
  expiration: string;
  /** For an assumed role: the role's ARN and name, and the session name. */
  roleArn?: string;
  roleName?: string;
  roleId?: string;
  sessionName?: string;
  /** For GetSessionToken: the user whose permissions the session has. */
  userName?: string;
  /** Session policies passed to AssumeRole (JSON text, ARNs resolved to documents at assume time). */
  sessionPolicies: string[];
  sourceIdentity?: string;
  tags: Tag[];
}

export interface InstanceProfileRecord {
  name: string;
  path: string;
  id: string;
  arn: string;
  created: string;
  roles: string[];
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An IAM unique id or access key id: the 4-letter prefix AWS uses for the kind, then 16 letters/digits. */
export function iamId(prefix: 'AIDA' | 'AGPA' | 'AROA' | 'ANPA' | 'AIPA' | 'AKIA' | 'ASIA'): string {
  return prefix + Array.from(randomBytes(16), (b) => ID_ALPHABET[b % 32]).join('');
}

/** A secret access key: 40 characters of base64 text, as AWS's. */
export function secretKey(): string {
  return randomBytes(30).toString('base64');
}

/** `arn:aws:iam::<account>:<type><path><name>`. */
export function iamArn(accountId: string, type: 'user' | 'group' | 'role' | 'policy' | 'instance-profile', path: string, name: string): string {
  return `arn:aws:iam::${accountId}:${type}${path}${name}`;
}

/** IAM's errors, with the statuses IAM gives them. */
export const iamErrors = {
  noSuchEntity: (what: string): ServiceError => new ServiceError('NoSuchEntity', `The ${what} cannot be found.`, 404),
  exists: (what: string): ServiceError => new ServiceError('EntityAlreadyExists', `${what} already exists.`, 409),
  deleteConflict: (message: string): ServiceError => new ServiceError('DeleteConflict', message, 409),
  limit: (message: string): ServiceError => new ServiceError('LimitExceeded', message, 409),
  invalidInput: (message: string): ServiceError => new ServiceError('InvalidInput', message, 400),
};

/** Paths are `/` or `/a/b/`: the ARN carries them between the type and the name. */
export function checkPath(path: string | undefined): string {
  const p = path ?? '/';
  if (!(p === '/' || (p.startsWith('/') && p.endsWith('/'))) || p.length > 512 || !/^[\u0021-\u007e]+$/.test(p)) {
    throw iamErrors.invalidInput(`The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.`);
  }
  return p;
}

/** Most managed policies one principal may have attached (IAM's default quota). */
export const MAX_ATTACHED = 20;
/** Largest inline policy document by holder, in characters (IAM's quotas: total per holder). */
export const INLINE_LIMIT = { user: 2048, group: 5120, role: 10240 } as const;
/** Largest managed policy document, in characters (whitespace excluded by IAM; Berth counts all). */
export const MANAGED_LIMIT = 6144;
/** Versions one managed policy keeps at most. */
export const MAX_VERSIONS = 5;
/** Access keys one user may have. */
export const MAX_ACCESS_KEYS = 2;
