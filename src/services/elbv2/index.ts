/**
 * Elastic Load Balancing v2 (awsQuery, version 2015-12-01): application load balancers, target
 * groups, listeners, rules, targets and tags. The handlers write records to the store; the data
 * plane in src/lb serves them.
 */
import { ServiceModel } from '../../protocol/model.js';
import { retrying } from '../../domain/mutate.js';
import type { DataPlaneView } from '../../domain/elbv2/dataPlane.js';
import type { Handler, ServiceDefinition } from '../types.js';
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
    handlers: retryOnConflict({ ...loadBalancerHandlers, ...targetGroupHandlers, ...listenerHandlers(plane), ...targetHandlers(plane), ...tagHandlers }),
  };
}

/**
 * Handlers read, check, then commit with expected revisions; a concurrent write makes the commit
 * fail whole (nothing applied). Running the handler again re-reads and re-checks, so callers see
 * AWS's answer (e.g. PriorityInUse) instead of an internal error.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function retryOnConflict(handlers: Record<string, Handler<any, any> | undefined>): Record<string, Handler<any, any> | undefined> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const out: Record<string, Handler<any, any> | undefined> = {};
  for (const [name, h] of Object.entries(handlers)) if (h) out[name] = (input, ctx) => retrying(`${name}`, () => h(input, ctx));
  return out;
}
