/**
 * Retention policies: how long a group keeps its events. A group with a policy keeps events
 * whose timestamp is at most `retentionInDays` days before now (by the platform clock); older
 * events are refused by PutLogEvents (`expiredLogEventEndIndex`) and deleted by the sweep, which
 * the composition root runs every {@link RETENTION_SWEEP_INTERVAL_MS} on the platform clock.
 */
import { logsErrors } from './errors.js';
import type { LogEventStore, LogGroupRow } from './eventStore.js';
import { requireGroup } from './groups.js';
import { DAY_MS } from './limits.js';

/** Retention values PutRetentionPolicy accepts, in days. */
export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** How often the sweep runs (platform clock). */
export const RETENTION_SWEEP_INTERVAL_MS = 1_000;

/** Sets a group's retention; `days` must be one of {@link RETENTION_DAYS}. */
export function putRetentionPolicy(events: LogEventStore, region: string, groupName: string, days: number): void {
  if (!RETENTION_DAYS.includes(days)) {
    throw logsErrors.invalidParameter(
      `1 validation error detected: Value '${days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`,
    );
  }
  events.setRetention(requireGroup(events, region, groupName).id, days);
}

/** Removes a group's retention: it keeps its events for ever again. */
export function deleteRetentionPolicy(events: LogEventStore, region: string, groupName: string): void {
  events.setRetention(requireGroup(events, region, groupName).id, undefined);
}

/** The oldest timestamp the group keeps at `now`: events before it are expired. -Infinity without a policy. */
export function retentionCutoff(group: Pick<LogGroupRow, 'retentionInDays'>, now: number): number {
  return group.retentionInDays ? now - group.retentionInDays * DAY_MS : -Infinity;
}

/**
 * One pass of the sweep: deletes expired events of every group with a policy, in every region
 * (at most 50,000 per group per pass, so a large backlog goes over several passes without
 * blocking the process for long). Returns how many events went.
 */
export function sweepRetention(events: LogEventStore, now: number): number {
  let n = 0;
  for (const g of events.groupsWithRetention()) n += events.deleteOlderThan(g.id, retentionCutoff(g, now));
  return n;
}
