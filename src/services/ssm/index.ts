/**
 * AWS Systems Manager Parameter Store (awsJson1_1, target prefix AmazonSSM): String,
 * StringList and SecureString parameters with versions, labels, hierarchies and tags, over the
 * parameters domain (src/domain/ssm/). SecureString values are sealed under the master key the
 * composition root loads once and passes in; it is kept outside the state store.
 */
import type { MasterKey } from '../../domain/ssm/masterKey.js';
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../types.js';
import { ssmHandlers } from './parameters.js';

/** The SSM Parameter Store service definition for the registry; SecureStrings are sealed under `key`. */
export function ssmService(key: MasterKey): ServiceDefinition {
  return {
    name: 'ssm',
    model: ServiceModel.load('ssm'),
    protocol: 'json',
    signingNames: ['ssm'],
    validationErrorCode: 'ValidationException',
    handlers: { ...ssmHandlers(key) },
  };
}
