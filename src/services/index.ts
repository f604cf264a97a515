/**
 * The registry of AWS services Berth speaks. Adding a service: a folder under src/services/
 * exporting a `ServiceDefinition` factory, and one line here.
 */
import type { ServiceDefinition } from './types.js';
import { ecsService } from './ecs/index.js';
import { stsService } from './sts/index.js';
import { elbv2Service } from './elbv2/index.js';
import { logsService } from './logs/index.js';
import { ssmService } from './ssm/index.js';
import { berthAgentService } from './berthagent/index.js';

export function allServices(): ServiceDefinition[] {
  return [ecsService(), stsService(), elbv2Service(), logsService(), ssmService(), berthAgentService()];
}
