/**
 * AWS Systems Manager Parameter Store (awsJson1_1, target prefix AmazonSSM): String,
 * StringList and SecureString parameters with versions, labels, hierarchies and tags, over the
 * parameters domain (src/domain/ssm/). SecureString values are sealed under the master key the
 * composition root loads once and passes in; it is kept outside the state store.
 */
import type { MasterKey } from '../../domain/ssm/masterKey.js';
import { ssmErrors } from '../../domain/ssm/errors.js';
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
    // Where the model lists the operation's own error for a member, AWS answers it instead of
    // the generic validation error.
    constraintErrors: {
      LabelParameterVersion: { Labels: ssmErrors.labelLimit },
      AddTagsToResource: { ResourceType: ssmErrors.invalidResourceType },
      RemoveTagsFromResource: { ResourceType: ssmErrors.invalidResourceType },
      ListTagsForResource: { ResourceType: ssmErrors.invalidResourceType },
      DescribeParameters: {
        'Filters.Key': () => ssmErrors.invalidFilterKey('The following filter key is not valid. Valid filter keys include: [Name, Type, KeyId].'),
        'Filters.Values': () => ssmErrors.invalidFilterValue('A filter needs from 1 to 50 values.'),
        'Filters.Values.member': () => ssmErrors.invalidFilterValue('Filter values must be from 1 to 1024 characters.'),
      },
    },
    handlers: { ...ssmHandlers(key) },
  };
}
