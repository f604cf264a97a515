/**
 * ECR image and layer handlers: DescribeImages, ListImages, BatchGetImage, BatchDeleteImage,
 * PutImage, ListImageReferrers, the layer upload operations, GetDownloadUrlForLayer and
 * GetAuthorizationToken. Pushes and uploads go through the same domain operations as the OCI
 * API (src/domain/ecr/images.ts, uploads.ts), so both APIs keep the same rules.
 */
import { Readable } from 'node:stream';
import type * as ECR from '../../generated/ecr.js';
import { encodeToken } from '../../domain/common.js';
import { DOWNLOAD_URL_LIFETIME_MS } from '../../domain/ecr/authToken.js';
import { EcrError, ecrErrors } from '../../domain/ecr/errors.js';
import { deleteImages, describeRef, findImage, getManifest, listImages, putImage, referrersOf, tagsByDigest, type ImageRef } from '../../domain/ecr/images.js';
import { MANIFEST_TYPES } from '../../domain/ecr/manifests.js';
import { isDigestShape } from '../../domain/ecr/names.js';
import type { ImageRecord } from '../../domain/ecr/records.js';
import { repositoryUri, type Registry } from '../../domain/ecr/registry.js';
import { checkRepositoryName, getRepository } from '../../domain/ecr/repositories.js';
import { appendUpload, blobIn, completeUpload, startUpload, uploadOf } from '../../domain/ecr/uploads.js';
import type { Handlers, RequestContext } from '../types.js';
import { checkRegistryId, fromToken } from './repositories.js';

const DEFAULT_PAGE = 100;
/** The part size InitiateLayerUpload suggests (ECR's largest part). */
const PART_SIZE = 20 * 1024 * 1024;

function refOf(id: ECR.ImageIdentifier): ImageRef {
  return { tag: id.imageTag, digest: id.imageDigest };
}

function toDetail(ctx: RequestContext, name: string, img: ImageRecord, tags: string[]): ECR.ImageDetail {
  const artifact = img.artifactType ?? img.configMediaType;
  return {
    registryId: ctx.platform.accountId,
    repositoryName: name,
    imageDigest: img.digest,
    ...(tags.length ? { imageTags: tags } : {}),
    imageSizeInBytes: img.imageSize,
    imagePushedAt: new Date(img.pushedAt),
    imageManifestMediaType: img.mediaType,
    ...(artifact ? { artifactMediaType: artifact } : {}),
    imageStatus: 'ACTIVE',
    ...(img.subject ? { subjectManifestDigest: img.subject } : {}),
  };
}

/** A failure entry for a reference BatchGetImage could not resolve. */
function imageFailure(id: ECR.ImageIdentifier, e: unknown): ECR.ImageFailure {
  if (e instanceof EcrError && e.oci.code === 'TAG_INVALID') return { imageId: id, failureCode: 'InvalidImageTag', failureReason: 'Invalid request parameters: image tag is not valid' };
  if (e instanceof EcrError && e.oci.code === 'DIGEST_INVALID') return { imageId: id, failureCode: 'InvalidImageDigest', failureReason: 'Invalid request parameters: image digest is not valid' };
  throw e;
}

