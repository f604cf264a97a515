/**
 * `build:` (context, dockerfile, dockerfile_inline, args, target, labels, no_cache, network) as
 * docker compose does it, with the local engine (the Docker Engine API over its socket, no CLI),
 * then pushed to Berth's own registry (ECR's API, and `/v2/` on the same endpoint) so the task
 * definitions name the pushed image by digest: every host's agent pulls it from there, and a
 * changed build is a changed task definition that rolls its services.
 *
 * The image is named as docker compose names it (`image:` when the service sets one, else
 * `<project>-<service>`); its repository in Berth is that name without a registry host or tag
 * (`stack/app`), created and tagged with the project on first push. Services that name the same
 * image with the same build are built once; services with that `image:` and no `build` use the
 * pushed image too.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { AwsApiError, callJson } from '../../client/awsClient.js';
import { DockerEngine, defaultDockerSocket, EngineError } from '../../agent/drivers/dockerApi.js';
import type { BerthApi } from '../api.js';
import type { Terminal } from '../terminal.js';
import { ComposeError } from './interpolate.js';
import type { ComposeBuild } from './buildSpec.js';
import type { ComposeProject } from './model.js';
import { builtImageName, PROJECT_TAG } from './mapping.js';
import { tarDirectory } from './tar.js';
import { MAX_IGNORE_BYTES, parseDockerignore } from './dockerignore.js';

/** `host:5000/a/b:tag` -> repository `a/b`, tag `tag` (default latest). */
export function repositoryAndTag(image: string): { repository: string; tag: string } {
  let rest = image.split('@')[0]!;
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') rest = rest.slice(slash + 1);
  }
  const colon = rest.lastIndexOf(':');
  const tag = colon > rest.lastIndexOf('/') && colon >= 0 ? rest.slice(colon + 1) : 'latest';
  const repository = (colon > rest.lastIndexOf('/') && colon >= 0 ? rest.slice(0, colon) : rest).toLowerCase();
  return { repository, tag };
}

/** One image to build: its name, its build, and the services that use it. */
interface BuildJob {
  image: string;
  build: ComposeBuild;
  services: string[];
}

/** Groups the project's builds by image (one build for services sharing an image and a build). */
export function buildJobs(project: ComposeProject, only?: string[]): BuildJob[] {
  const jobs = new Map<string, BuildJob>();
  for (const svc of Object.values(project.services)) {
    if (!svc.build || (only?.length && !only.includes(svc.name))) continue;
    const image = builtImageName(project.name, svc.name, svc.image);
    const job = jobs.get(image);
    if (!job) jobs.set(image, { image, build: svc.build, services: [svc.name] });
    else if (JSON.stringify(job.build) !== JSON.stringify(svc.build)) throw new ComposeError(`services ${job.services[0]} and ${svc.name} build the image ${image} differently: give one of them another image name`);
    else job.services.push(svc.name);
  }
  return [...jobs.values()];
}

const ECR = 'AmazonEC2ContainerRegistry_V20150921';

/** Builds and pushes; answers the image reference (`<repositoryUri>@sha256:...`) for each image name. */
export async function buildImages(api: BerthApi, project: ComposeProject, opts: { force: boolean; only?: string[]; engine?: DockerEngine }, term: Terminal): Promise<Map<string, string>> {
  const jobs = buildJobs(project, opts.only);
  const out = new Map<string, string>();
  if (!jobs.length) return out;
  const ecr = <T>(op: string, input: unknown) => callJson<T>(api.config, 'ecr', `${ECR}.${op}`, input, { timeoutMs: 60_000 });
  let engine = opts.engine;
  let auth: string | undefined;
  for (const job of jobs) {
    const { repository, tag } = repositoryAndTag(job.image);
    const repo = await ensureRepository(ecr, repository, project.name);
    if (!opts.force && !job.build.noCache) {
      const digest = await imageDigest(ecr, repository, tag);
      if (digest) {
        out.set(job.image, `${repo}@${digest}`);
        continue;
      }
    }
    if (!engine) {
      const socket = defaultDockerSocket();
      if (!existsSync(socket)) throw new ComposeError(`building ${job.image} needs a docker engine: no socket at ${socket} (DOCKER_HOST)`);
      engine = new DockerEngine(socket);
    }
    term.err(`compose: building ${job.image} (${[...job.services].sort().join(', ')}) from ${job.build.context}\n`);
    await buildOne(engine, job, [`${repo}:${tag}`, job.image]);
    auth ??= await registryAuth(ecr, repo);
    const digest = await push(engine, `${repo}`, tag, auth);
    out.set(job.image, `${repo}@${digest}`);
    term.err(`compose: built ${job.image}, pushed ${repo}:${tag} (${digest.slice(0, 19)})\n`);
  }
  return out;
}

async function ensureRepository(ecr: <T>(op: string, input: unknown) => Promise<T>, repository: string, project: string): Promise<string> {
  try {
    const r = await ecr<{ repository: { repositoryUri: string } }>('CreateRepository', { repositoryName: repository, tags: [{ Key: PROJECT_TAG, Value: project }] });
    return r.repository.repositoryUri;
  } catch (e) {
    if (!(e instanceof AwsApiError && e.code === 'RepositoryAlreadyExistsException')) throw e;
    const r = await ecr<{ repositories: Array<{ repositoryUri: string }> }>('DescribeRepositories', { repositoryNames: [repository] });
    return r.repositories[0]!.repositoryUri;
  }
}

