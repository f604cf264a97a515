/**
 * Elastic Load Balancing v2 (awsQuery, version 2015-12-01): application load balancers, target
 * groups, listeners, rules, targets and tags. The control plane writes records to the store;
 * the data plane in src/lb serves them (started by `start`), and `GET /_berth/metrics` exposes
 * its metrics in Prometheus text.
 */
import { ServiceModel } from '../../protocol/model.js';
import { LbRuntime, runtimeOf } from '../../lb/runtime.js';
import { ConflictError } from '../../store/types.js';
import type { Handler, ServiceDefinition } from '../types.js';
import { listenerHandlers } from './listeners.js';
import { loadBalancerHandlers } from './loadBalancers.js';
import { tagHandlers } from './tags.js';
import { targetGroupHandlers } from './targetGroups.js';
import { deregisterTarget, deregistrationDelaySeconds, describeTargetGroup, registerTarget, targetHandlers, targetHealth } from './targets.js';

export function elbv2Service(): ServiceDefinition {
  return {
    name: 'elbv2',
    model: ServiceModel.load('elbv2'),
    protocol: 'query',
    signingNames: ['elasticloadbalancing'],
    validationErrorCode: 'ValidationError',
    handlers: retryOnConflict({ ...loadBalancerHandlers, ...targetGroupHandlers, ...listenerHandlers, ...targetHandlers, ...tagHandlers }),
    async start(platform) {
      // The same interface targets.ts exports, for services that prefer late binding.
      platform.hooks['elbv2.targets'] = { registerTarget, deregisterTarget, targetHealth, deregistrationDelaySeconds, describeTargetGroup };
      // What ECS CreateService looks for to check a service's target group (src/services/ecs/services.ts).
      platform.hooks['elbv2.describeTargetGroup'] = (arn: string) => describeTargetGroup(platform, arn);
      const rt = new LbRuntime(platform);
      await rt.start();
      return rt;
    },
    routes(platform) {
      return [
        (req, res, url) => {
          if (url.pathname !== '/_berth/metrics' || req.method !== 'GET') return false;
          const body = runtimeOf(platform)?.prometheus() ?? '';
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
          res.end(body);
          return true;
        },
      ];
    },
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
  for (const [name, h] of Object.entries(handlers)) {
    if (!h) continue;
    out[name] = async (input, ctx) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await h(input, ctx);
        } catch (e) {
          if (!(e instanceof ConflictError) || attempt >= 10) throw e;
        }
      }
    };
  }
  return out;
}
