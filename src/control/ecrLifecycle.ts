/**
 * The lifecycle sweep: every `intervalMs` on the platform clock, each repository with a
 * lifecycle policy, in every region, has the images its policy expires deleted
 * (`applyLifecyclePolicy` in src/domain/ecr/lifecycle.ts; ECR applies policies within a day,
 * Berth within the interval). Their blobs go later, with garbage collection.
 */
import { regionsWithRepositories } from '../domain/ecr/images.js';
import { applyLifecyclePolicy } from '../domain/ecr/lifecycle.js';
import { listRepositories } from '../domain/ecr/repositories.js';
import type { Platform } from '../domain/platform.js';
import { startLoop, type Loop } from './loop.js';

/** How often policies are applied by default: every 5 minutes. */
export const DEFAULT_LIFECYCLE_INTERVAL_MS = 5 * 60 * 1000;

/** Applies every repository's lifecycle policy once. Returns how many images were expired. */
export async function sweepLifecycle(platform: Platform): Promise<number> {
  let expired = 0;
  for (const region of await regionsWithRepositories(platform)) {
    const scope = { platform, region };
    let after: string | undefined;
    for (;;) {
      const page = await listRepositories(scope, { after, limit: 500 });
      for (const repo of page.items) if (repo.lifecyclePolicy) expired += (await applyLifecyclePolicy(scope, repo)).length;
      if (!page.more) break;
      after = page.items[page.items.length - 1]!.name;
    }
  }
  return expired;
}

export function startLifecycleSweep(platform: Platform, opts: { intervalMs?: number; onError: (e: unknown) => void }): Loop {
  return startLoop(platform.clock, opts.intervalMs ?? DEFAULT_LIFECYCLE_INTERVAL_MS, () => sweepLifecycle(platform), opts.onError);
}
