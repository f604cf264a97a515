/** Cloud Map's errors, as its API names them (awsJson1_1). */
import { ServiceError } from '../../errors.js';

const cut = (s: string) => s.slice(0, 128);

export const sdErrors = {
  invalidInput: (msg: string) => new ServiceError('InvalidInput', msg),
  namespaceNotFound: (id: string) => new ServiceError('NamespaceNotFound', `Namespace not found: ${cut(id)}`),
  serviceNotFound: (id: string) => new ServiceError('ServiceNotFound', `Service not found: ${cut(id)}`),
  instanceNotFound: (id: string) => new ServiceError('InstanceNotFound', `Instance not found: ${cut(id)}`),
  operationNotFound: (id: string) => new ServiceError('OperationNotFound', `Operation not found: ${cut(id)}`),
  resourceNotFound: (arn: string) => new ServiceError('ResourceNotFoundException', `Resource not found: ${cut(arn)}`),
  duplicateRequest: (msg: string) => new ServiceError('DuplicateRequest', msg),
  namespaceExists: (name: string, id: string) => new ServiceError('NamespaceAlreadyExists', `Namespace with name ${cut(name)} already exists (${id}).`, 400, { NamespaceId: id }),
  serviceExists: (name: string, id: string, arn: string) => new ServiceError('ServiceAlreadyExists', `Service with name ${cut(name)} already exists in the namespace (${id}).`, 400, { ServiceId: id, ServiceArn: arn }),
  inUse: (msg: string) => new ServiceError('ResourceInUse', msg),
  limit: (msg: string) => new ServiceError('ResourceLimitExceeded', msg),
  tooManyTags: (msg: string) => new ServiceError('TooManyTagsException', msg),
};
