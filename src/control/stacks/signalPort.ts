/**
 * What a provider sees of the signals a stack receives from outside (src/domain/cloudformation/
 * signals.ts): presigned URLs on Berth's endpoint for one resource (a WaitConditionHandle's, a
 * custom resource request's ResponseURL), what they have received, and a wait that wakes on each
 * signal for the stack (the store's change feed) and ends at a deadline on the platform clock.
 */
import type { Clock } from '../../clock.js';
import type { Scope } from '../../domain/platform.js';
import {
  RESPONSE_KIND,
  WAIT_SIGNAL_KIND,
  customResponse,
  discardCustomResponse,
  discardWaitSignals,
  presignedUrl,
  verifyPresigned,
  waitSignals,
  type CustomResponse,
  type SignalPurpose,
  type UrlSigner,
  type WaitSignal,
} from '../../domain/cloudformation/signals.js';

/** Where a stack's signal URLs point, and what signs them (filled in by the composition root). */
export interface SignalSettings {
  signer: UrlSigner;
  /** Berth's endpoint URL, once it listens. */
  endpoint(): Promise<string>;
}

/** A WaitConditionHandle, as its URL names it. */
export interface HandleRef {
  stackId: string;
  logicalId: string;
  id: string;
}

/** The signals port of one resource step (ProviderContext.signals). */
export interface StackSignals {
  /** A presigned URL for this resource: its handle (`wait`) or one request's ResponseURL (`response`), refused after `expiresAtMs`. */
  url(purpose: SignalPurpose, id: string, expiresAtMs: number): Promise<string>;
  /** The handle a URL names, if it is a wait condition handle URL this Berth signed (expired or not). */
  handleOf(url: string): HandleRef | undefined;
  /** The signals a handle has received. */
  waitSignals(handle: HandleRef): Promise<WaitSignal[]>;
  /** Forgets a handle's signals (it is being deleted). */
  discardWaitSignals(handle: HandleRef): Promise<void>;
  /** The response to one of this resource's requests, if it has come. */
  response(requestId: string): Promise<CustomResponse | undefined>;
  /** Forgets a response once used. */
  discardResponse(requestId: string): Promise<void>;
  /**
   * Calls `check` until it answers something, again on each signal the stack receives and at
   * least every `everyMs`; undefined once the clock reaches `deadlineMs`. Throws when the
   * worker stops.
   */
  waitFor<T>(check: () => Promise<T | undefined>, deadlineMs: number, everyMs?: number): Promise<T | undefined>;
}

/** The signals port for resource `logicalId` of stack `stackId`. */
export function stackSignals(scope: Scope, clock: Clock, stop: AbortSignal, settings: SignalSettings | undefined, stackId: string, logicalId: string): StackSignals {
  const needSettings = (): SignalSettings => {
    if (!settings) throw new Error('This Berth serves no signal URLs (no endpoint or key was given to the stack worker)');
    return settings;
  };
  const store = scope.platform.store;
  return {
    async url(purpose, id, expiresAtMs) {
      const s = needSettings();
      return presignedUrl(s.signer, await s.endpoint(), { purpose, stackId, logicalId, id, expires: Math.ceil(expiresAtMs / 1000) });
    },
    handleOf(url) {
      if (!settings) return undefined;
      try {
        const t = verifyPresigned(settings.signer, new URL(url), 0);
        return t.purpose === 'wait' ? { stackId: t.stackId, logicalId: t.logicalId, id: t.id } : undefined;
      } catch {
        return undefined;
      }
    },
    waitSignals: (h) => waitSignals(scope, h.stackId, h.logicalId, h.id),
    discardWaitSignals: (h) => discardWaitSignals(scope, h.stackId, h.logicalId, h.id),
    response: (requestId) => customResponse(scope, stackId, logicalId, requestId),
    discardResponse: (requestId) => discardCustomResponse(scope, stackId, logicalId, requestId),
    async waitFor(check, deadlineMs, everyMs) {
      for (;;) {
        if (stop.aborted) throw new Error('Berth stopped while waiting for a signal');
        let wake = () => {};
        const woken = new Promise<void>((resolve) => (wake = resolve));
        // Watching from before the check: a signal stored meanwhile still wakes the wait.
        const unwatch = store.watch(await store.revision(), (c) => {
          if ((c.kind === WAIT_SIGNAL_KIND || c.kind === RESPONSE_KIND) && c.value !== null) wake();
        });
        try {
          const got = await check();
          if (got !== undefined) return got;
          const left = deadlineMs - clock.now();
          if (left <= 0) return undefined;
          const done = new AbortController();
          const onStop = () => done.abort();
          stop.addEventListener('abort', onStop, { once: true });
          await Promise.race([woken, clock.sleep(Math.min(left, everyMs ?? left), done.signal)]);
          done.abort();
          stop.removeEventListener('abort', onStop);
        } finally {
          unwatch();
        }
      }
    },
  };
}
