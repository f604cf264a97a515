/**
 * Amazon ECS (awsJson1_1, target prefix AmazonEC2ContainerServiceV20141113): the control-plane
 * model of clusters, task definitions, services, tasks and container instances.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../types.js';
import { clusterHandlers } from './clusters.js';
import { tagHandlers } from './tags.js';

export function ecsService(): ServiceDefinition {
  return {
    name: 'ecs',
    model: ServiceModel.load('ecs'),
    protocol: 'json',
    signingNames: ['ecs'],
    validationErrorCode: 'InvalidParameterException',
    handlers: { ...clusterHandlers, ...tagHandlers },
  };
}
