/**
 * Amazon CloudWatch Logs (awsJson1_1, target prefix Logs_20140328): the API of log groups,
 * streams and events over the logs domain (src/domain/logs/). The event store is opened by the
 * composition root and passed in, which also runs the retention sweep.
 */
import type { LogEventStore } from '../../domain/logs/eventStore.js';
import type { LogQueries } from '../../domain/logs/queries.js';
import type { SubscriptionEndpoints } from '../../domain/logs/subscriptions.js';
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../types.js';
import { logsHandlers } from './handlers.js';

/**
 * The CloudWatch Logs service definition for the registry, over the running Berth's event store;
 * `endpoints`: the http(s) URLs destinations may deliver to (the operator's allow-list).
 */
export function logsService(events: LogEventStore, queries: LogQueries, endpoints: SubscriptionEndpoints): ServiceDefinition {
  return {
    name: 'logs',
    model: ServiceModel.load('logs'),
    protocol: 'json',
    signingNames: ['logs'],
    validationErrorCode: 'InvalidParameterException',
    // PutLogEvents takes up to 1 MiB of events; JSON escaping can make the request a few times that.
    bodyLimits: { PutLogEvents: 6 * 1024 * 1024 },
    handlers: { ...logsHandlers(events, queries, endpoints) },
  };
}
