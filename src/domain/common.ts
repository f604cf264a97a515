/**
 * Small pieces every service uses: ARNs, ids, opaque pagination tokens, tag validation.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ServiceError } from '../errors.js';
import type { Store, StoredRecord } from '../store/types.js';

/** `arn:aws:<service>:<region>:<account>:<resource>`, as AWS writes them. */
export function arn(service: string, region: string, accountId: string, resource: string): string {
  return `arn:aws:${service}:${region}:${accountId}:${resource}`;
}

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  accountId: string;
  resource: string;
}

export function parseArn(s: string): ParsedArn | undefined {
  const m = /^arn:([\w-]+):([\w-]+):([\w-]*):(\d*):(.+)$/.exec(s);
  if (!m) return undefined;
  return { partition: m[1]!, service: m[2]!, region: m[3]!, accountId: m[4]!, resource: m[5]! };
}

/** A random id of 32 hex characters, the shape of ECS task and container-instance ids. */
export function hexId(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

export function uuid(): string {
  return randomUUID();
}

/**
 * Pagination tokens are opaque to callers: the last key returned, base64url-encoded. Listing
 * from a key (rather than an offset) keeps pages stable while records are added or removed.
 */
export function encodeToken(lastKey: string): string {
  return Buffer.from(JSON.stringify({ k: lastKey })).toString('base64url');
}

export function decodeToken(token: string | undefined, invalid: () => ServiceError): string | undefined {
  if (token === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof v.k === 'string') return v.k;
  } catch {
    /* fall through */
  }
  throw invalid();
}

/**
 * Lists one page of records under a prefix that pass `filter`, starting after the token's key.
 * Returns the page and the token for the next one (undefined at the end).
 */
export async function pageOf<T>(
  store: Store,
  kind: string,
  prefix: string,
  opts: { token?: string; maxResults: number; filter?: (r: StoredRecord<T>) => boolean; invalidToken: () => ServiceError },
): Promise<{ items: StoredRecord<T>[]; nextToken?: string }> {
  let after = decodeToken(opts.token, opts.invalidToken);
  if (after !== undefined && !after.startsWith(prefix)) throw opts.invalidToken();
  const items: StoredRecord<T>[] = [];
  for (;;) {
    const batch = await store.list<T>(kind, { prefix, after, limit: 500 });
    for (const r of batch) {
      if (opts.filter && !opts.filter(r)) continue;
      items.push(r);
      if (items.length === opts.maxResults) {
        // Peek for more before handing out a token, so the last page carries none.
        const rest = await store.list<T>(kind, { prefix, after: r.key });
        const more = opts.filter ? rest.some(opts.filter) : rest.length > 0;
        return { items, nextToken: more ? encodeToken(r.key) : undefined };
      }
    }
    if (batch.length < 500) return { items };
    after = batch[batch.length - 1]!.key;
  }
}

export interface Tag {
  key?: string;
  value?: string;
}

/**
 * Validates tags as AWS does (at most 50, key 1-128 chars, value up to 256, no `aws:`
 * prefix) and merges them into `existing` by key.
 */
export function mergeTags(existing: Tag[], added: Tag[], error: (msg: string) => ServiceError): Tag[] {
  const byKey = new Map(existing.map((t) => [t.key!, t]));
  for (const t of added) {
    if (!t.key || t.key.length > 128) throw error(`Tag keys must be between 1 and 128 characters: got '${t.key ?? ''}'.`);
    if ((t.value ?? '').length > 256) throw error(`Tag value for key '${t.key}' is longer than 256 characters.`);
    if (t.key.toLowerCase().startsWith('aws:')) throw error(`Tag keys beginning with 'aws:' are reserved: '${t.key}'.`);
    byKey.set(t.key, { key: t.key, value: t.value ?? '' });
  }
  if (byKey.size > 50) throw error(`A resource can have at most 50 tags; this request would leave ${byKey.size}.`);
  return [...byKey.values()];
}

/** A record as the domain hands it out for paging or a later conditional write: its key, revision and value. */
export type Versioned<T> = StoredRecord<T>;
