/**
 * CloudWatch's error catalog: the awsQuery codes AWS answers with (the gateway names them by
 * their model shapes on awsJson and CBOR, with the code in `x-amzn-query-error`).
 */
import { ServiceError } from '../../errors.js';

export const cloudwatchErrors = {
  invalidParameterValue: (msg: string) => new ServiceError('InvalidParameterValue', msg),
  invalidParameterCombination: (msg: string) => new ServiceError('InvalidParameterCombination', msg),
  missingParameter: (msg: string) => new ServiceError('MissingParameter', msg),
  invalidNextToken: () => new ServiceError('InvalidNextToken', 'The service cannot process the NextToken: use a token this API returned.'),
  alarmNotFound: (names: string[]) => new ServiceError('ResourceNotFound', `${names.length === 1 ? 'Alarm' : 'Alarms'} ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''} not found; nothing was changed.`, 404),
  limitExceeded: (msg: string) => new ServiceError('LimitExceeded', msg),
  invalidFormat: (msg: string) => new ServiceError('InvalidFormat', msg),
};
