/**
 * Target registration as the service controller needs it: put a task's host:port behind a
 * target group, read its health, take it out again. `TargetRegistry` is the seam between the
 * controller and the load balancer, so the controller can be tested with a fake registry and
 * the ELBv2 implementation (`elbv2TargetRegistry`, over src/services/elbv2/targets.ts) plugs in.
 */
import type { Platform } from '../services/types.js';
import { deregisterTarget, deregistrationDelaySeconds, registerTarget, targetHealth } from '../services/elbv2/targets.js';
import type { TargetHealth } from './types.js';

/** A target as a load balancer sees it: an address (or instance id) and a port. */
export interface TargetRef {
  id: string;
  port: number;
}

/**
 * What the controller does with target groups. Implementations must be idempotent:
 * registering a registered target and deregistering an unknown or draining one are no-ops.
 * `health` answers `none` for a target that is not (or no longer) registered.
 */
export interface TargetRegistry {
  register(platform: Platform, targetGroupArn: string, target: TargetRef): Promise<void>;
  deregister(platform: Platform, targetGroupArn: string, target: TargetRef): Promise<void>;
  health(platform: Platform, targetGroupArn: string, target: TargetRef): Promise<TargetHealth>;
  /** The target group's deregistration delay (seconds). */
  deregistrationDelaySeconds(platform: Platform, targetGroupArn: string): Promise<number>;
}

/**
 * The registry backed by Berth's ELBv2 service. Health states map one to one, except: a target
 * that is not registered (`unused` / Target.NotRegistered, e.g. after it drained) is `none`, and
 * `unavailable` (health checks disabled: the load balancer routes to it) counts as `healthy`.
 */
export const elbv2TargetRegistry: TargetRegistry = {
  register: (platform, tg, t) => registerTarget(platform, tg, t),
  deregister: (platform, tg, t) => deregisterTarget(platform, tg, t),
  async health(platform, tg, t) {
    const h = await targetHealth(platform, tg, t);
    if (h.reason === 'Target.NotRegistered') return 'none';
    if (h.state === 'unavailable') return 'healthy';
    return h.state as TargetHealth;
  },
  deregistrationDelaySeconds: (platform, tg) => deregistrationDelaySeconds(platform, tg),
};
