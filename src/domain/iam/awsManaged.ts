/**
 * The AWS managed policies Berth provides (`arn:aws:iam::aws:policy/...`): the job-function
 * ones people attach first and the ECS ones templates name. Their documents are Berth's own
 * statements of the same intent over the services Berth serves (not copies of AWS's text).
 * They cannot be changed or deleted; their attachment counts are computed when listed.
 */
import type { ManagedPolicyRecord } from './records.js';

const doc = (...statements: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const READ = ['ecs:Describe*', 'ecs:List*', 'elasticloadbalancing:Describe*', 'logs:Describe*', 'logs:Get*', 'logs:FilterLogEvents', 'logs:ListTagsForResource', 'logs:ListTagsLogGroup', 'ssm:Describe*', 'ssm:Get*', 'ssm:List*', 'iam:Get*', 'iam:List*', 'sts:GetCallerIdentity'];

const DOCUMENTS: Record<string, { path: string; document: string; description: string }> = {
  AdministratorAccess: { path: '/', document: doc({ Effect: 'Allow', Action: '*', Resource: '*' }), description: 'Full access to every Berth API.' },
  PowerUserAccess: { path: '/', document: doc({ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' }, { Effect: 'Allow', Action: ['iam:CreateServiceLinkedRole', 'iam:ListRoles'], Resource: '*' }), description: 'Everything but managing users, roles and policies.' },
  ReadOnlyAccess: { path: '/', document: doc({ Effect: 'Allow', Action: READ, Resource: '*' }), description: 'Read every resource, change nothing.' },
  AmazonECS_FullAccess: { path: '/', document: doc({ Effect: 'Allow', Action: ['ecs:*', 'elasticloadbalancing:*', 'logs:*', 'ssm:GetParameter*', 'iam:PassRole', 'iam:ListRoles'], Resource: '*' }), description: 'Deploy and run services on ECS, with their load balancers and logs.' },
  AmazonSSMReadOnlyAccess: { path: '/', document: doc({ Effect: 'Allow', Action: ['ssm:Describe*', 'ssm:Get*', 'ssm:List*'], Resource: '*' }), description: 'Read parameters.' },
  CloudWatchLogsReadOnlyAccess: { path: '/', document: doc({ Effect: 'Allow', Action: ['logs:Describe*', 'logs:Get*', 'logs:List*', 'logs:FilterLogEvents', 'logs:StartQuery', 'logs:StopQuery', 'logs:TestMetricFilter'], Resource: '*' }), description: 'Read logs.' },
  'service-role/AmazonECSTaskExecutionRolePolicy': { path: '/service-role/', document: doc({ Effect: 'Allow', Action: ['ecr:GetAuthorizationToken', 'ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }), description: 'What the agent needs to pull a task\'s images and ship its logs.' },
};

const CREATED = '2026-01-01T00:00:00.000Z';

/** The ARNs of every AWS managed policy Berth provides. */
export const AWS_MANAGED_ARNS = Object.keys(DOCUMENTS).map((n) => `arn:aws:iam::aws:policy/${n}`);

/** Whether an ARN is in the AWS managed namespace (`arn:aws:iam::aws:policy/...`). */
export function isAwsManaged(arn: string): boolean {
  return arn.startsWith('arn:aws:iam::aws:policy/');
}

/** The AWS managed policy with this ARN, or undefined. */
export function awsManagedPolicy(arn: string): ManagedPolicyRecord | undefined {
  if (!isAwsManaged(arn)) return undefined;
  const full = arn.slice('arn:aws:iam::aws:policy/'.length);
  const d = Object.hasOwn(DOCUMENTS, full) ? DOCUMENTS[full] : undefined;
  if (!d) return undefined;
  const name = full.slice(full.lastIndexOf('/') + 1);
  return { name, path: d.path, id: `ANPA${name.toUpperCase().replace(/[^A-Z0-9]/g, '').padEnd(17, 'X').slice(0, 17)}`, arn, description: d.description, defaultVersionId: 'v1', versions: [{ versionId: 'v1', document: d.document, created: CREATED }], nextVersion: 2, attachments: 0, created: CREATED, updated: CREATED, tags: [] };
}
