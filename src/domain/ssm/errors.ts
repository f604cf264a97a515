/**
 * SSM Parameter Store's error catalog: every error the parameters domain and its API handlers
 * throw is made here, with the codes AWS uses.
 */
import { ServiceError } from '../../errors.js';

export const ssmErrors = {
  validation: (msg: string) => new ServiceError('ValidationException', msg),
  notFound: (name?: string) =>
    new ServiceError('ParameterNotFound', name ? `Parameter ${name} not found.` : 'The parameter could not be found. Verify the name and try again.'),
  alreadyExists: () =>
    new ServiceError('ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.'),
  versionNotFound: (name: string, selector: string) =>
    new ServiceError('ParameterVersionNotFound', `Systems Manager could not find version ${selector} of ${name}. Verify the version and try again.`),
  maxVersions: (name: string) =>
    new ServiceError(
      'ParameterMaxVersionLimitExceeded',
      `Parameter ${name} already has 100 versions and its oldest version has a label. Remove the label from the oldest version (UnlabelParameterVersion) and try again.`,
    ),
  labelLimit: () =>
    new ServiceError('ParameterVersionLabelLimitExceeded', 'A parameter version can have a maximum of ten labels. Move one or more labels to another version and try again.'),
  invalidAllowedPattern: (msg: string) => new ServiceError('InvalidAllowedPatternException', msg),
  patternMismatch: (pattern: string) =>
    new ServiceError('ParameterPatternMismatchException', `Parameter value failed to satisfy the AllowedPattern: ${pattern}`),
  hierarchyLevels: () =>
    new ServiceError('HierarchyLevelLimitExceededException', 'A parameter name can have at most 15 levels of hierarchy (14 slashes after the first).'),
  unsupportedType: (t: string) => new ServiceError('UnsupportedParameterType', `Parameter type '${t}' is not supported: use String, StringList or SecureString.`),
  invalidFilterKey: (msg: string) => new ServiceError('InvalidFilterKey', msg),
  invalidFilterOption: (msg: string) => new ServiceError('InvalidFilterOption', msg),
  invalidFilterValue: (msg: string) => new ServiceError('InvalidFilterValue', msg),
  invalidNextToken: () => new ServiceError('InvalidNextToken', 'The specified token is not valid: use a NextToken this API returned.'),
  invalidResourceType: () =>
    new ServiceError('InvalidResourceType', 'The resource type is not valid: Berth provides Parameter Store only, so ResourceType must be Parameter.'),
  invalidResourceId: () => new ServiceError('InvalidResourceId', 'The resource ID is not valid. Verify that you entered the correct ID and try again.'),
  tooManyTags: () => new ServiceError('TooManyTagsError', 'A parameter can have at most 50 tags.'),
  cannotDecrypt: (name: string, version: number) =>
    new ServiceError(
      'InvalidKeyId',
      `Version ${version} of SecureString ${name} cannot be decrypted with the current master key; was BERTH_MASTER_KEY or <data-dir>/master.key changed?`,
    ),
};
