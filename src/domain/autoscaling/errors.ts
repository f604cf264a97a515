/** Auto Scaling's errors, as its API names them (awsQuery, `<ErrorResponse>`). */
import { ServiceError } from '../../errors.js';

export const asgErrors = {
  validation: (msg: string) => new ServiceError('ValidationError', msg),
  alreadyExists: (what: string, name: string) => new ServiceError('AlreadyExists', `${what} by this name already exists - A ${what.toLowerCase()} with the name ${name.slice(0, 255)} already exists`),
  limitExceeded: (msg: string) => new ServiceError('LimitExceeded', msg),
  inUse: (msg: string) => new ServiceError('ResourceInUse', msg),
  scalingInProgress: (msg: string) => new ServiceError('ScalingActivityInProgress', msg),
  groupNotFound: (name: string) => new ServiceError('ValidationError', `AutoScalingGroup name not found - AutoScalingGroup ${name.slice(0, 255)} not found`),
  launchConfigurationNotFound: (name: string) => new ServiceError('ValidationError', `Launch configuration name not found - Launch configuration ${name.slice(0, 255)} not found`),
};
