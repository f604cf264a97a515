/**
 * The console's views of CloudFormation stacks and ECR repositories, like views.ts composed
 * from the public API operations called as the signed-in principal (so a principal sees only the
 * stacks and repositories its policies let it describe). A stack's NoEcho parameters are never
 * read in clear: CloudFormation itself answers them masked, and the view marks them hidden by
 * the template's own NoEcho flags. Lists are bounded (MAX_LIST; a stack's events: MAX_EVENTS).
 */
import { ServiceError } from '../errors.js';
import { MAX_LIST, need, type ApiCall, type ViewParams } from './views.js';

/** Most events of a stack a page shows (newest first). */
export const MAX_EVENTS = 200;

/** Reads pages of a list operation until `max` items or the end (`tokenIn`/`tokenOut`: the operation's token names). */
async function pages(call: ApiCall, service: string, op: string, input: Record<string, unknown>, key: string, max: number, tokenIn = 'NextToken', tokenOut = tokenIn): Promise<any[]> {
  const out: any[] = [];
  let token: string | undefined;
  do {
    const page = await call(service, op, { ...input, ...(token ? { [tokenIn]: token } : {}) });
    out.push(...(page[key] ?? []));
    token = page[tokenOut];
  } while (token && out.length < max);
  return out.slice(0, max);
}

/** The stacks (not deleted), newest first. */
async function stacks(call: ApiCall): Promise<unknown> {
  const all = await pages(call, 'cloudformation', 'DescribeStacks', {}, 'Stacks', MAX_LIST);
  return {
    stacks: all.map((s) => ({
      name: s.StackName,
      status: s.StackStatus,
      reason: s.StackStatusReason,
      description: s.Description,
      createdAt: s.CreationTime,
      updatedAt: s.LastUpdatedTime,
    })),
  };
}

/** A stack: its status, events newest first, resources, outputs, and parameters (NoEcho hidden). */
async function stack(call: ApiCall, p: ViewParams): Promise<unknown> {
  const name = need(p, 'stack');
  const s = (await call('cloudformation', 'DescribeStacks', { StackName: name })).Stacks?.[0];
  if (!s) throw new ServiceError('ValidationError', `Stack with id ${name} does not exist`, 400);
  const [events, resources, summary] = await Promise.all([
    pages(call, 'cloudformation', 'DescribeStackEvents', { StackName: s.StackId }, 'StackEvents', MAX_EVENTS),
    pages(call, 'cloudformation', 'ListStackResources', { StackName: s.StackId }, 'StackResourceSummaries', 500),
    call('cloudformation', 'GetTemplateSummary', { StackName: s.StackId }),
  ]);
  const noEcho = new Set<string>((summary.Parameters ?? []).filter((x: any) => x.NoEcho).map((x: any) => x.ParameterKey));
  return {
    stack: {
      name: s.StackName,
      id: s.StackId,
      status: s.StackStatus,
      reason: s.StackStatusReason,
      description: s.Description,
      createdAt: s.CreationTime,
      updatedAt: s.LastUpdatedTime,
      terminationProtection: s.EnableTerminationProtection,
      capabilities: s.Capabilities ?? [],
    },
    parameters: (s.Parameters ?? []).map((x: any) =>
      // A NoEcho value never leaves this function (CloudFormation masks it already; belt and braces).
      noEcho.has(x.ParameterKey) ? { key: x.ParameterKey, hidden: true } : { key: x.ParameterKey, value: x.ParameterValue, resolved: x.ResolvedValue },
    ),
    outputs: (s.Outputs ?? []).map((o: any) => ({ key: o.OutputKey, value: o.OutputValue, description: o.Description, exportName: o.ExportName })),
    resources: resources.map((r) => ({ logicalId: r.LogicalResourceId, physicalId: r.PhysicalResourceId, type: r.ResourceType, status: r.ResourceStatus, reason: r.ResourceStatusReason, updatedAt: r.LastUpdatedTimestamp })),
    events: events
      .map((e) => ({ id: e.EventId, at: e.Timestamp, logicalId: e.LogicalResourceId, type: e.ResourceType, status: e.ResourceStatus, reason: e.ResourceStatusReason }))
      .sort((a, b) => (b.at ?? 0) - (a.at ?? 0)),
  };
}

/** The registry's repositories, with their URIs and settings. */
async function repositories(call: ApiCall): Promise<unknown> {
  const all = await pages(call, 'ecr', 'DescribeRepositories', {}, 'repositories', MAX_LIST, 'nextToken');
  return {
    repositories: all
      .map((r) => ({ name: r.repositoryName, uri: r.repositoryUri, createdAt: r.createdAt, tagMutability: r.imageTagMutability, scanOnPush: r.imageScanningConfiguration?.scanOnPush }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** A repository and its images (tags, digest, size, pushed at), newest first. */
async function repository(call: ApiCall, p: ViewParams): Promise<unknown> {
  const name = need(p, 'repository', 256);
  const r = (await call('ecr', 'DescribeRepositories', { repositoryNames: [name] })).repositories?.[0];
  if (!r) throw new ServiceError('RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry.`, 400);
  const images = await pages(call, 'ecr', 'DescribeImages', { repositoryName: name, maxResults: 100 }, 'imageDetails', 500, 'nextToken');
  return {
    repository: { name: r.repositoryName, uri: r.repositoryUri, arn: r.repositoryArn, createdAt: r.createdAt, tagMutability: r.imageTagMutability, scanOnPush: r.imageScanningConfiguration?.scanOnPush },
    images: images
      .map((i) => ({ digest: i.imageDigest, tags: i.imageTags ?? [], size: i.imageSizeInBytes, pushedAt: i.imagePushedAt, mediaType: i.imageManifestMediaType, artifactType: i.artifactMediaType }))
      .sort((a, b) => (b.pushedAt ?? 0) - (a.pushedAt ?? 0)),
  };
}

/** These views by name (merged into views.ts's VIEWS). */
export const STACK_REGISTRY_VIEWS: Record<string, (call: ApiCall, p: ViewParams) => Promise<unknown>> = {
  stacks: (call) => stacks(call),
  stack,
  repositories: (call) => repositories(call),
  repository,
};
