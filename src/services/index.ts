/**
 * The registry of AWS services Berth speaks. Adding a service: a folder under src/services/
 * exporting a `ServiceDefinition` factory, and one line here.
 */
import type { ServiceDefinition } from './types.js';
import { ecsService } from './ecs/index.js';
import { stsService } from './sts/index.js';

export function allServices(): ServiceDefinition[] {
  return [ecsService(), stsService()];
}