export function imageHandlers(reg: Registry): Handlers<ECR.Operations> {
  return {
    async DescribeImages(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      await getRepository(ctx, name);
      const tags = await tagsByDigest(ctx, name);
      if (input.imageIds?.length) {
        if (input.maxResults !== undefined || input.nextToken !== undefined) throw ecrErrors.invalidParameter("Invalid parameter: 'maxResults' and 'nextToken' cannot be used with 'imageIds'");
        const out: ECR.ImageDetail[] = [];
        const seen = new Set<string>();
        for (const id of input.imageIds) {
          const img = await findImage(ctx, name, refOf(id));
          if (!img) throw ecrErrors.imageNotFound(describeRef(refOf(id)), name, ctx.platform.accountId);
          if (seen.has(img.digest)) continue;
          seen.add(img.digest);
          out.push(toDetail(ctx, name, img, tags.get(img.digest) ?? []));
        }
        return { imageDetails: out };
      }
      const status = input.filter?.tagStatus ?? 'ANY';
      const keep = (img: ImageRecord) => status === 'ANY' || (status === 'TAGGED') === (tags.get(img.digest)?.length ?? 0) > 0;
      const limit = input.maxResults ?? DEFAULT_PAGE;
      const out: ECR.ImageDetail[] = [];
      let after = fromToken(input.nextToken);
      for (;;) {
        const page = await listImages(ctx, name, { after, limit: 500 });
        for (const img of page.images) {
          after = img.digest;
          if (!keep(img)) continue;
          if (out.length === limit) return { imageDetails: out, nextToken: encodeToken(out[out.length - 1]!.imageDigest!) };
          out.push(toDetail(ctx, name, img, tags.get(img.digest) ?? []));
        }
        if (!page.more) return { imageDetails: out };
      }
    },

    async ListImages(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      await getRepository(ctx, name);
      const tags = await tagsByDigest(ctx, name);
      const status = input.filter?.tagStatus ?? 'ANY';
      const limit = input.maxResults ?? DEFAULT_PAGE;
      const out: ECR.ImageIdentifier[] = [];
      let after = fromToken(input.nextToken);
      let lastDigest: string | undefined;
      for (;;) {
        const page = await listImages(ctx, name, { after, limit: 500 });
        for (const img of page.images) {
          after = img.digest;
          const t = tags.get(img.digest) ?? [];
          const ids = t.length ? (status === 'UNTAGGED' ? [] : t.map((tag) => ({ imageDigest: img.digest, imageTag: tag }))) : status === 'TAGGED' ? [] : [{ imageDigest: img.digest }];
          if (!ids.length) continue;
          // Pages end between images, never inside one image's tags.
          if (out.length && out.length + ids.length > limit) return { imageIds: out, nextToken: encodeToken(lastDigest!) };
          out.push(...ids);
          lastDigest = img.digest;
        }
        if (!page.more) return { imageIds: out };
      }
    },

    async BatchGetImage(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      await getRepository(ctx, name);
      const accepted = input.acceptedMediaTypes?.length ? input.acceptedMediaTypes : undefined;
      const images: ECR.Image[] = [];
      const failures: ECR.ImageFailure[] = [];
      for (const id of input.imageIds) {
        if (id.imageDigest === undefined && id.imageTag === undefined) {
          failures.push({ imageId: id, failureCode: 'MissingDigestAndTag', failureReason: 'Invalid request parameters: both tag and digest cannot be null' });
          continue;
        }
        let got;
        try {
          got = (await findImage(ctx, name, refOf(id))) ? await getManifest(ctx, name, refOf(id)) : undefined;
        } catch (e) {
          failures.push(imageFailure(id, e));
          continue;
        }
        if (!got) {
          failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
          continue;
        }
        if (accepted && !accepted.includes(got.image.mediaType)) {
          failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: `The image is a ${got.image.mediaType}, which is not among acceptedMediaTypes (Berth does not convert manifests)` });
          continue;
        }
        images.push({
          registryId: ctx.platform.accountId,
          repositoryName: name,
          imageId: { imageDigest: got.image.digest, ...(id.imageTag !== undefined ? { imageTag: id.imageTag } : {}) },
          imageManifest: got.manifest.toString('utf8'),
          imageManifestMediaType: got.image.mediaType,
        });
      }
      return { images, failures };
    },

    async BatchDeleteImage(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      const out = await deleteImages(ctx, name, input.imageIds.map(refOf), { lastTagDeletesImage: true });
      return {
        imageIds: out.deleted.map((d) => ({ imageDigest: d.digest, ...(d.tag !== undefined ? { imageTag: d.tag } : {}) })),
        failures: out.failures.map((f) => ({ imageId: { ...(f.ref.digest !== undefined ? { imageDigest: f.ref.digest } : {}), ...(f.ref.tag !== undefined ? { imageTag: f.ref.tag } : {}) }, failureCode: f.code, failureReason: f.reason })),
      };
    },

    async PutImage(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      if (input.imageManifestMediaType !== undefined && !MANIFEST_TYPES.includes(input.imageManifestMediaType)) throw ecrErrors.unsupportedMediaType(input.imageManifestMediaType);
      const manifest = Buffer.from(input.imageManifest, 'utf8');
      const r = await putImage(ctx, reg, { repository: name, manifest, mediaType: input.imageManifestMediaType, tag: input.imageTag, digest: input.imageDigest });
      if (!r.created && !r.tagMoved) throw ecrErrors.imageExists(r.image.digest, input.imageTag, name, ctx.platform.accountId);
      return {
        image: {
          registryId: ctx.platform.accountId,
          repositoryName: name,
          imageId: { imageDigest: r.image.digest, ...(input.imageTag !== undefined ? { imageTag: input.imageTag } : {}) },
          imageManifest: input.imageManifest,
          imageManifestMediaType: r.image.mediaType,
        },
      };
    },

    async ListImageReferrers(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      await getRepository(ctx, name);
      const subject = input.subjectId.imageDigest;
      if (!isDigestShape(subject)) throw ecrErrors.invalidDigest(subject);
      const types = input.filter?.artifactTypes;
      const all = (await referrersOf(ctx, name, subject)).filter((r) => !types?.length || (r.artifactType !== undefined && types.includes(r.artifactType)));
      const after = fromToken(input.nextToken);
      const start = after === undefined ? 0 : all.findIndex((r) => r.digest > after);
      const from = start < 0 ? all.length : start;
      const limit = input.maxResults ?? 50;
      const page = all.slice(from, from + limit);
      return {
        referrers: page.map((r) => ({ digest: r.digest, mediaType: r.mediaType, size: r.size, ...(r.artifactType ? { artifactType: r.artifactType } : {}), ...(r.annotations ? { annotations: r.annotations } : {}), artifactStatus: 'ACTIVE' })),
        nextToken: from + limit < all.length && page.length ? encodeToken(page[page.length - 1]!.digest) : undefined,
      };
    },

    async BatchCheckLayerAvailability(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      await getRepository(ctx, name);
      const layers: ECR.Layer[] = [];
      const failures: ECR.LayerFailure[] = [];
      for (const d of input.layerDigests) {
        if (!isDigestShape(d)) {
          failures.push({ layerDigest: d, failureCode: 'InvalidLayerDigest', failureReason: 'Invalid layer digest' });
          continue;
        }
        const info = await blobIn(ctx, reg, name, d, true);
        if (info) layers.push({ layerDigest: d, layerAvailability: 'AVAILABLE', layerSize: info.size, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' });
        else failures.push({ layerDigest: d, failureCode: 'MissingLayerDigest', failureReason: 'Could not find layer' });
      }
      return { layers, failures };
    },

    async InitiateLayerUpload(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const u = await startUpload(ctx, reg, checkRepositoryName(input.repositoryName));
      return { uploadId: u.id, partSize: PART_SIZE };
    },

    async UploadLayerPart(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      const id = input.uploadId.toLowerCase();
      const info = await uploadOf(ctx, reg, name, id);
      const extra = { registryId: ctx.platform.accountId, repositoryName: name, uploadId: id, lastValidByteReceived: info.size - 1 };
      if (input.partLastByte - input.partFirstByte + 1 !== input.layerPartBlob.length) {
        throw ecrErrors.invalidLayerPart(`The part is ${input.layerPartBlob.length} bytes but partFirstByte ${input.partFirstByte} and partLastByte ${input.partLastByte} span ${input.partLastByte - input.partFirstByte + 1}.`, extra);
      }
      const after = await appendUpload(ctx, reg, name, id, input.partFirstByte, Readable.from([input.layerPartBlob]), (actual) =>
        ecrErrors.invalidLayerPart(`The part starts at byte ${input.partFirstByte}, but the upload has ${actual} bytes: the next part must start at ${actual}.`, { ...extra, lastValidByteReceived: actual - 1 }),
      );
      return { registryId: ctx.platform.accountId, repositoryName: name, uploadId: id, lastByteReceived: after.size - 1 };
    },

    async CompleteLayerUpload(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      const id = input.uploadId.toLowerCase();
      if (input.layerDigests.length !== 1) throw ecrErrors.invalidParameter("Invalid parameter at 'layerDigests' failed to satisfy constraint: 'give exactly one digest, the layer's'");
      const digest = input.layerDigests[0]!;
      const info = await uploadOf(ctx, reg, name, id);
      if (info.size === 0) throw ecrErrors.emptyUpload(id);
      if (await blobIn(ctx, reg, name, digest, true)) {
        await reg.blobs.cancel(id);
        throw ecrErrors.layerExists(digest, name, ctx.platform.accountId);
      }
      await completeUpload(ctx, reg, name, id, digest);
      return { registryId: ctx.platform.accountId, repositoryName: name, uploadId: id, layerDigest: digest };
    },

    async GetDownloadUrlForLayer(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      if (!isDigestShape(input.layerDigest) || !(await blobIn(ctx, reg, name, input.layerDigest, true))) throw ecrErrors.layersNotFound([input.layerDigest]);
      const expires = Math.floor((ctx.platform.clock.now() + DOWNLOAD_URL_LIFETIME_MS) / 1000);
      const sig = reg.tokens.downloadSignature(ctx.region, name, input.layerDigest, expires);
      const uri = repositoryUri(ctx, reg, name);
      const host = uri.slice(0, uri.length - name.length - 1);
      return { downloadUrl: `http://${host}/v2/${name}/blobs/${input.layerDigest}?X-Berth-Expires=${expires}&X-Berth-Signature=${sig}`, layerDigest: input.layerDigest };
    },

    async GetAuthorizationToken(input, ctx) {
      for (const id of input.registryIds ?? []) checkRegistryId(ctx, id);
      // Bound to the caller's key: the registry acts for that principal (agents: their own tasks' images).
      const { password, expiresAt } = reg.tokens.mint(ctx.platform.clock.now(), ctx.principal.kind === 'root' ? undefined : ctx.principal.accessKeyId);
      const uri = repositoryUri(ctx, reg, 'x');
      return {
        authorizationData: [{ authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'), expiresAt: new Date(expiresAt), proxyEndpoint: `http://${uri.slice(0, -2)}` }],
      };
    },

    async DescribeImageScanFindings(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      await getRepository(ctx, name);
      const img = await findImage(ctx, name, refOf(input.imageId));
      if (!img) throw ecrErrors.imageNotFound(describeRef(refOf(input.imageId)), name, ctx.platform.accountId);
      throw ecrErrors.scanNotFound(describeRef(refOf(input.imageId)), name);
    },
  };
}
