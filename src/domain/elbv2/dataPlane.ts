/**
 * What the ELBv2 domain needs to know from the load balancer's data plane (src/lb/), which
 * implements this port: target health is observed there (ALB semantics: registration lives in
 * the store, health in the load balancer), and so is which host ports it already serves and
 * how many requests a draining target still has in flight (which decides when its record may
 * go; see `drainFinished` in ./targets.ts). The data plane only answers: it never writes the
 * store. The composition root (src/berth.ts) hands the running data plane to whoever needs it.
 */
import type * as ELB from '../../generated/elbv2.js';
import type { TargetRecord } from './records.js';

/** A target's health as the data plane last observed it. */
export interface ObservedTargetHealth {
  state: 'initial' | 'healthy' | 'unhealthy';
  reason?: ELB.TargetHealthReasonEnum;
  description?: string;
}

/** Where a listener stands on the data plane (see `DataPlaneView.listenerState`). */
export type ListenerState = 'served' | 'pending' | 'failed';

/** The data plane's answers about targets and ports (see the module doc). */
export interface DataPlaneView {
  /**
   * The health of a registered target (the incarnation `rec.registeredAt`) of a target group
   * the data plane checks, or undefined when it has not picked the target up yet.
   */
  targetHealth(tgArn: string, rec: TargetRecord): ObservedTargetHealth | undefined;
  /** Whether the data plane serves a listener on this port right now. */
  serving(port: number): boolean;
  /**
   * Where the listener on this port stands: `served`; `failed` when its port could not be bound
   * (the error is in the data plane's log); `pending` until the data plane has applied it (a
   * data-plane process starting, a haproxy reloading). A load balancer is `active` once all its
   * listeners are served.
   */
  listenerState(port: number): ListenerState;
  /** Whether a listener could bind this port on the data plane's host right now. */
  canBind(port: number): Promise<boolean>;
  /**
   * Requests in flight to a draining target (the incarnation `rec.registeredAt`), once the data
   * plane sends it no new ones; undefined while it may still do so (it has not applied the
   * deregistration yet, or does not know the target).
   */
  requestsInFlight(tgArn: string, rec: TargetRecord): number | undefined;
}

/**
 * A data plane that runs nothing (for tests of the records alone): every target stays
 * `initial`, and nothing is ever in flight, so a draining target may go at once.
 */
export const noDataPlane: DataPlaneView = {
  targetHealth: () => undefined,
  serving: () => false,
  listenerState: () => 'pending',
  canBind: async () => true,
  requestsInFlight: () => 0,
};
