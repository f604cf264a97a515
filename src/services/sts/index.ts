/**
 * AWS STS (awsQuery): GetCallerIdentity, which people run first to check their setup.
 */
import type * as STS from '../../generated/sts.js';
import { ServiceModel } from '../../protocol/model.js';
import type { Handlers, ServiceDefinition } from '../types.js';

const handlers: Handlers<STS.Operations> = {
  async GetCallerIdentity(_input, ctx) {
    return { Account: ctx.platform.accountId, Arn: ctx.principal.arn, UserId: ctx.principal.userId };
  },
};

export function stsService(): ServiceDefinition {
  return {
    name: 'sts',
    model: ServiceModel.load('sts'),
    protocol: 'query',
    signingNames: ['sts'],
    validationErrorCode: 'ValidationError',
    handlers,
  };
}
