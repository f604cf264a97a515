/** ECS's error catalog: every error the ECS handlers throw is made here. */
import { ServiceError } from '../../protocol/errors.js';

export const ecsErrors = {
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
};
