/**
 * Image references of task definitions that name Berth's own registry: which region and
 * repository `<address>/<name>[:tag][@digest]` is in, and the digest its tag names now. The
 * service scheduler pins each deployment's images with it (src/domain/ecs/services.ts), so every
 * task of a deployment runs the same image, as ECS does.
 */
import type { Scope } from '../platform.js';
import { digestOfTag } from './images.js';
import { isDigestShape, isRepositoryName, isTag } from './names.js';
import { regionOfHost, type Registry } from './registry.js';

/** An image reference that names a repository of Berth's registry. */
export interface RegistryImage {
  region: string;
  repository: string;
  /** The tag, `latest` when the reference has neither tag nor digest. */
  tag?: string;
  digest?: string;
}

/** The port part of `host:port` (with the colon), or '' (IPv6 brackets understood). */
function portOf(address: string): string {
  const colon = address.lastIndexOf(':');
  return colon > address.lastIndexOf(']') ? address.slice(colon) : '';
}

/**
 * What `image` names in Berth's registry, or undefined when it names another registry (Docker
 * Hub, a mirror...) or is not a well-formed reference. The registry is the one at
 * `reg.settings.address()` (the default region) or `<account>.dkr.ecr.<region>.<...>` on the
 * same port (that region), as repositoryUris are made.
 */
export function registryImageOf(platform: { accountId: string; defaultRegion: string }, reg: Registry, image: string): RegistryImage | undefined {
  if (image.length > 2048) return undefined;
  const slash = image.indexOf('/');
  if (slash <= 0) return undefined;
  const host = image.slice(0, slash);
  const address = reg.settings.address();
  let region: string;
  if (host === address) region = platform.defaultRegion;
  else {
    const port = portOf(host);
    const name = host.slice(0, host.length - port.length);
    region = regionOfHost(name, platform.accountId, platform.defaultRegion);
    if (region === platform.defaultRegion || !name.startsWith(`${platform.accountId}.dkr.ecr.${region}.`) || port !== portOf(address)) return undefined;
  }
  let rest = image.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigestShape(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) return undefined;
  }
  if (!isRepositoryName(rest)) return undefined;
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { region, repository: rest, tag, digest };
}

/**
 * The digest `image` runs as: the one it names, or the one its tag names now in Berth's
 * registry. Undefined when the image is not in Berth's registry or its tag names nothing (the
 * pull then fails on the agent, saying which tags exist).
 */
export async function resolveImageDigest(s: Scope, reg: Registry, image: string): Promise<string | undefined> {
  const ref = registryImageOf(s.platform, reg, image);
  if (!ref) return undefined;
  if (ref.digest) return ref.digest;
  return digestOfTag({ platform: s.platform, region: ref.region }, ref.repository, ref.tag!);
}
