/**
 * ECR repository handlers: create, describe, delete, settings (tag mutability, scanning),
 * repository policies, lifecycle policies and their previews, resource tags, registry-level
 * settings. They check what belongs to the API (argument combinations, tokens, ARNs), call the
 * ECR domain (src/domain/ecr/) and map its records to ECR's shapes.
 */
import type * as ECR from '../../generated/ecr.js';
import { decodeToken, encodeToken, parseArn } from '../../domain/common.js';
import { ecrErrors } from '../../domain/ecr/errors.js';
import { compilePolicy } from '../../domain/iam/policy/document.js';
import { ServiceError } from '../../errors.js';
import { findImage } from '../../domain/ecr/images.js';
import { getPreview, parseLifecyclePolicy, previewLifecycle, savePreview } from '../../domain/ecr/lifecycle.js';
import { repositoryArn } from '../../domain/ecr/names.js';
import type { RepositoryRecord } from '../../domain/ecr/records.js';
import { repositoryUri, type Registry } from '../../domain/ecr/registry.js';
import {
  checkMutability,
  checkRepositoryName,
  createRepository,
  deleteRepository,
  getRepository,
  listRepositories,
  putRegistryScanning,
  registrySettings,
  tagRepository,
  untagRepository,
  updateRepository,
} from '../../domain/ecr/repositories.js';
import type { Handlers, RequestContext } from '../types.js';

/** Largest page of DescribeRepositories / DescribeImages / ListImages without maxResults. */
const DEFAULT_PAGE = 100;

/** The registry id a request names must be this account's (there is one registry). */
export function checkRegistryId(ctx: RequestContext, registryId: string | undefined, repositoryName?: string): void {
  if (registryId === undefined || registryId === ctx.platform.accountId) return;
  if (repositoryName !== undefined) throw ecrErrors.repositoryNotFound(repositoryName, registryId);
  throw ecrErrors.invalidParameter(`Invalid parameter at 'registryId' failed to satisfy constraint: 'this registry's id is ${ctx.platform.accountId}'`);
}

/** A nextToken decoded (InvalidParameterException when it is not one this API handed out). */
export function fromToken(token: string | undefined): string | undefined {
  return decodeToken(token, () => ecrErrors.invalidParameter("Invalid parameter at 'nextToken' failed to satisfy constraint: 'the token is not valid; use a nextToken this API returned'"));
}

export function toRepository(ctx: RequestContext, reg: Registry, r: RepositoryRecord): ECR.Repository {
  return {
    repositoryArn: repositoryArn(ctx, r.name),
    registryId: ctx.platform.accountId,
    repositoryName: r.name,
    repositoryUri: repositoryUri(ctx, reg, r.name),
    createdAt: new Date(r.createdAt),
    imageTagMutability: r.imageTagMutability,
    ...(r.mutabilityExclusions.length ? { imageTagMutabilityExclusionFilters: r.mutabilityExclusions } : {}),
    imageScanningConfiguration: { scanOnPush: r.scanOnPush },
    encryptionConfiguration: { encryptionType: r.encryptionType as ECR.EncryptionType, ...(r.kmsKey ? { kmsKey: r.kmsKey } : {}) },
  };
}

/** The repository name a resource ARN names (InvalidParameterException for any other ARN). */
function repositoryOfArn(ctx: RequestContext, resourceArn: string): string {
  const p = parseArn(resourceArn);
  const name = p?.resource.startsWith('repository/') ? p.resource.slice('repository/'.length) : undefined;
  if (!p || p.service !== 'ecr' || name === undefined || p.region !== ctx.region) {
    throw ecrErrors.invalidParameter(`Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN: ${resourceArn.slice(0, 300)}'`);
  }
  if (p.accountId !== ctx.platform.accountId) throw ecrErrors.repositoryNotFound(name, p.accountId);
  return checkRepositoryName(name);
}

/** Checks a repository policy document: a JSON object with a Statement (stored as given, not enforced). */
function checkPolicy(text: string): void {
  // The document IAM evaluation will apply to the repository, compiled as it will be: one that
  // could not be compiled would otherwise be stored and then ignored.
  try {
    compilePolicy(text, 'resource');
  } catch (e) {
    if (e instanceof ServiceError) throw ecrErrors.invalidPolicy(e.message);
    throw e;
  }
}

