/**
 * Amazon CloudWatch Logs (awsJson1_1, target prefix Logs_20140328): log groups, streams and
 * events stored in `<dataDir>/logs.db`.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../types.js';
import { logsHandlers } from './handlers.js';

/** The CloudWatch Logs service definition for the registry. */
export function logsService(): ServiceDefinition {
  return {
    name: 'logs',
    model: ServiceModel.load('logs'),
    protocol: 'json',
    signingNames: ['logs'],
    validationErrorCode: 'InvalidParameterException',
    // PutLogEvents takes up to 1 MiB of events; JSON escaping can make the request a few times that.
    bodyLimits: { PutLogEvents: 6 * 1024 * 1024 },
    handlers: { ...logsHandlers },
  };
}

export { appendLogEvents, defaultLogGroupFor, readLogEventsAfter, LogGroupMissingError } from './api.js';
