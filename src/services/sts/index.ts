/**
 * AWS STS (awsQuery): GetCallerIdentity for every kind of principal; AssumeRole (the role's trust
 * policy decides, with the caller's own policies where it names the account; session policies,
 * duration up to the role's maximum, session tags, source identity, external id);
 * GetSessionToken (a user's own permissions, as temporary credentials). Sessions are stored
 * with their secret sealed and their token hashed (src/domain/iam/credentials.ts).
 */
import type * as STS from '../../generated/sts.js';
import { ServiceError } from '../../errors.js';
import { ServiceModel } from '../../protocol/model.js';
import type { Handlers, ServiceDefinition } from '../types.js';
import type { MasterKey } from '../../domain/ssm/masterKey.js';
import type { Authorizer } from '../../domain/iam/authorizer.js';
import { accessDeniedMessage } from '../../domain/iam/policy/evaluate.js';
import { issueSession, SESSION_SECONDS } from '../../domain/iam/credentials.js';
import { getRole } from '../../domain/iam/identities.js';

const ROLE_ARN_RE = /^arn:aws:iam::(\d{12}):role\/(?:[\u0021-\u007e]*\/)?([\w+=,.@-]{1,64})$/;
const SESSION_NAME_RE = /^[\w+=,.@-]{2,64}$/;

function validation(message: string): ServiceError {
  return new ServiceError('ValidationError', message);
}

export function stsService(master: MasterKey, authorizer: Authorizer): ServiceDefinition {
  const handlers: Handlers<STS.Operations> = {
    async GetCallerIdentity(_input, ctx) {
      return { Account: ctx.platform.accountId, Arn: ctx.principal.arn, UserId: ctx.principal.userId };
    },

    async AssumeRole(i, ctx) {
      const caller = ctx.principal;
      if (caller.kind === 'root') throw new ServiceError('AccessDenied', 'Roles may not be assumed by root accounts.', 403);
      const m = ROLE_ARN_RE.exec(i.RoleArn);
      if (!m || m[1] !== ctx.platform.accountId) throw validation(`${i.RoleArn.slice(0, 256)} is not the ARN of a role in this account.`);
      if (!SESSION_NAME_RE.test(i.RoleSessionName)) throw validation(`1 validation error detected: Value '${i.RoleSessionName.slice(0, 64)}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
      const role = await getRole(ctx, m[2]!).catch(() => undefined);
      const deny = (reason: Parameters<typeof accessDeniedMessage>[1]) =>
        new ServiceError('AccessDenied', accessDeniedMessage({ principal: { arn: caller.arn, accountId: caller.accountId }, action: 'sts:AssumeRole', resource: i.RoleArn, keys: new Map() }, reason), 403);
      if (!role || role.arn !== i.RoleArn) throw deny('no-identity-allow');
      const seconds = i.DurationSeconds ?? SESSION_SECONDS.default;
      // Role chaining (a role session assuming a role) is capped at one hour, as on AWS.
      const max = caller.kind === 'assumed-role' ? 3600 : role.maxSessionDuration;
      if (seconds < SESSION_SECONDS.min || seconds > max) throw validation(`The requested DurationSeconds exceeds the MaxSessionDuration set for this role (${max} s), or is below ${SESSION_SECONDS.min} s.`);
      const keys: Record<string, string[]> = { 'aws:sourceip': ctx.sourceIp ? [ctx.sourceIp] : [], 'aws:currenttime': [new Date(ctx.platform.clock.now()).toISOString()] };
      if (i.ExternalId) keys['sts:externalid'] = [i.ExternalId];
      if (i.SourceIdentity) keys['sts:sourceidentity'] = [i.SourceIdentity];
      if (i.RoleSessionName) keys['sts:rolesessionname'] = [i.RoleSessionName];
      for (const t of i.Tags ?? []) keys[`aws:requesttag/${t.Key.toLowerCase()}`] = [t.Value];
      if (i.Tags?.length) keys['aws:tagkeys'] = i.Tags.map((t) => t.Key);
      const d = await authorizer.decide(caller, { action: 'sts:AssumeRole', resource: role.arn, keys, resourcePolicy: authorizer.compile(role.trustPolicy, 'trust') });
      if (!d.allowed) throw new ServiceError('AccessDenied', accessDeniedMessage(d.request, d.reason), 403);
      if (i.Tags?.length) {
        const t = await authorizer.decide(caller, { action: 'sts:TagSession', resource: role.arn, keys, resourcePolicy: authorizer.compile(role.trustPolicy, 'trust') });
        if (!t.allowed) throw new ServiceError('AccessDenied', accessDeniedMessage(t.request, t.reason), 403);
      }
      // Session policies: the inline one and managed ones by ARN, resolved now.
      if ((i.PolicyArns?.length ?? 0) > 10) throw validation('At most 10 managed session policies may be passed.');
      const sessionPolicies: string[] = [];
      if (i.Policy) {
        authorizer.compile(i.Policy);
        sessionPolicies.push(i.Policy);
      }
      for (const p of i.PolicyArns ?? []) {
        const doc = p.arn ? await authorizer.managedDocument(p.arn) : undefined;
        if (!doc) throw validation(`The session policy ${String(p.arn).slice(0, 256)} does not exist.`);
        sessionPolicies.push(doc);
      }
      const creds = await issueSession(ctx, master, seconds, { roleArn: role.arn, roleName: role.name, roleId: role.id, sessionName: i.RoleSessionName, sessionPolicies, sourceIdentity: i.SourceIdentity, tags: i.Tags ?? [] });
      return {
        Credentials: { AccessKeyId: creds.accessKeyId, SecretAccessKey: creds.secretAccessKey, SessionToken: creds.sessionToken, Expiration: new Date(creds.expiration) },
        AssumedRoleUser: { Arn: `arn:aws:sts::${ctx.platform.accountId}:assumed-role/${role.name}/${i.RoleSessionName}`, AssumedRoleId: `${role.id}:${i.RoleSessionName}` },
        SourceIdentity: i.SourceIdentity,
      };
    },

    async GetSessionToken(i, ctx) {
      const caller = ctx.principal;
      if (caller.kind !== 'user' || caller.expiration) throw new ServiceError('AccessDenied', 'Cannot call GetSessionToken with session credentials; use an IAM user\'s access keys.', 403);
      const seconds = i.DurationSeconds ?? 43200;
      if (seconds < SESSION_SECONDS.min || seconds > 129600) throw validation('DurationSeconds must be between 900 and 129600.');
      const creds = await issueSession(ctx, master, seconds, { userName: caller.userName, sessionPolicies: [], tags: [] });
      return { Credentials: { AccessKeyId: creds.accessKeyId, SecretAccessKey: creds.secretAccessKey, SessionToken: creds.sessionToken, Expiration: new Date(creds.expiration) } };
    },
  };
  return {
    name: 'sts',
    model: ServiceModel.load('sts'),
    protocol: 'query',
    signingNames: ['sts'],
    validationErrorCode: 'ValidationError',
    handlers,
  };
}
