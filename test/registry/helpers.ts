/**
 * Helpers for the registry's tests: signed ECR API calls (raw, faster than the aws CLI and
 * able to sign at a ManualClock's time), the registry password, `/v2/` requests, and builders
 * for blobs and manifests.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { signRequest } from '../../src/protocol/sigv4.js';

export interface Endpoint {
  url: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A signed ECR API call; returns the status and the parsed body (`__type` on errors). */
export async function ecrCall(b: Endpoint, operation: string, input: unknown, opts: { now?: number; region?: string } = {}): Promise<{ status: number; body: any }> {
  const url = new URL(b.url + '/');
  const body = JSON.stringify(input);
  const headers = signRequest({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonEC2ContainerRegistry_V20150921.${operation}` },
    body,
    ...b.credentials,
    region: opts.region ?? 'us-east-1',
    service: 'ecr',
    now: opts.now,
  });
  delete headers.host;
  const r = await fetch(url, { method: 'POST', headers, body });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : {} };
}

/** An ECR call that must succeed. */
export async function ecrOk(b: Endpoint, operation: string, input: unknown, opts: { now?: number; region?: string } = {}): Promise<any> {
  const r = await ecrCall(b, operation, input, opts);
  if (r.status !== 200) throw new Error(`${operation} failed (${r.status}): ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The `Authorization: Basic` value for the registry, from GetAuthorizationToken (user AWS). */
export async function registryAuth(b: Endpoint, opts: { now?: number } = {}): Promise<string> {
  const out = await ecrOk(b, 'GetAuthorizationToken', {}, opts);
  return `Basic ${out.authorizationData[0].authorizationToken}`;
}

/** The registry password alone (what `aws ecr get-login-password` prints). */
export function passwordOf(auth: string): string {
  return Buffer.from(auth.slice('Basic '.length), 'base64').toString('utf8').slice('AWS:'.length);
}

export interface V2Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any;
  /** The first OCI error code of an error body. */
  code(): string | undefined;
}

/** A request to the registry (`path` starts with /v2/). */
export async function v2(b: Endpoint, method: string, path: string, opts: { auth?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<V2Reply> {
  const headers: Record<string, string> = { ...(opts.auth ? { authorization: opts.auth } : {}), ...opts.headers };
  const body = opts.body === undefined || typeof opts.body === 'string' ? opts.body : new Uint8Array(opts.body);
  const r = await fetch(b.url + path, { method, headers, body, redirect: 'manual' });
  const got = Buffer.from(await r.arrayBuffer());
  return {
    status: r.status,
    headers: r.headers,
    body: got,
    json: () => JSON.parse(got.toString('utf8')),
    code: () => {
      try {
        return JSON.parse(got.toString('utf8')).errors?.[0]?.code;
      } catch {
        return undefined;
      }
    },
  };
}

/** Pushes a blob in one POST (`?digest=`); returns its digest. */
export async function pushBlob(b: Endpoint, auth: string, repo: string, bytes: Buffer | string): Promise<string> {
  const digest = sha256(bytes);
  const r = await v2(b, 'POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, { auth, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  if (r.status !== 201) throw new Error(`blob push failed ${r.status}: ${r.body.toString()}`);
  return digest;
}

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  empty: 'application/vnd.oci.empty.v1+json',
};

/** A descriptor of some bytes. */
export function desc(mediaType: string, bytes: Buffer | string, extra: Record<string, unknown> = {}): { mediaType: string; digest: string; size: number } & Record<string, unknown> {
  return { mediaType, digest: sha256(bytes), size: Buffer.byteLength(bytes), ...extra };
}

/** Pushes a config and layers, then a manifest of them; returns the manifest's bytes and digest. */
export async function pushImage(
  b: Endpoint,
  auth: string,
  repo: string,
  ref: string,
  opts: { layers?: Array<Buffer | string>; config?: string; oci?: boolean; subject?: { mediaType: string; digest: string; size: number }; artifactType?: string; annotations?: Record<string, string> } = {},
): Promise<{ digest: string; manifest: Buffer; size: number }> {
  const oci = opts.oci ?? false;
  const config = opts.config ?? JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: Math.random() });
  const layers = opts.layers ?? [`layer of ${ref} ${Math.random()}`];
  await pushBlob(b, auth, repo, config);
  for (const l of layers) await pushBlob(b, auth, repo, l);
  const manifestObj: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: oci ? MT.ociManifest : MT.dockerManifest,
    ...(opts.artifactType ? { artifactType: opts.artifactType } : {}),
    config: desc(opts.artifactType ? MT.empty : oci ? MT.ociConfig : MT.dockerConfig, config),
    layers: layers.map((l) => desc(oci ? MT.ociLayer : MT.dockerLayer, l)),
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.annotations ? { annotations: opts.annotations } : {}),
  };
  const manifest = Buffer.from(JSON.stringify(manifestObj));
  const r = await v2(b, 'PUT', `/v2/${repo}/manifests/${ref}`, { auth, body: manifest, headers: { 'content-type': manifestObj.mediaType as string } });
  if (r.status !== 201) throw new Error(`manifest push failed ${r.status}: ${r.body.toString()}`);
  return { digest: sha256(manifest), manifest, size: layers.reduce((n, l) => n + Buffer.byteLength(l), 0) };
}

/** Whether a program answers `--version` (for skipping tests that need it). */
export function hasProgram(cmd: string, args = ['--version']): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** Whether the docker daemon answers. */
export function dockerWorks(): boolean {
  return spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}
