/**
 * `berth compose down --rmi local|all`: removes the images `up` / `build` made. Berth's compose
 * pushes what it builds to Berth's registry, into repositories tagged with the project
 * (build.ts), and leaves the engine's tags of them (`<repositoryUri>:<tag>` and the image name).
 * - `local`: the images built for services without an `image:` name (docker compose's "no custom
 *   tag"): the project's repositories named `<project>-<service>`;
 * - `all`: every repository tagged with the project.
 * Each repository is deleted with its images (ECR DeleteRepository, force), and its tags on this
 * host's engine (DOCKER_HOST), when one answers, are removed. Images pulled from elsewhere are
 * not Berth's to remove and stay.
 */
import { existsSync } from 'node:fs';
import { callJson } from '../../client/awsClient.js';
import { DockerEngine, defaultDockerSocket, EngineError } from '../../agent/drivers/dockerApi.js';
import type { BerthApi } from '../api.js';
import { PROJECT_TAG } from './mapping.js';

const ECR = 'AmazonEC2ContainerRegistry_V20150921';

/** The `--rmi` choices. */
export type RmiMode = 'local' | 'all';

interface Repository {
  repositoryName: string;
  repositoryUri: string;
  repositoryArn: string;
}

/** Removes the project's images (see the file's comment); answers the repositories removed. */
export async function removeProjectImages(api: BerthApi, project: string, mode: RmiMode, say: (line: string) => void, engine?: DockerEngine): Promise<string[]> {
  const ecr = <T>(op: string, input: unknown) => callJson<T>(api.config, 'ecr', `${ECR}.${op}`, input, { timeoutMs: 60_000 });
  const repositories: Repository[] = [];
  let token: string | undefined;
  do {
    const page = await ecr<{ repositories?: Repository[]; nextToken?: string }>('DescribeRepositories', { nextToken: token, maxResults: 100 });
    repositories.push(...(page.repositories ?? []));
    token = page.nextToken;
  } while (token);
  const ours: Repository[] = [];
  for (const r of repositories) {
    if (mode === 'local' && !r.repositoryName.startsWith(`${project}-`)) continue;
    const tags = (await ecr<{ tags?: Array<{ Key: string; Value: string }> }>('ListTagsForResource', { resourceArn: r.repositoryArn })).tags ?? [];
    if (tags.some((t) => t.Key === PROJECT_TAG && t.Value === project)) ours.push(r);
  }
  const socket = defaultDockerSocket();
  const local = engine ?? (existsSync(socket) ? new DockerEngine(socket) : undefined);
  for (const r of ours) {
    await ecr('DeleteRepository', { repositoryName: r.repositoryName, force: true });
    say(`compose: image repository ${r.repositoryName} removed`);
    if (local) await untag(local, r, say);
  }
  if (!ours.length) say(`compose: no images of project ${project} to remove (--rmi ${mode})`);
  return ours.map((r) => r.repositoryName);
}

/** Removes this engine's tags of a repository's images (`<uri>:<tag>` and `<name>:<tag>`). */
async function untag(engine: DockerEngine, r: Repository, say: (line: string) => void): Promise<void> {
  const filters = JSON.stringify({ reference: [r.repositoryUri, `${r.repositoryUri}:*`, r.repositoryName, `${r.repositoryName}:*`] });
  let images: Array<{ RepoTags?: string[] | null }>;
  try {
    images = await engine.call('GET', `/images/json?filters=${encodeURIComponent(filters)}`);
  } catch {
    return; // no engine here: the registry's copy is what mattered
  }
  for (const img of images) {
    for (const tag of img.RepoTags ?? []) {
      if (!tag.startsWith(`${r.repositoryUri}:`) && !tag.startsWith(`${r.repositoryName}:`)) continue;
      try {
        await engine.call('DELETE', `/images/${encodeURIComponent(tag)}`);
        say(`compose: image ${tag} removed`);
      } catch (e) {
        if (!(e instanceof EngineError && (e.statusCode === 404 || e.statusCode === 409))) throw e;
      }
    }
  }
}
