/**
 * CloudWatch Logs' error catalog: every error the logs domain and its API handlers throw is made
 * here, with the codes and messages AWS uses.
 */
import { ServiceError } from '../../errors.js';

export const logsErrors = {
  invalidParameter: (msg: string) => new ServiceError('InvalidParameterException', msg),
  groupNotFound: () => new ServiceError('ResourceNotFoundException', 'The specified log group does not exist.'),
  streamNotFound: () => new ServiceError('ResourceNotFoundException', 'The specified log stream does not exist.'),
  resourceNotFound: (msg = 'The specified resource does not exist.') => new ServiceError('ResourceNotFoundException', msg),
  groupExists: () => new ServiceError('ResourceAlreadyExistsException', 'The specified log group already exists'),
  streamExists: () => new ServiceError('ResourceAlreadyExistsException', 'The specified log stream already exists'),
  invalidToken: () => new ServiceError('InvalidParameterException', 'The specified nextToken is invalid: use a token this API returned.'),
  limitExceeded: (msg: string) => new ServiceError('LimitExceededException', msg),
  operationAborted: (msg: string) => new ServiceError('OperationAbortedException', msg),
};
