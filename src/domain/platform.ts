/**
 * What every domain operation runs against. One `Platform` per running Berth, built by the
 * composition root (src/berth.ts); a `Scope` adds the region an operation works in, since every
 * record is keyed by region first and regions are separate as on AWS.
 *
 * API handlers pass their request context (which is a `Scope`) straight to the domain;
 * controllers and data planes make their own scopes.
 */
import type { Clock } from '../clock.js';
import type { Store } from '../store/types.js';

export interface Platform {
  /** The state store: the only truth about every record. */
  store: Store;
  /** Time, and the timers of every background loop (see src/clock.ts). */
  clock: Clock;
  /** The 12-digit account id that appears in every ARN. */
  accountId: string;
  /** The region used when a caller names none (agents, the CLI). */
  defaultRegion: string;
  /** Directory of the persistent state (a temp dir with --ephemeral). */
  dataDir: string;
}

/** A platform and the region an operation works in. */
export interface Scope {
  platform: Platform;
  region: string;
}
