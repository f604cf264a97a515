/**
 * Amazon CloudWatch Logs (awsJson1_1, target prefix Logs_20140328): log groups, streams and
 * events stored in `<dataDir>/logs.db`, with a background retention sweep.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { Platform, ServiceDefinition } from '../types.js';
import { closeLogStore, logStoreFor, sweepRetention } from './core.js';
import { logsHandlers } from './handlers.js';

/** How often the retention sweep runs (wall-clock ms); it compares against the injected clock. */
export const RETENTION_SWEEP_INTERVAL_MS = 1000;

/** The hook name under which `start` publishes an immediate sweep: `() => number` (events deleted). */
export const SWEEP_HOOK = 'logs.sweepRetention';

/** The CloudWatch Logs service definition for the registry. */
export function logsService(): ServiceDefinition {
  return {
    name: 'logs',
    model: ServiceModel.load('logs'),
    protocol: 'json',
    signingNames: ['logs'],
    validationErrorCode: 'InvalidParameterException',
    handlers: { ...logsHandlers },
    async reset(platform: Platform) {
      logStoreFor(platform).reset();
    },
    async start(platform: Platform) {
      logStoreFor(platform);
      const sweep = () => {
        try {
          return sweepRetention(platform);
        } catch (e) {
          console.error('logs retention sweep failed:', e);
          return 0;
        }
      };
      platform.hooks[SWEEP_HOOK] = sweep;
      const timer = setInterval(sweep, RETENTION_SWEEP_INTERVAL_MS);
      timer.unref();
      return {
        async stop() {
          clearInterval(timer);
          delete platform.hooks[SWEEP_HOOK];
          closeLogStore(platform);
        },
      };
    },
  };
}

export { appendLogEvents, defaultLogGroupFor, readLogEventsAfter, LogGroupMissingError } from './api.js';
export { sweepRetention } from './core.js';
