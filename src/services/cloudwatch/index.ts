/**
 * Amazon CloudWatch (metrics and alarms), on the three protocols its model lists, in its
 * clients' order of preference: Smithy RPC v2 CBOR, awsJson 1.0 (target prefix
 * GraniteServiceVersion20100801; the aws CLI v1 here speaks it) and awsQuery (signing name
 * `monitoring`; @aws-sdk/client-cloudwatch 3.901.0 speaks it). The alarm controller
 * (src/control/alarms.ts) evaluates the alarms these handlers store.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../types.js';
import { cloudwatchHandlers } from './handlers.js';

/** The CloudWatch service definition for the registry. */
export function cloudwatchService(): ServiceDefinition {
  return {
    name: 'cloudwatch',
    model: ServiceModel.load('cloudwatch'),
    protocol: 'cbor',
    alsoSpeaks: ['json', 'query'],
    signingNames: ['monitoring'],
    validationErrorCode: 'InvalidParameterValue',
    handlers: { ...cloudwatchHandlers() },
  };
}
