/**
 * What each operation asks IAM: its action name (`<prefix>:<Operation>`), the resources it acts
 * on (ARNs built from its input, as the AWS Service Authorization Reference lists them for the
 * operations that take resources), the service-specific condition keys (`ecs:cluster`...), and
 * the roles it passes (`iam:PassRole`). The gateway asks the authorizer for each resource
 * before the handler runs. An operation not listed here acts on `*`.
 */
import type { RequestContext } from './types.js';
import { findRepository } from '../domain/ecr/repositories.js';

/** One operation's authorization: the resources, extra context keys, and roles it passes. */
export interface AccessTarget {
  resources: string[];
  keys?: Record<string, string[]>;
  /** Roles the request hands to a service: each needs `iam:PassRole` (with iam:PassedToService). */
  passRoles?: Array<{ roleArn: string; service: string }>;
}

/** How an operation is authorized: resources to check, `public` (anyone signed), or `handler` (the handler decides). */
export type AccessRule = AccessTarget | 'public' | 'handler';

type Input = Record<string, unknown>;
type Rule = (i: Input, ctx: RequestContext) => AccessRule;

/** The IAM action prefix of each service (by its folder name). */
export const ACTION_PREFIX: Record<string, string> = {
  ecs: 'ecs',
  elbv2: 'elasticloadbalancing',
  logs: 'logs',
  ssm: 'ssm',
  sts: 'sts',
  iam: 'iam',
  berthagent: 'berth-agent',
  ecr: 'ecr',
  cloudwatch: 'cloudwatch',
  ec2: 'ec2',
  cloudformation: 'cloudformation',
  cloudtrail: 'cloudtrail',
  applicationautoscaling: 'application-autoscaling',
  servicediscovery: 'servicediscovery',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function ecsArn(ctx: RequestContext, resource: string): string {
  return `arn:aws:ecs:${ctx.region}:${ctx.platform.accountId}:${resource}`;
}
function clusterArn(ctx: RequestContext, c: unknown): string {
  const v = str(c) ?? 'default';
  return v.startsWith('arn:') ? v : ecsArn(ctx, `cluster/${v}`);
}
function clusterName(ctx: RequestContext, c: unknown): string {
  const a = clusterArn(ctx, c);
  return a.slice(a.indexOf(':cluster/') + ':cluster/'.length);
}
function taskDefArn(ctx: RequestContext, td: unknown): string {
  const v = str(td) ?? '';
  if (v.startsWith('arn:')) return v;
  return ecsArn(ctx, `task-definition/${v.includes(':') ? v : `${v}:*`}`);
}

/** Tags a request sets, as aws:RequestTag/<key> and aws:TagKeys (ECS `tags`, most others `Tags`). */
function requestTags(i: Input): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const list = Array.isArray(i.tags) ? i.tags : Array.isArray(i.Tags) ? i.Tags : undefined;
  if (!list) return out;
  const keys: string[] = [];
  for (const t of list.slice(0, 100)) {
    if (typeof t !== 'object' || t === null) continue;
    const r = t as Record<string, unknown>;
    const k = str(r.key) ?? str(r.Key);
    if (!k) continue;
    keys.push(k);
    out[`aws:requesttag/${k.toLowerCase()}`] = [String(r.value ?? r.Value ?? '')];
  }
  if (keys.length) out['aws:tagkeys'] = keys;
  return out;
}

const ECS_CLUSTER_OPS = new Set(['DeleteCluster', 'UpdateCluster', 'UpdateClusterSettings', 'PutClusterCapacityProviders', 'ListServices', 'ListTasks', 'ListContainerInstances', 'RegisterContainerInstance', 'DeregisterContainerInstance', 'DescribeContainerInstances', 'UpdateContainerInstancesState', 'UpdateContainerAgent', 'ListServicesByNamespace', 'SubmitTaskStateChange', 'SubmitContainerStateChange']);