async function imageDigest(ecr: <T>(op: string, input: unknown) => Promise<T>, repository: string, tag: string): Promise<string | undefined> {
  try {
    const r = await ecr<{ imageDetails?: Array<{ imageDigest: string }> }>('DescribeImages', { repositoryName: repository, imageIds: [{ imageTag: tag }] });
    return r.imageDetails?.[0]?.imageDigest;
  } catch (e) {
    if (e instanceof AwsApiError && (e.code === 'ImageNotFoundException' || e.code === 'RepositoryNotFoundException')) return undefined;
    throw e;
  }
}

/** The engine's X-Registry-Auth for Berth's registry, from ECR's GetAuthorizationToken (never written to disk). */
async function registryAuth(ecr: <T>(op: string, input: unknown) => Promise<T>, repositoryUri: string): Promise<string> {
  const r = await ecr<{ authorizationData?: Array<{ authorizationToken: string; proxyEndpoint: string }> }>('GetAuthorizationToken', {});
  const data = r.authorizationData?.[0];
  if (!data) throw new ComposeError('the registry gave no authorization token');
  const [username, password] = Buffer.from(data.authorizationToken, 'base64').toString('utf8').split(/:(.*)/s);
  const serveraddress = repositoryUri.split('/')[0]!;
  // Docker reads the header as padded URL-safe base64 (Go's base64.URLEncoding).
  return Buffer.from(JSON.stringify({ username, password, serveraddress })).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The engine's build of one job, tagged with every name in `tags`. */
async function buildOne(engine: DockerEngine, job: BuildJob, tags: string[]): Promise<void> {
  const b = job.build;
  if (!existsSync(b.context)) throw new ComposeError(`building ${job.image}: the context ${b.context} does not exist`);
  const extra: Array<{ name: string; data: Buffer }> = [];
  let dockerfile = b.dockerfile;
  if (b.dockerfileInline !== undefined) {
    dockerfile = '.berth-dockerfile-inline';
    extra.push({ name: dockerfile, data: Buffer.from(b.dockerfileInline) });
  } else {
    const abs = resolve(b.context, b.dockerfile);
    const rel = relative(b.context, abs);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      // A Dockerfile outside the context travels inside the archive under a name of its own.
      let data: Buffer;
      try {
        data = readFileSync(abs);
      } catch (e) {
        throw new ComposeError(`building ${job.image}: cannot read the Dockerfile ${abs}: ${(e as Error).message}`);
      }
      dockerfile = `.berth-dockerfile-${createHash('sha256').update(abs).digest('hex').slice(0, 12)}`;
      extra.push({ name: dockerfile, data });
    } else {
      if (!existsSync(abs)) throw new ComposeError(`building ${job.image}: failed to read dockerfile: open ${abs}: no such file or directory`);
      dockerfile = rel;
    }
  }
  // .dockerignore at the context's root, as docker build reads it (the Dockerfile and it are always sent).
  const ignoreFile = resolve(b.context, '.dockerignore');
  if (existsSync(ignoreFile) && statSync(ignoreFile).size > MAX_IGNORE_BYTES) throw new ComposeError(`building ${job.image}: ${ignoreFile} is larger than ${MAX_IGNORE_BYTES} bytes`);
  const ignore = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8'), ['.dockerignore', dockerfile]) : [];
  const body = tarDirectory(b.context, extra, ignore);
  const q = new URLSearchParams({ dockerfile, rm: '1', forcerm: '1' });
  for (const t of tags) q.append('t', t);
  if (Object.keys(b.args).length) q.set('buildargs', JSON.stringify(b.args));
  if (Object.keys(b.labels).length) q.set('labels', JSON.stringify(b.labels));
  if (b.target) q.set('target', b.target);
  if (b.noCache) q.set('nocache', '1');
  if (b.network) q.set('networkmode', b.network);
  const said: string[] = [];
  try {
    await engine.jsonStream({ method: 'POST', path: `/build?${q}`, body, timeoutMs: 600_000 }, (m: { stream?: string }) => {
      if (m.stream) said.push(...m.stream.split('\n').filter((l) => l.trim()));
      if (said.length > 40) said.splice(0, said.length - 40);
    });
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    throw new ComposeError(`building ${job.image} failed: ${e.message}\n${said.slice(-15).join('\n')}`);
  }
}

/** Pushes `<repository>:<tag>` and answers the manifest digest the registry stored. */
async function push(engine: DockerEngine, repository: string, tag: string, auth: string): Promise<string> {
  let digest: string | undefined;
  try {
    await engine.jsonStream({ method: 'POST', path: `/images/${encodeURIComponent(repository)}/push?tag=${encodeURIComponent(tag)}`, headers: { 'X-Registry-Auth': auth }, timeoutMs: 600_000 }, (m: { aux?: { Digest?: string } }) => {
      if (m.aux?.Digest) digest = m.aux.Digest;
    });
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    throw new ComposeError(`pushing ${repository}:${tag} failed: ${e.message}`);
  }
  if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) throw new ComposeError(`pushing ${repository}:${tag}: the engine did not say the pushed digest`);
  return digest;
}
