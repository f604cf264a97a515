/** ECS's error catalog: every error the ECS handlers throw is made here. */
import { ServiceError } from '../../errors.js';

export const ecsErrors = {
  /** A request AWS rejects as the caller's fault, mostly task definition content. */
  client: (msg: string) => new ServiceError('ClientException', msg),
  invalidParameter: (msg: string) => new ServiceError('InvalidParameterException', msg),
  clusterNotFound: () => new ServiceError('ClusterNotFoundException', 'Cluster not found.'),
  clusterContainsInstances: () =>
    new ServiceError('ClusterContainsContainerInstancesException', 'The Cluster cannot be deleted while Container Instances are active or draining.'),
  clusterContainsServices: () =>
    new ServiceError('ClusterContainsServicesException', 'The Cluster cannot be deleted while Services are active.'),
  clusterContainsTasks: () => new ServiceError('ClusterContainsTasksException', 'The Cluster cannot be deleted while Tasks are active.'),
  serviceNotFound: () => new ServiceError('ServiceNotFoundException', 'Service not found.'),
  serviceNotActive: () => new ServiceError('ServiceNotActiveException', 'Service was not ACTIVE.'),
  resourceNotFound: (msg = 'The specified resource could not be found.') => new ServiceError('ResourceNotFoundException', msg),
  invalidToken: () => new ServiceError('InvalidParameterException', 'Invalid token: the nextToken is not one this API returned.'),
  taskDefinitionNotFound: () => new ServiceError('ClientException', 'Unable to describe task definition.'),
  /** Services and tasks name a task definition that does not exist (AWS: InvalidParameterException). */
  taskDefinitionMissing: (ref: string) =>
    new ServiceError('InvalidParameterException', `TaskDefinition not found: '${ref}' names no registered task definition revision in this region.`),
  taskDefinitionInactive: (ref: string) =>
    new ServiceError('InvalidParameterException', `TaskDefinition is inactive: '${ref}' was deregistered; register a new revision or name an ACTIVE one.`),
  taskNotFound: () => new ServiceError('InvalidParameterException', 'The referenced task was not found.'),
  containerInstanceNotFound: (ref: string) =>
    new ServiceError('InvalidParameterException', `Container instance '${ref}' was not found in this cluster.`),
  noContainerInstances: () => new ServiceError('InvalidParameterException', 'No Container Instances were found in your cluster.'),
  attributeLimit: (msg: string) => new ServiceError('AttributeLimitExceededException', msg),
  taskSetNotFound: () => new ServiceError('TaskSetNotFoundException', 'The specified task set does not exist.'),
  limitExceeded: (msg: string) => new ServiceError('LimitExceededException', msg),
  resourceInUse: (msg: string) => new ServiceError('ResourceInUseException', msg),
  targetNotFound: (msg: string) => new ServiceError('TargetNotFoundException', msg),
};
