/**
 * AWS Systems Manager Parameter Store (awsJson1_1, target prefix AmazonSSM): String,
 * StringList and SecureString parameters with versions, labels, hierarchies and tags.
 * SecureString values are encrypted at rest under a master key kept outside the state store.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../types.js';
import { ssmHandlers } from './parameters.js';

/** The SSM Parameter Store service definition for the registry. */
export function ssmService(): ServiceDefinition {
  return {
    name: 'ssm',
    model: ServiceModel.load('ssm'),
    protocol: 'json',
    signingNames: ['ssm'],
    validationErrorCode: 'ValidationException',
    handlers: { ...ssmHandlers },
  };
}
