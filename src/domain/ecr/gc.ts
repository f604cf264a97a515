/**
 * Garbage collection of blobs no image references, run by src/control/registryGc.ts on the
 * platform clock, and expiry of idle upload sessions.
 *
 * Why a blob some image references is never removed, even while pushes go on:
 * - A pass starts at T0 and may only remove blobs last used before `cutoff = T0 - grace`. It
 *   lists such candidates first, then reads every image's references (T1 >= T0), and drops the
 *   referenced ones; it removes the rest one by one with `removeIfUnusedSince(digest, cutoff)`,
 *   and stops (leaving the rest to the next pass) once `grace / 4` has passed since T0.
 * - A push (./images.ts) touches each blob it references at tp, then commits at tc, and touches
 *   again first if tc - tp would exceed `grace / 4`.
 * - If the push committed before the reference read saw its image, the blob is referenced and
 *   stays. Otherwise tc > T0, so tp > tc - grace/4 > T0 - grace = cutoff: the blob's last use is
 *   after the cutoff, and `removeIfUnusedSince` keeps it if the touch came before the removal,
 *   while a touch after the removal fails and so does the push (MANIFEST_BLOB_UNKNOWN), which
 *   the client retries by uploading the blob again. Nothing references a removed blob.
 * - A blob just uploaded (an upload in progress is not a blob yet) or found by a HEAD has been
 *   used within the grace period, so a push that follows it soon has it.
 * Replicas sharing the blob directory need clocks that agree to well within the grace period.
 */
import type { Platform } from '../platform.js';
import { referencedBlobs } from './images.js';
import type { Registry } from './registry.js';

/** Most removal candidates one pass considers (the rest wait for the next pass). */
export const MAX_CANDIDATES_PER_PASS = 100_000;

export interface GcReport {
  /** Blobs looked at. */
  blobs: number;
  removed: number;
  /** Unused for the grace period but referenced by an image. */
  referenced: number;
  /** Used within the grace period. */
  recent: number;
  /** Upload sessions dropped for being idle longer than the expiry. */
  uploadsExpired: number;
  /** Whether the pass stopped early (its time was up); the next one goes on. */
  partial: boolean;
}

/** One garbage-collection pass (see the file comment for why it is safe against pushes). */
export async function collectGarbage(platform: Platform, reg: Registry): Promise<GcReport> {
  const { clock } = platform;
  const grace = reg.settings.gcGraceMs;
  const t0 = clock.now();
  const cutoff = t0 - grace;
  const report: GcReport = { blobs: 0, removed: 0, referenced: 0, recent: 0, uploadsExpired: 0, partial: false };
  const candidates: string[] = [];
  for await (const b of reg.blobs.list()) {
    report.blobs++;
    if (b.lastUsed >= cutoff) report.recent++;
    else if (candidates.length < MAX_CANDIDATES_PER_PASS) candidates.push(b.digest);
    else report.partial = true;
  }
  // Read after listing: an image committed from here on touched its blobs after the cutoff.
  const referenced = candidates.length ? await referencedBlobs(platform) : new Set<string>();
  for (const digest of candidates) {
    if (referenced.has(digest)) {
      report.referenced++;
      continue;
    }
    if (clock.now() - t0 > grace / 4) {
      report.partial = true;
      break;
    }
    if (await reg.blobs.removeIfUnusedSince(digest, cutoff)) report.removed++;
    else report.recent++;
  }
  const idleBefore = clock.now() - reg.settings.uploadExpiryMs;
  for await (const u of reg.blobs.uploads()) {
    if (u.updatedAt < idleBefore && (await reg.blobs.cancel(u.id))) report.uploadsExpired++;
  }
  return report;
}
