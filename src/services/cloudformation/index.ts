/**
 * AWS CloudFormation (awsQuery, version 2010-05-15): stacks, change sets, templates and
 * exports over the CloudFormation domain (src/domain/cloudformation/). The handlers record
 * operations; the stack worker (src/control/stacks/, a controller duty) performs them.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceInvoker } from '../../domain/invoker.js';
import type { Authorizer } from '../../domain/iam/authorizer.js';
import type { ServiceDefinition } from '../types.js';
import { cloudFormationHandlers } from './handlers.js';

/**
 * The CloudFormation API; `invoker` reaches the SSM API for SSM parameter types, `authorizer`
 * checks that a stack's service role (RoleARN) trusts CloudFormation.
 */
export function cloudFormationService(invoker: ServiceInvoker, authorizer: Authorizer): ServiceDefinition {
  return {
    name: 'cloudformation',
    model: ServiceModel.load('cloudformation'),
    protocol: 'query',
    signingNames: ['cloudformation'],
    validationErrorCode: 'ValidationError',
    bodyLimits: { CreateStack: 1_200_000, UpdateStack: 1_200_000, CreateChangeSet: 1_200_000, ValidateTemplate: 1_200_000, GetTemplateSummary: 1_200_000 },
    handlers: { ...cloudFormationHandlers(invoker, authorizer) },
  };
}
