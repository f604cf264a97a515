/**
 * Elastic Load Balancing v2 (awsQuery, version 2015-12-01): application load balancers, target
 * groups, listeners, rules, targets and tags, over the ELBv2 domain (src/domain/elbv2/); the data
 * plane in src/lb serves what the records say.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { DataPlaneView } from '../../domain/elbv2/dataPlane.js';
import type { ServiceDefinition } from '../types.js';
import { accountHandlers } from './account.js';
import { listenerHandlers } from './listeners.js';
import { loadBalancerHandlers } from './loadBalancers.js';
import { tagHandlers } from './tags.js';
import { targetGroupHandlers } from './targetGroups.js';
import { targetHandlers } from './targets.js';

/** The ELBv2 API; `plane` is the load balancer's data plane (target health, ports in use). */
export function elbv2Service(plane: DataPlaneView): ServiceDefinition {
  return {
    name: 'elbv2',
    model: ServiceModel.load('elbv2'),
    protocol: 'query',
    signingNames: ['elasticloadbalancing'],
    validationErrorCode: 'ValidationError',
    handlers: { ...accountHandlers, ...loadBalancerHandlers(plane), ...targetGroupHandlers, ...listenerHandlers(plane), ...targetHandlers(plane), ...tagHandlers },
  };
}