const ecs: Record<string, Rule> = {
  DescribeClusters: (i, ctx) => ({ resources: (strs(i.clusters).length ? strs(i.clusters) : ['default']).map((c) => clusterArn(ctx, c)) }),
  CreateService: (i, ctx) => ({ resources: [ecsArn(ctx, `service/${clusterName(ctx, i.cluster)}/${str(i.serviceName) ?? ''}`)], keys: { 'ecs:cluster': [clusterArn(ctx, i.cluster)], 'ecs:task-definition': [taskDefArn(ctx, i.taskDefinition)] }, passRoles: str(i.role) ? [{ roleArn: str(i.role)!, service: 'ecs.amazonaws.com' }] : undefined }),
  UpdateService: (i, ctx) => ({ resources: [ecsArn(ctx, `service/${clusterName(ctx, i.cluster)}/${str(i.service) ?? ''}`)], keys: { 'ecs:cluster': [clusterArn(ctx, i.cluster)] } }),
  DeleteService: (i, ctx) => ({ resources: [ecsArn(ctx, `service/${clusterName(ctx, i.cluster)}/${str(i.service) ?? ''}`)], keys: { 'ecs:cluster': [clusterArn(ctx, i.cluster)] } }),
  DescribeServices: (i, ctx) => ({ resources: strs(i.services).map((s) => (s.startsWith('arn:') ? s : ecsArn(ctx, `service/${clusterName(ctx, i.cluster)}/${s}`))), keys: { 'ecs:cluster': [clusterArn(ctx, i.cluster)] } }),
  RunTask: (i, ctx) => ({ resources: [taskDefArn(ctx, i.taskDefinition)], keys: { 'ecs:cluster': [clusterArn(ctx, i.cluster)] }, passRoles: overrideRoles(i) }),
  StartTask: (i, ctx) => ({ resources: [taskDefArn(ctx, i.taskDefinition)], keys: { 'ecs:cluster': [clusterArn(ctx, i.cluster)] }, passRoles: overrideRoles(i) }),
  StopTask: (i, ctx) => ({ resources: [taskArn(ctx, i.cluster, i.task)], keys: { 'ecs:cluster': [clusterArn(ctx, i.cluster)] } }),
  DescribeTasks: (i, ctx) => ({ resources: strs(i.tasks).map((t) => taskArn(ctx, i.cluster, t)), keys: { 'ecs:cluster': [clusterArn(ctx, i.cluster)] } }),
  RegisterTaskDefinition: (i) => ({
    resources: ['*'],
    passRoles: [str(i.taskRoleArn), str(i.executionRoleArn)].filter((r): r is string => r !== undefined).map((roleArn) => ({ roleArn, service: 'ecs-tasks.amazonaws.com' })),
  }),
};
function taskArn(ctx: RequestContext, cluster: unknown, t: unknown): string {
  const v = str(t) ?? '';
  return v.startsWith('arn:') ? v : ecsArn(ctx, `task/${clusterName(ctx, cluster)}/${v}`);
}
function overrideRoles(i: Input): AccessTarget['passRoles'] {
  const o = (i.overrides ?? {}) as Record<string, unknown>;
  return [str(o.taskRoleArn), str(o.executionRoleArn)].filter((r): r is string => r !== undefined).map((roleArn) => ({ roleArn, service: 'ecs-tasks.amazonaws.com' }));
}
for (const op of ECS_CLUSTER_OPS) ecs[op] ??= (i, ctx) => ({ resources: [clusterArn(ctx, i.cluster)] });

function paramArn(ctx: RequestContext, name: string): string {
  return `arn:aws:ssm:${ctx.region}:${ctx.platform.accountId}:parameter/${name.replace(/^\//, '')}`;
}
const byName: Rule = (i, ctx) => ({ resources: [paramArn(ctx, str(i.Name) ?? '')] });
const ssm: Record<string, Rule> = {
  GetParameter: byName,
  PutParameter: byName,
  DeleteParameter: byName,
  GetParameterHistory: byName,
  LabelParameterVersion: byName,
  UnlabelParameterVersion: byName,
  GetParameters: (i, ctx) => ({ resources: strs(i.Names).map((n) => paramArn(ctx, n)) }),
  DeleteParameters: (i, ctx) => ({ resources: strs(i.Names).map((n) => paramArn(ctx, n)) }),
  GetParametersByPath: (i, ctx) => ({ resources: [paramArn(ctx, str(i.Path) ?? '/')] }),
};

