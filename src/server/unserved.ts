/**
 * Requests for AWS services Berth does not provide (EC2, DynamoDB, S3, Lambda...): a deploy script
 * pointed at Berth with `--endpoint-url` may call them, and should learn at once that the service
 * is not here, in words naming it, rather than a puzzling "unknown operation".
 *
 * What the service is comes from what the request shows before its body is read: the
 * credential-scope service of its signature and, for awsJson, the X-Amz-Target prefix. The
 * answer is shaped as that service's protocol expects errors (awsJson, awsQuery, EC2's own
 * query errors, REST-XML or REST-JSON), so the SDKs and the aws CLI report its code and message:
 * `UnsupportedService`, HTTP 501 (which no SDK retries).
 */
import { ServiceError } from '../errors.js';

/** How an unserved service's client expects an error to look. */
export type ErrorShape = 'json' | 'query' | 'ec2' | 'rest-xml' | 'rest-json';

/** The error code of every answer to a service Berth does not provide. */
export const UNSUPPORTED_SERVICE = 'UnsupportedService';

/** Names of well-known services by credential-scope (signing) name, for the message. */
const NAMES_BY_SCOPE: Readonly<Record<string, string>> = {
  ec2: 'Amazon EC2',
  s3: 'Amazon S3',
  dynamodb: 'Amazon DynamoDB',
  sqs: 'Amazon SQS',
  sns: 'Amazon SNS',
  lambda: 'AWS Lambda',
  iam: 'AWS IAM',
  kms: 'AWS KMS',
  secretsmanager: 'AWS Secrets Manager',
  cloudformation: 'AWS CloudFormation',
  autoscaling: 'Amazon EC2 Auto Scaling',
  monitoring: 'Amazon CloudWatch',
  events: 'Amazon EventBridge',
  states: 'AWS Step Functions',
  route53: 'Amazon Route 53',
  cloudfront: 'Amazon CloudFront',
  rds: 'Amazon RDS',
  elasticache: 'Amazon ElastiCache',
  ecr: 'Amazon ECR',
  apigateway: 'Amazon API Gateway',
  kinesis: 'Amazon Kinesis',
  firehose: 'Amazon Data Firehose',
  acm: 'AWS Certificate Manager',
  elasticfilesystem: 'Amazon EFS',
  servicediscovery: 'AWS Cloud Map',
  'application-autoscaling': 'Application Auto Scaling',
  eks: 'Amazon EKS',
};

/** Names by X-Amz-Target prefix, for awsJson requests whose scope says less (or nothing). */
const NAMES_BY_TARGET: Readonly<Record<string, string>> = {
  DynamoDB_20120810: 'Amazon DynamoDB',
  DynamoDBStreams_20120810: 'Amazon DynamoDB Streams',
  AmazonSQS: 'Amazon SQS',
  TrentService: 'AWS KMS',
  secretsmanager: 'AWS Secrets Manager',
  AmazonEC2ContainerRegistry_V20150921: 'Amazon ECR',
  AWSEvents: 'Amazon EventBridge',
  AWSStepFunctions: 'AWS Step Functions',
  Kinesis_20131202: 'Amazon Kinesis',
  Firehose_20150804: 'Amazon Data Firehose',
  CertificateManager: 'AWS Certificate Manager',
  AnyScaleFrontendService: 'Application Auto Scaling',
  Route53AutoNaming_v20170314: 'AWS Cloud Map',
  GraniteServiceVersion20100801: 'Amazon CloudWatch',
};

/** REST services whose errors are XML (`<Error><Code>`); other REST services answer JSON. */
const REST_XML_SCOPES = new Set(['s3', 'route53', 'cloudfront', 's3-outposts']);

/** What a request shows of the service it is for. */
export interface UnservedRequest {
  /** The credential-scope service of its signature ('' when it could not be read). */
  scope: string;
  /** The X-Amz-Target header (awsJson), if any. */
  target?: string;
  /** The query Action, when the URL carries one. */
  action?: string;
  /** How the request itself is encoded: awsJson, a form (awsQuery or EC2), or anything else (REST). */
  encoding: 'json' | 'form' | 'rest';
}

/** The display name of a service Berth does not provide, from what the request shows. */
export function unservedName(r: UnservedRequest): string {
  const prefix = r.target ? r.target.slice(0, Math.max(0, r.target.lastIndexOf('.'))) : '';
  return NAMES_BY_TARGET[prefix] ?? NAMES_BY_SCOPE[r.scope] ?? (r.scope ? `the '${r.scope.slice(0, 64)}' service` : prefix ? `the service of X-Amz-Target '${prefix.slice(0, 100)}'` : 'that service');
}

/** Whether the X-Amz-Target prefix is one of a known service Berth does not provide. */
export function isKnownUnservedTarget(target: string): boolean {
  return NAMES_BY_TARGET[target.slice(0, Math.max(0, target.lastIndexOf('.')))] !== undefined;
}

/** The error shape the service's clients parse. */
export function errorShapeOf(r: UnservedRequest): ErrorShape {
  if (r.encoding === 'json') return 'json';
  if (r.encoding === 'form') return r.scope === 'ec2' ? 'ec2' : 'query';
  return REST_XML_SCOPES.has(r.scope) ? 'rest-xml' : 'rest-json';
}

/**
 * The one answer for a service Berth does not provide: `UnsupportedService` (501), naming the
 * service, what the request showed of it, and what this endpoint serves (`served`, by name).
 */
export function unsupportedService(r: UnservedRequest, served: readonly string[]): ServiceError {
  const shown: string[] = [];
  if (r.scope) shown.push(`credential scope '${r.scope.slice(0, 64)}'`);
  if (r.target) shown.push(`X-Amz-Target ${r.target.slice(0, 200)}`);
  if (r.action) shown.push(`action ${r.action.slice(0, 100)}`);
  const list = served.length > 1 ? `${served.slice(0, -1).join(', ')} and ${served[served.length - 1]}` : (served[0] ?? 'nothing');
  return new ServiceError(
    UNSUPPORTED_SERVICE,
    `Berth does not provide ${unservedName(r)}${shown.length ? ` (${shown.join(', ')})` : ''}: this endpoint serves only ${list}.`,
    501,
  );
}
