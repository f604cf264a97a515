/**
 * CloudFormation's error catalog: the codes and messages AWS answers, made in one place. Almost
 * everything is `ValidationError` (400), as on AWS, with the message saying what and where.
 */
import { ServiceError } from '../../errors.js';

export const cfnErrors = {
  validation: (msg: string) => new ServiceError('ValidationError', msg),
  /** A template that cannot be read or is not shaped as a template: AWS's "Template format error". */
  templateFormat: (msg: string) => new ServiceError('ValidationError', `Template format error: ${msg}`),
  /** A template whose intrinsic functions or references cannot be resolved: AWS's "Template error". */
  template: (msg: string) => new ServiceError('ValidationError', `Template error: ${msg}`),
  stackNotFound: (name: string) => new ServiceError('ValidationError', `Stack with id ${name} does not exist`),
  alreadyExists: (name: string) => new ServiceError('AlreadyExistsException', `Stack [${name}] already exists`),
  changeSetExists: (name: string) => new ServiceError('AlreadyExistsException', `ChangeSet [${name}] already exists`),
  changeSetNotFound: (name: string) => new ServiceError('ChangeSetNotFound', `ChangeSet [${name}] does not exist`, 404),
  insufficientCapabilities: (caps: string, resources: string[]) =>
    new ServiceError('InsufficientCapabilitiesException', `Requires capabilities : [${caps}]${resources.length ? ` (resources ${resources.slice(0, 5).join(', ')})` : ''}`),
  invalidChangeSetStatus: (msg: string) => new ServiceError('InvalidChangeSetStatus', msg),
  noUpdates: () => new ServiceError('ValidationError', 'No updates are to be performed.'),
  limitExceeded: (msg: string) => new ServiceError('LimitExceededException', msg),
  tokenAlreadyExists: (msg: string) => new ServiceError('TokenAlreadyExistsException', msg),
  inProgress: (name: string, status: string) => new ServiceError('ValidationError', `Stack:${name} is in ${status} state and can not be updated.`),
};
