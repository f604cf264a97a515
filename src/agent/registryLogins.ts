/**
 * Registry credentials for the agent's image pulls, as ECS agents get them through the task
 * execution role: for an image whose registry is Berth's own (its host is the `proxyEndpoint`
 * that ECR's GetAuthorizationToken answers in the task's region), the agent asks for a token
 * with its own credentials, over the public ECR API like any client, and hands docker the
 * `AWS` user and the password. Tokens are kept per region until shortly before they expire.
 * When a pull of such an image fails because its tag names nothing, `explainMissingTag` lists
 * the tags the repository does have (the `:latest` versus `:v1` confusion).
 */
import { callJson, type ClientConfig } from '../client/awsClient.js';
import type { Clock } from '../clock.js';
import type { RegistryAuth } from './drivers/driver.js';

const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921';
/** A token is used until this long before it expires (they last 12 hours). */
const RENEW_BEFORE_MS = 10 * 60_000;
/** How many of a repository's tags a pull failure names. */
const TAGS_NAMED = 20;

interface Login {
  /** `host[:port]` of the registry, as image references begin. */
  host: string;
  auth: RegistryAuth;
  expiresAt: number;
}

/** The registry host of an image reference, when it names one (`host.name/...`, `host:port/...`, `localhost/...`). */
export function registryHostOf(image: string): string | undefined {
  const slash = image.indexOf('/');
  if (slash <= 0) return undefined;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

/** Splits `host/repo[:tag][@digest]` (host already known) into the repository name and tag. */
function repositoryOf(image: string, host: string): { repository: string; tag?: string } {
  let rest = image.slice(host.length + 1);
  const at = rest.indexOf('@');
  if (at >= 0) return { repository: rest.slice(0, at) };
  const colon = rest.lastIndexOf(':');
  let tag = 'latest';
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, tag };
}

/** Tokens of Berth's registry, per region, for the agent's pulls. */
export class RegistryLogins {
  private readonly logins = new Map<string, Login>();

  constructor(
    private readonly client: ClientConfig,
    private readonly clock: Clock,
  ) {}

  private ecr<T>(region: string, operation: string, input: unknown): Promise<T> {
    return callJson<T>({ ...this.client, region }, 'ecr', `${ECR_TARGET_PREFIX}.${operation}`, input, { timeoutMs: 30_000 });
  }

  private async login(region: string): Promise<Login> {
    const held = this.logins.get(region);
    if (held && held.expiresAt - RENEW_BEFORE_MS > this.clock.now()) return held;
    const out = await this.ecr<{ authorizationData?: Array<{ authorizationToken?: string; expiresAt?: number; proxyEndpoint?: string }> }>(region, 'GetAuthorizationToken', {});
    const data = out.authorizationData?.[0];
    if (!data?.authorizationToken || !data.proxyEndpoint) throw new Error('GetAuthorizationToken answered no token');
    const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const host = new URL(data.proxyEndpoint).host;
    const login: Login = {
      host,
      auth: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: host },
      // awsJson timestamps are epoch seconds.
      expiresAt: data.expiresAt !== undefined ? data.expiresAt * 1000 : this.clock.now() + 60 * 60_000,
    };
    this.logins.set(region, login);
    return login;
  }

  /**
   * The credentials to pull `image` with, when it is in Berth's registry (the task's region);
   * undefined for other registries. Rejects when the token cannot be had (the pull fails saying so).
   */
  async authFor(image: string, region: string): Promise<RegistryAuth | undefined> {
    const host = registryHostOf(image);
    if (!host) return undefined; // Docker Hub and the like: not ours
    const login = await this.login(region);
    return login.host === host ? login.auth : undefined;
  }

  /**
   * Why a pull of an image of Berth's registry found nothing: the repository does not exist, or
   * its tags (the first few) when the tag names nothing. Undefined when neither holds.
   */
  async explainMissingTag(image: string, region: string): Promise<string | undefined> {
    const host = registryHostOf(image);
    if (!host) return undefined;
    const { repository, tag } = repositoryOf(image, host);
    if (tag === undefined) return undefined;
    let out: { imageIds?: Array<{ imageTag?: string }> };
    try {
      out = await this.ecr(region, 'ListImages', { repositoryName: repository, filter: { tagStatus: 'TAGGED' }, maxResults: 1000 });
    } catch (e) {
      if ((e as { code?: string }).code === 'RepositoryNotFoundException') return `repository '${repository}' does not exist in Berth's registry (${host})`;
      return undefined;
    }
    const tags = [...new Set((out.imageIds ?? []).map((i) => i.imageTag).filter((t): t is string => !!t))].sort();
    if (tags.includes(tag)) return undefined;
    if (tags.length === 0) return `repository '${repository}' has no tag '${tag}': it has no tagged image`;
    const named = tags.slice(0, TAGS_NAMED).join(', ') + (tags.length > TAGS_NAMED ? `, and ${tags.length - TAGS_NAMED} more` : '');
    return `repository '${repository}' has no tag '${tag}'; its tags: ${named}`;
  }
}
