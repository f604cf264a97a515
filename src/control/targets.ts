/**
 * Target registration as the service controller needs it: put a task's host:port behind a
 * target group, read its health, take it out again. `TargetRegistry` is the controller's port to
 * the load balancer, so the controller can be tested with a fake registry; `elbv2Targets` is
 * the implementation over the ELBv2 domain and the data plane's health.
 */
import type { DataPlaneView } from '../domain/elbv2/dataPlane.js';
import { findTg } from '../domain/elbv2/lookup.js';
import { KIND, targetKey, type TargetRecord } from '../domain/elbv2/records.js';
import { deregisterTargets, deregistrationDelaySeconds, registerTargets, scopeOfArn, targetHealthOf, type TargetRef } from '../domain/elbv2/targets.js';
import { targetGroupUsage } from '../domain/elbv2/usage.js';
import type { Platform } from '../domain/platform.js';
import type { TargetHealth } from './types.js';

export type { TargetRef } from '../domain/elbv2/targets.js';

/**
 * What the controller does with target groups. Implementations must be idempotent:
 * registering a registered target and deregistering an unknown or draining one are no-ops.
 * `health` answers `none` for a target that is not (or no longer) registered.
 */
export interface TargetRegistry {
  register(targetGroupArn: string, target: TargetRef): Promise<void>;
  deregister(targetGroupArn: string, target: TargetRef): Promise<void>;
  health(targetGroupArn: string, target: TargetRef): Promise<TargetHealth>;
  /** The target group's deregistration delay (seconds). */
  deregistrationDelaySeconds(targetGroupArn: string): Promise<number>;
}

/**
 * The registry over Berth's ELBv2 records and its data plane. Health states map one to one,
 * except: a target that is not registered (e.g. after it drained) is `none`, and `unavailable`
 * (health checks disabled: the load balancer routes to it) counts as `healthy`.
 */
export function elbv2Targets(platform: Platform, plane: DataPlaneView): TargetRegistry {
  return {
    register: (tg, t) => registerTargets(scopeOfArn(platform, tg), tg, [{ Id: t.id, Port: t.port }]),
    async deregister(tg, t) {
      try {
        await deregisterTargets(scopeOfArn(platform, tg), tg, [{ Id: t.id, Port: t.port }]);
      } catch (e) {
        if ((e as { code?: string }).code !== 'InvalidTarget') throw e;
      }
    },
    async health(tgArn, t) {
      const s = scopeOfArn(platform, tgArn);
      const tg = await findTg(s, tgArn);
      if (!tg) return 'none';
      const rec = await platform.store.get<TargetRecord>(KIND.target, targetKey(s.region, tg.value.name, t.id, t.port));
      if (!rec || rec.value.tgArn !== tgArn) return 'none';
      const h = targetHealthOf(tg.value, rec.value, (await targetGroupUsage(s)).has(tgArn), plane);
      return h.state === 'unavailable' ? 'healthy' : (h.state as TargetHealth);
    },
    deregistrationDelaySeconds: (tg) => deregistrationDelaySeconds(scopeOfArn(platform, tg), tg),
  };
}
