/** Application Auto Scaling's errors, as its API names them (awsJson1_1, `__type`). */
import { ServiceError } from '../../errors.js';

export const appScalingErrors = {
  validation: (msg: string) => new ServiceError('ValidationException', msg),
  /** The scalable target (or policy) named does not exist. */
  notFound: (msg: string) => new ServiceError('ObjectNotFoundException', msg),
  limitExceeded: (msg: string) => new ServiceError('LimitExceededException', msg),
  invalidNextToken: () => new ServiceError('InvalidNextTokenException', 'Invalid NextToken: pass the NextToken of the previous answer to the same request.'),
  /** TagResource and friends: no scalable target has this ARN. */
  resourceNotFound: (arn: string) => new ServiceError('ResourceNotFoundException', `Scalable target with ARN ${arn.slice(0, 200)} not found.`),
  tooManyTags: (msg: string) => new ServiceError('TooManyTagsException', msg),
};

/** The message AWS gives when no scalable target matches (PutScalingPolicy, DeregisterScalableTarget...). */
export function noTarget(namespace: string, resourceId: string, dimension: string): ServiceError {
  return appScalingErrors.notFound(`No scalable target registered for service namespace: ${namespace}, resource ID: ${resourceId.slice(0, 200)}, scalable dimension: ${dimension}`);
}