export function repositoryHandlers(reg: Registry): Handlers<ECR.Operations> {
  return {
    async CreateRepository(input, ctx) {
      checkRegistryId(ctx, input.registryId);
      const r = await createRepository(ctx, {
        name: input.repositoryName,
        imageTagMutability: input.imageTagMutability,
        mutabilityExclusions: input.imageTagMutabilityExclusionFilters?.map((f) => ({ filterType: f.filterType as 'WILDCARD', filter: f.filter })),
        scanOnPush: input.imageScanningConfiguration?.scanOnPush,
        encryptionType: input.encryptionConfiguration?.encryptionType,
        kmsKey: input.encryptionConfiguration?.kmsKey,
        tags: input.tags,
      });
      return { repository: toRepository(ctx, reg, r) };
    },

    async DescribeRepositories(input, ctx) {
      checkRegistryId(ctx, input.registryId);
      if (input.repositoryNames?.length) {
        if (input.maxResults !== undefined || input.nextToken !== undefined) {
          throw ecrErrors.invalidParameter("Invalid parameter: 'maxResults' and 'nextToken' cannot be used with 'repositoryNames'");
        }
        const out: ECR.Repository[] = [];
        for (const n of input.repositoryNames) out.push(toRepository(ctx, reg, await getRepository(ctx, checkRepositoryName(n))));
        return { repositories: out };
      }
      const limit = input.maxResults ?? DEFAULT_PAGE;
      const page = await listRepositories(ctx, { after: fromToken(input.nextToken), limit });
      const last = page.items[page.items.length - 1];
      return { repositories: page.items.map((r) => toRepository(ctx, reg, r)), nextToken: page.more && last ? encodeToken(last.name) : undefined };
    },

    async DeleteRepository(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const r = await deleteRepository(ctx, checkRepositoryName(input.repositoryName), input.force ?? false);
      return { repository: toRepository(ctx, reg, r) };
    },

    async PutImageTagMutability(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const exclusions = checkMutability(
        input.imageTagMutability,
        input.imageTagMutabilityExclusionFilters?.map((f) => ({ filterType: f.filterType as 'WILDCARD', filter: f.filter })),
      );
      const r = await updateRepository(ctx, checkRepositoryName(input.repositoryName), (cur) => ({ ...cur, imageTagMutability: input.imageTagMutability, mutabilityExclusions: exclusions }));
      return {
        registryId: ctx.platform.accountId,
        repositoryName: r.name,
        imageTagMutability: r.imageTagMutability,
        ...(r.mutabilityExclusions.length ? { imageTagMutabilityExclusionFilters: r.mutabilityExclusions } : {}),
      };
    },

    async PutImageScanningConfiguration(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const scanOnPush = input.imageScanningConfiguration.scanOnPush ?? false;
      const r = await updateRepository(ctx, checkRepositoryName(input.repositoryName), (cur) => ({ ...cur, scanOnPush }));
      return { registryId: ctx.platform.accountId, repositoryName: r.name, imageScanningConfiguration: { scanOnPush: r.scanOnPush } };
    },

    async SetRepositoryPolicy(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      checkPolicy(input.policyText);
      const r = await updateRepository(ctx, checkRepositoryName(input.repositoryName), (cur) => ({ ...cur, policy: input.policyText }));
      return { registryId: ctx.platform.accountId, repositoryName: r.name, policyText: r.policy };
    },

    async GetRepositoryPolicy(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const r = await getRepository(ctx, checkRepositoryName(input.repositoryName));
      if (r.policy === undefined) throw ecrErrors.repositoryPolicyNotFound(r.name, ctx.platform.accountId);
      return { registryId: ctx.platform.accountId, repositoryName: r.name, policyText: r.policy };
    },

    async DeleteRepositoryPolicy(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      let policy: string | undefined;
      const r = await updateRepository(ctx, checkRepositoryName(input.repositoryName), (cur) => {
        if (cur.policy === undefined) throw ecrErrors.repositoryPolicyNotFound(cur.name, ctx.platform.accountId);
        policy = cur.policy;
        const { policy: _gone, ...rest } = cur;
        return rest;
      });
      return { registryId: ctx.platform.accountId, repositoryName: r.name, policyText: policy };
    },

    async PutLifecyclePolicy(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      parseLifecyclePolicy(input.lifecyclePolicyText);
      const r = await updateRepository(ctx, checkRepositoryName(input.repositoryName), (cur) => ({
        ...cur,
        lifecyclePolicy: { text: input.lifecyclePolicyText, updatedAt: ctx.platform.clock.now() },
      }));
      return { registryId: ctx.platform.accountId, repositoryName: r.name, lifecyclePolicyText: r.lifecyclePolicy!.text };
    },

    async GetLifecyclePolicy(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const r = await getRepository(ctx, checkRepositoryName(input.repositoryName));
      if (!r.lifecyclePolicy) throw ecrErrors.lifecyclePolicyNotFound(r.name, ctx.platform.accountId);
      return { registryId: ctx.platform.accountId, repositoryName: r.name, lifecyclePolicyText: r.lifecyclePolicy.text, lastEvaluatedAt: new Date(r.lifecyclePolicy.updatedAt) };
    },

    async DeleteLifecyclePolicy(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      let policy: RepositoryRecord['lifecyclePolicy'];
      const r = await updateRepository(ctx, checkRepositoryName(input.repositoryName), (cur) => {
        if (!cur.lifecyclePolicy) throw ecrErrors.lifecyclePolicyNotFound(cur.name, ctx.platform.accountId);
        policy = cur.lifecyclePolicy;
        const { lifecyclePolicy: _gone, ...rest } = cur;
        return rest;
      });
      return { registryId: ctx.platform.accountId, repositoryName: r.name, lifecyclePolicyText: policy!.text, lastEvaluatedAt: new Date(policy!.updatedAt) };
    },

    async StartLifecyclePolicyPreview(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const r = await getRepository(ctx, checkRepositoryName(input.repositoryName));
      const text = input.lifecyclePolicyText ?? r.lifecyclePolicy?.text;
      if (text === undefined) throw ecrErrors.lifecyclePolicyNotFound(r.name, ctx.platform.accountId);
      // Evaluated at once (AWS does it in the background): the preview is COMPLETE when this returns.
      await savePreview(ctx, r.name, text, await previewLifecycle(ctx, r.name, text));
      return { registryId: ctx.platform.accountId, repositoryName: r.name, lifecyclePolicyText: text, status: 'COMPLETE' };
    },

    async GetLifecyclePolicyPreview(input, ctx) {
      checkRegistryId(ctx, input.registryId, input.repositoryName);
      const name = checkRepositoryName(input.repositoryName);
      if (input.imageIds?.length && (input.maxResults !== undefined || input.nextToken !== undefined)) {
        throw ecrErrors.invalidParameter("Invalid parameter: 'maxResults' and 'nextToken' cannot be used with 'imageIds'");
      }
      const preview = await getPreview(ctx, name);
      let results = preview.results;
      if (input.imageIds?.length) {
        const wanted = new Set<string>();
        for (const id of input.imageIds) {
          const img = await findImage(ctx, name, { tag: id.imageTag, digest: id.imageDigest });
          if (img) wanted.add(img.digest);
        }
        results = results.filter((x) => wanted.has(x.digest));
      }
      const status = input.filter?.tagStatus;
      if (status === 'TAGGED') results = results.filter((x) => x.tags.length > 0);
      else if (status === 'UNTAGGED') results = results.filter((x) => x.tags.length === 0);
      const after = fromToken(input.nextToken);
      const start = after === undefined ? 0 : results.findIndex((x) => x.digest === after) + 1;
      const limit = input.maxResults ?? DEFAULT_PAGE;
      const page = results.slice(start, start + limit);
      const more = start + limit < results.length;
      return {
        registryId: ctx.platform.accountId,
        repositoryName: name,
        lifecyclePolicyText: preview.text,
        status: 'COMPLETE',
        previewResults: page.map((x) => ({ imageDigest: x.digest, imageTags: x.tags, imagePushedAt: new Date(x.pushedAt), action: { type: 'EXPIRE' }, appliedRulePriority: x.rulePriority })),
        summary: { expiringImageTotalCount: preview.results.length },
        nextToken: more && page.length ? encodeToken(page[page.length - 1]!.digest) : undefined,
      };
    },

    async TagResource(input, ctx) {
      await tagRepository(ctx, repositoryOfArn(ctx, input.resourceArn), input.tags);
      return {};
    },

    async UntagResource(input, ctx) {
      await untagRepository(ctx, repositoryOfArn(ctx, input.resourceArn), input.tagKeys);
      return {};
    },

    async ListTagsForResource(input, ctx) {
      const r = await getRepository(ctx, repositoryOfArn(ctx, input.resourceArn));
      return { tags: r.tags };
    },

    async DescribeRegistry(_input, ctx) {
      return { registryId: ctx.platform.accountId, replicationConfiguration: { rules: [] } };
    },

    async GetRegistryScanningConfiguration(_input, ctx) {
      const s = await registrySettings(ctx);
      return {
        registryId: ctx.platform.accountId,
        scanningConfiguration: { scanType: (s.scanning?.scanType ?? 'BASIC') as ECR.ScanType, rules: (s.scanning?.rules ?? []) as ECR.RegistryScanningRule[] },
      };
    },

    async PutRegistryScanningConfiguration(input, ctx) {
      const s = await putRegistryScanning(ctx, { scanType: input.scanType ?? 'BASIC', rules: input.rules ?? [] });
      return { registryScanningConfiguration: { scanType: s.scanning!.scanType as ECR.ScanType, rules: s.scanning!.rules as ECR.RegistryScanningRule[] } };
    },
  };
}
