/**
 * Amazon ECS (awsJson1_1, target prefix AmazonEC2ContainerServiceV20141113): the API of
 * clusters, task definitions, services, tasks and container instances over the ECS domain
 * (src/domain/ecs/). Running and replacing service tasks is the service controller's job
 * (src/control/), started by the composition root like every background loop.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../types.js';
import { capacityProviderHandlers } from './capacityProviders.js';
import { clusterHandlers } from './clusters.js';
import { containerInstanceHandlers } from './containerInstances.js';
import { serviceHandlers } from './services.js';
import { settingHandlers } from './settings.js';
import { tagHandlers } from './tags.js';
import { taskDefinitionHandlers } from './taskDefinitions.js';
import { taskHandlers } from './tasks.js';
import { taskSetHandlers } from './taskSets.js';

export function ecsService(): ServiceDefinition {
  return {
    name: 'ecs',
    model: ServiceModel.load('ecs'),
    protocol: 'json',
    signingNames: ['ecs'],
    validationErrorCode: 'InvalidParameterException',
    // Task definitions are validated as a whole and every problem with one is a ClientException.
    validationErrorCodes: { RegisterTaskDefinition: 'ClientException' },
    // ECS's own limit on a task definition is 64 KiB.
    bodyLimits: { RegisterTaskDefinition: 64 * 1024 },
    handlers: {
      ...clusterHandlers,
      ...tagHandlers,
      ...taskDefinitionHandlers,
      ...serviceHandlers,
      ...taskHandlers,
      ...containerInstanceHandlers,
      ...settingHandlers,
      ...taskSetHandlers,
      ...capacityProviderHandlers,
    },
  };
}
