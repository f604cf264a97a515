/** CloudTrail's errors (the ones LookupEvents answers), in AWS's codes and words. */
import { ServiceError } from '../../errors.js';

export const cloudTrailErrors = {
  invalidLookupAttributes: (why: string) => new ServiceError('InvalidLookupAttributesException', why),
  invalidTimeRange: () => new ServiceError('InvalidTimeRangeException', 'Occurs if the timestamp values are not valid. Either the start time occurs after the end time, or the time range is outside the range of possible values.'),
  invalidMaxResults: () => new ServiceError('InvalidMaxResultsException', 'MaxResults must be between 1 and 50.'),
  invalidNextToken: () => new ServiceError('InvalidNextTokenException', 'Invalid NextToken: it does not come from a previous LookupEvents call with the same parameters.'),
};