function logGroupArn(ctx: RequestContext, group: unknown, stream?: unknown): string {
  const base = `arn:aws:logs:${ctx.region}:${ctx.platform.accountId}:log-group:${str(group) ?? ''}`;
  return str(stream) ? `${base}:log-stream:${str(stream)}` : `${base}:*`;
}
const logs: Record<string, Rule> = {};
for (const op of ['CreateLogGroup', 'DeleteLogGroup', 'PutRetentionPolicy', 'DeleteRetentionPolicy', 'DescribeLogStreams', 'FilterLogEvents', 'TagLogGroup', 'UntagLogGroup', 'ListTagsLogGroup', 'PutMetricFilter', 'DeleteMetricFilter', 'PutSubscriptionFilter', 'DeleteSubscriptionFilter']) {
  logs[op] = (i, ctx) => ({ resources: [logGroupArn(ctx, i.logGroupName)] });
}
for (const op of ['CreateLogStream', 'DeleteLogStream', 'PutLogEvents', 'GetLogEvents']) {
  logs[op] = (i, ctx) => ({ resources: [logGroupArn(ctx, i.logGroupName, i.logStreamName)] });
}

/** ELBv2, IAM: the ARN-valued members that name what the operation acts on. */
function arnMembers(...members: string[]): Rule {
  return (i) => {
    const found = members.flatMap((m) => (typeof i[m] === 'string' ? [i[m] as string] : strs(i[m])));
    return { resources: found.length ? found : ['*'] };
  };
}
const elbv2: Record<string, Rule> = {};
for (const op of ['DeleteLoadBalancer', 'ModifyLoadBalancerAttributes', 'SetSubnets', 'SetSecurityGroups', 'SetIpAddressType', 'CreateListener']) elbv2[op] = arnMembers('LoadBalancerArn');
for (const op of ['DeleteListener', 'ModifyListener', 'CreateRule', 'AddListenerCertificates', 'RemoveListenerCertificates']) elbv2[op] = arnMembers('ListenerArn');
for (const op of ['DeleteRule', 'ModifyRule']) elbv2[op] = arnMembers('RuleArn');
for (const op of ['DeleteTargetGroup', 'ModifyTargetGroup', 'ModifyTargetGroupAttributes', 'RegisterTargets', 'DeregisterTargets']) elbv2[op] = arnMembers('TargetGroupArn');
elbv2.AddTags = arnMembers('ResourceArns');
elbv2.RemoveTags = arnMembers('ResourceArns');

function iamArnOf(ctx: RequestContext, type: string, name: unknown): string {
  return `arn:aws:iam::${ctx.platform.accountId}:${type}/${str(name) ?? ''}`;
}
const iam: Record<string, Rule> = {};
for (const op of ['CreateUser', 'GetUser', 'DeleteUser', 'TagUser', 'UntagUser', 'ListUserTags', 'PutUserPolicy', 'GetUserPolicy', 'DeleteUserPolicy', 'ListUserPolicies', 'AttachUserPolicy', 'DetachUserPolicy', 'ListAttachedUserPolicies', 'PutUserPermissionsBoundary', 'DeleteUserPermissionsBoundary', 'CreateAccessKey', 'ListAccessKeys', 'UpdateAccessKey', 'DeleteAccessKey', 'ListGroupsForUser']) {
  iam[op] = (i, ctx) => ({ resources: [iamArnOf(ctx, 'user', i.UserName ?? ctx.principal.userName ?? '')] });
}
for (const op of ['CreateGroup', 'GetGroup', 'DeleteGroup', 'PutGroupPolicy', 'GetGroupPolicy', 'DeleteGroupPolicy', 'ListGroupPolicies', 'AttachGroupPolicy', 'DetachGroupPolicy', 'ListAttachedGroupPolicies', 'AddUserToGroup', 'RemoveUserFromGroup']) {
  iam[op] = (i, ctx) => ({ resources: [iamArnOf(ctx, 'group', i.GroupName)] });
}
for (const op of ['CreateRole', 'GetRole', 'DeleteRole', 'UpdateRole', 'UpdateRoleDescription', 'UpdateAssumeRolePolicy', 'TagRole', 'UntagRole', 'ListRoleTags', 'PutRolePolicy', 'GetRolePolicy', 'DeleteRolePolicy', 'ListRolePolicies', 'AttachRolePolicy', 'DetachRolePolicy', 'ListAttachedRolePolicies', 'PutRolePermissionsBoundary', 'DeleteRolePermissionsBoundary']) {
  iam[op] = (i, ctx) => ({ resources: [iamArnOf(ctx, 'role', i.RoleName)] });
}
for (const op of ['GetPolicy', 'DeletePolicy', 'CreatePolicyVersion', 'GetPolicyVersion', 'ListPolicyVersions', 'SetDefaultPolicyVersion', 'DeletePolicyVersion', 'ListEntitiesForPolicy']) iam[op] = arnMembers('PolicyArn');
iam.CreatePolicy = (i, ctx) => ({ resources: [iamArnOf(ctx, 'policy', i.PolicyName)] });
iam.SimulatePrincipalPolicy = arnMembers('PolicySourceArn');

const sts: Record<string, Rule> = {
  // As on AWS: anyone signed may ask who they are, and get a session of their own permissions.
  GetCallerIdentity: () => 'public',
  GetSessionToken: () => 'public',
  // The trust policy decides, with the caller's own policies where it names the account.
  AssumeRole: () => 'handler',
};

/** A stack's ARN pattern from a name (a stack id is an ARN already). */
function stackArnOf(ctx: RequestContext, name: unknown): string {
  const n = str(name) ?? '';
  return n.startsWith('arn:') ? n : `arn:aws:cloudformation:${ctx.region}:${ctx.platform.accountId}:stack/${n}/*`;
}
// Operations that start work on a stack name it, and may hand CloudFormation a service role.
const cloudformation: Record<string, Rule> = {};
for (const op of ['CreateStack', 'UpdateStack', 'DeleteStack', 'CreateChangeSet']) {
  cloudformation[op] = (i, ctx) => ({ resources: [stackArnOf(ctx, i.StackName)], passRoles: str(i.RoleARN) ? [{ roleArn: str(i.RoleARN)!, service: 'cloudformation.amazonaws.com' }] : undefined });
}

/**
 * ECR: an operation on one repository (`repositoryName`) acts on its ARN, which its repository
 * policy applies to (see resourcePolicyOf); tag operations on `resourceArn`; DescribeRepositories
 * on the repositories it names; the rest (GetAuthorizationToken, registry-wide settings) on `*`.
 */
const ecrRule: Rule = (i, ctx) => {
  const repoArn = (name: unknown) => `arn:aws:ecr:${ctx.region}:${ctx.platform.accountId}:repository/${str(name) ?? ''}`;
  if (typeof i.repositoryName === 'string') return { resources: [repoArn(i.repositoryName)] };
  if (typeof i.resourceArn === 'string') return { resources: [i.resourceArn] };
  if (Array.isArray(i.repositoryNames) && i.repositoryNames.length) return { resources: i.repositoryNames.slice(0, 100).map(repoArn) };
  return { resources: ['*'] };
};

/**
 * Application Auto Scaling: the scalable-target operations are authorized with the namespace and
 * dimension condition keys AWS defines (the target's ARN is random, so the resource is `*`);
 * tagging names the target's ARN; a RoleARN given is passed to the service.
 */
const scalingKeys = (i: Input) => ({ 'application-autoscaling:service-namespace': [str(i.ServiceNamespace) ?? ''], 'application-autoscaling:scalable-dimension': [str(i.ScalableDimension) ?? ''] });
const applicationautoscaling: Record<string, Rule> = {
  RegisterScalableTarget: (i) => ({ resources: ['*'], keys: scalingKeys(i), passRoles: str(i.RoleARN) ? [{ roleArn: str(i.RoleARN)!, service: 'application-autoscaling.amazonaws.com' }] : undefined }),
  DeregisterScalableTarget: (i) => ({ resources: ['*'], keys: scalingKeys(i) }),
  PutScalingPolicy: (i) => ({ resources: ['*'], keys: scalingKeys(i) }),
  DeleteScalingPolicy: (i) => ({ resources: ['*'], keys: scalingKeys(i) }),
  TagResource: arnMembers('ResourceARN'),
  UntagResource: arnMembers('ResourceARN'),
  ListTagsForResource: arnMembers('ResourceARN'),
};

// Cloud Map: the namespace or service an operation names by id (its ARN), with the
// servicediscovery:NamespaceName / ServiceName keys DiscoverInstances carries.
function sdArnOf(ctx: RequestContext, kind: 'namespace' | 'service', id: unknown): string {
  return `arn:aws:servicediscovery:${ctx.region}:${ctx.platform.accountId}:${kind}/${str(id) ?? '*'}`;
}
const servicediscovery: Record<string, Rule> = {
  CreateService: (i, ctx) => ({ resources: [sdArnOf(ctx, 'namespace', i.NamespaceId ?? (i.DnsConfig as Input | undefined)?.NamespaceId)] }),
  DiscoverInstances: (i) => ({ resources: ['*'], keys: { 'servicediscovery:namespacename': [str(i.NamespaceName) ?? ''], 'servicediscovery:servicename': [str(i.ServiceName) ?? ''] } }),
  TagResource: arnMembers('ResourceARN'),
  UntagResource: arnMembers('ResourceARN'),
  ListTagsForResource: arnMembers('ResourceARN'),
};
for (const op of ['GetNamespace', 'DeleteNamespace']) servicediscovery[op] = (i, ctx) => ({ resources: [sdArnOf(ctx, 'namespace', i.Id)] });
for (const op of ['GetService', 'UpdateService', 'DeleteService']) servicediscovery[op] = (i, ctx) => ({ resources: [sdArnOf(ctx, 'service', i.Id)] });
for (const op of ['RegisterInstance', 'DeregisterInstance', 'GetInstance', 'ListInstances']) servicediscovery[op] = (i, ctx) => ({ resources: [sdArnOf(ctx, 'service', i.ServiceId)] });

const RULES: Record<string, Record<string, Rule>> = { ecs, ssm, logs, elbv2, iam, sts, cloudformation, applicationautoscaling, servicediscovery };

/** How the gateway authorizes operation `op` of service `service` with this input. */
export function accessRuleFor(service: string, op: string, input: unknown, ctx: RequestContext): AccessRule {
  const i = (typeof input === 'object' && input !== null ? input : {}) as Input;
  const rule = RULES[service]?.[op] ?? (service === 'ecr' ? ecrRule : undefined);
  const base = rule ? rule(i, ctx) : { resources: ['*'] };
  if (base === 'public' || base === 'handler') return base;
  const keys = { ...requestTags(i), ...base.keys };
  return { ...base, resources: base.resources.length ? base.resources.slice(0, 100) : ['*'], keys };
}

/**
 * The resource-based policy of a resource, where Berth keeps one that IAM evaluation applies:
 * ECR repository policies (SetRepositoryPolicy). Undefined for everything else.
 */
export async function resourcePolicyOf(service: string, resource: string, ctx: RequestContext): Promise<string | undefined> {
  if (service !== 'ecr' || !resource.startsWith('arn:aws:ecr:')) return undefined;
  const parts = resource.split(':');
  const rest = parts.slice(5).join(':');
  if (parts[4] !== ctx.platform.accountId || !rest.startsWith('repository/')) return undefined;
  const found = await findRepository({ platform: ctx.platform, region: parts[3]! }, rest.slice('repository/'.length));
  return found?.value.policy;
}
