/**
 * SSM Parameter Store handlers: they check what belongs to the API (argument combinations,
 * paths, tokens, filters, tagging resource types), call the parameters domain
 * (src/domain/ssm/) and map its records to the API's shapes. SecureString values are sealed
 * and opened there, under the master key this API is given.
 */
import type * as SSM from '../../generated/ssm.js';
import { ServiceError } from '../../errors.js';
import { ssmErrors } from '../../domain/ssm/errors.js';
import type { MasterKey } from '../../domain/ssm/masterKey.js';
import { canonicalName, paramArn, parseRef } from '../../domain/ssm/names.js';
import {
  deleteParameter,
  findParameter,
  labelParameterVersion,
  latestLabelled,
  latestVersion,
  listParameters,
  putParameter,
  resolveParameter,
  tagParameter,
  unlabelParameterVersion,
  untagParameter,
  versionValue,
  type ParameterRecord,
  type Resolved,
  type VersionRecord,
} from '../../domain/ssm/parameters.js';
import type { Handlers, RequestContext } from '../types.js';
import { compileFilters, invalidPath, legacyFilters, underPath, validPath } from './filters.js';

function tokenFor(name: string): string {
  return Buffer.from(JSON.stringify({ n: name })).toString('base64url');
}

function fromToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { n?: unknown };
    if (typeof v.n === 'string') return v.n;
  } catch {
    /* fall through */
  }
  throw ssmErrors.invalidNextToken();
}

function toMetadata(ctx: RequestContext, p: ParameterRecord): SSM.ParameterMetadata {
  const v = latestVersion(p);
  return {
    Name: canonicalName(p.name),
    ARN: paramArn(ctx, p.name),
    Type: v.type,
    KeyId: v.keyId,
    LastModifiedDate: new Date(v.lastModified),
    LastModifiedUser: v.lastModifiedUser,
    Description: v.description,
    AllowedPattern: v.allowedPattern,
    Version: v.version,
    Tier: v.tier,
    Policies: [],
    DataType: v.dataType,
  };
}

/** The version a reference resolved to, or ParameterNotFound / ParameterVersionNotFound as GetParameter answers. */
function found(r: Resolved): Extract<Resolved, { found: true }> {
  if (r.found) return r;
  if (r.missing === 'version') throw ssmErrors.versionNotFound(r.display, r.selector!.slice(1));
  throw ssmErrors.notFound(r.display);
}

/**
 * The parameter a reference names as a whole (history, deletion), or ParameterNotFound: a
 * version or label selector names no parameter here.
 */
async function wholeParameter(ctx: RequestContext, raw: string): Promise<{ region: string; parameter: ParameterRecord }> {
  const r = await resolveParameter(ctx, raw);
  if (!r.found) throw ssmErrors.notFound(r.display);
  if (r.selector !== undefined) throw ssmErrors.notFound(raw);
  return r;
}

/** For batch calls: a name the API refuses is reported with the others (undefined); anything else still fails the call. */
function invalidName(e: unknown): undefined {
  if (e instanceof ServiceError) return undefined;
  throw e;
}

/** The stored parameter name a tagging call's ResourceId (name or ARN) refers to. */
async function taggedName(ctx: RequestContext, type: string, id: string): Promise<string> {
  if (type !== 'Parameter') throw ssmErrors.invalidResourceType();
  let ref;
  try {
    ref = parseRef(ctx, id);
  } catch {
    throw ssmErrors.invalidResourceId();
  }
  if (ref.region !== ctx.region || ref.selector !== undefined) throw ssmErrors.invalidResourceId();
  for (const n of ref.names) {
    const p = await findParameter(ctx, n);
    if (p) return p.name;
  }
  throw ssmErrors.invalidResourceId();
}

/** The Parameter Store operations Berth implements (the rest of SSM answers NotImplemented); SecureStrings under `key`. */
export function ssmHandlers(key: MasterKey): Handlers<SSM.Operations> {
  /** A version as Get* calls return it, under `name` (GetParameter: as asked; listings: the stored name, root-level without its slash). */
  const toParameter = (ctx: RequestContext, region: string, p: ParameterRecord, v: VersionRecord, decrypt: boolean, selector?: string, name = canonicalName(p.name)): SSM.Parameter => ({
    Name: name,
    Type: v.type,
    Value: versionValue(key, region, p.name, v, decrypt),
    Version: v.version,
    Selector: selector,
    LastModifiedDate: new Date(v.lastModified),
    ARN: paramArn({ platform: ctx.platform, region }, p.name),
    DataType: v.dataType,
  });

  return {
    async PutParameter(input, ctx) {
      if (input.Type !== undefined && !['String', 'StringList', 'SecureString'].includes(input.Type)) throw ssmErrors.unsupportedType(input.Type);
      if (input.Overwrite && input.Tags?.length) {
        throw ssmErrors.validation(
          "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
        );
      }
      const r = await putParameter(ctx, key, {
        name: input.Name,
        value: input.Value,
        type: input.Type,
        description: input.Description,
        allowedPattern: input.AllowedPattern,
        keyId: input.KeyId,
        tier: input.Tier,
        dataType: input.DataType,
        overwrite: input.Overwrite ?? false,
        tags: input.Tags ?? [],
        user: ctx.principal.arn,
      });
      return { Version: r.version, Tier: r.tier };
    },

    async GetParameter(input, ctx) {
      const r = found(await resolveParameter(ctx, input.Name));
      return { Parameter: toParameter(ctx, r.region, r.parameter, r.version, input.WithDecryption ?? false, r.selector, r.asked) };
    },

    async GetParameters(input, ctx) {
      const Parameters: SSM.Parameter[] = [];
      const InvalidParameters: string[] = [];
      for (const raw of [...new Set(input.Names)]) {
        // A malformed ARN is one invalid name among the others, not a failed call.
        const r = await resolveParameter(ctx, raw).catch(invalidName);
        if (!r) {
          InvalidParameters.push(raw);
          continue;
        }
        if (!r.found) InvalidParameters.push(raw);
        else Parameters.push(toParameter(ctx, r.region, r.parameter, r.version, input.WithDecryption ?? false, r.selector, r.asked));
      }
      return { Parameters, InvalidParameters };
    },

    async GetParametersByPath(input, ctx) {
      const path = input.Path;
      if (!validPath(path)) throw invalidPath();
      if (path.length > 1 && path.split('/').filter(Boolean).length > 15) throw ssmErrors.hierarchyLevels();
      const max = input.MaxResults ?? 10;
      const { pred, label } = compileFilters(input.ParameterFilters, 'byPath');
      const base = path.endsWith('/') ? path : `${path}/`;
      const Parameters: SSM.Parameter[] = [];
      let last: string | undefined;
      let more = false;
      // Root-level names are stored without their slash: under `/` is every parameter, sifted.
      for (const p of await listParameters(ctx, base === '/' ? '' : base, fromToken(input.NextToken))) {
        if (!underPath(p.name, base, input.Recursive ?? false)) continue;
        if (!pred(p)) continue;
        if (Parameters.length === max) {
          more = true;
          break;
        }
        // With a Label filter, the version carrying the label is the one returned.
        const v = label ? latestLabelled(p, label)! : latestVersion(p);
        Parameters.push(toParameter(ctx, ctx.region, p, v, input.WithDecryption ?? false));
        last = p.name;
      }
      return { Parameters, NextToken: more && last ? tokenFor(last) : undefined };
    },

    async DescribeParameters(input, ctx) {
      if (input.Filters?.length && input.ParameterFilters?.length) {
        throw ssmErrors.validation('You can use either Filters or ParameterFilters in a single request.');
      }
      const max = input.MaxResults ?? 10;
      const { pred } = compileFilters(input.Filters?.length ? legacyFilters(input.Filters) : input.ParameterFilters, 'describe');
      const Parameters: SSM.ParameterMetadata[] = [];
      let more = false;
      let last: string | undefined;
      for (const p of await listParameters(ctx, '', fromToken(input.NextToken))) {
        if (!pred(p)) continue;
        if (Parameters.length === max) {
          more = true;
          break;
        }
        Parameters.push(toMetadata(ctx, p));
        last = p.name;
      }
      return { Parameters, NextToken: more && last ? tokenFor(last) : undefined };
    },

    async GetParameterHistory(input, ctx) {
      const { region, parameter: p } = await wholeParameter(ctx, input.Name);
      const max = input.MaxResults ?? 50;
      let start = 0;
      if (input.NextToken !== undefined) {
        const after = Number(fromToken(input.NextToken));
        if (!Number.isSafeInteger(after)) throw ssmErrors.invalidNextToken();
        const i = p.versions.findIndex((x) => x.version > after);
        start = i < 0 ? p.versions.length : i;
      }
      const page = p.versions.slice(start, start + max);
      const Parameters = page.map((v) => ({
        Name: canonicalName(p.name),
        Type: v.type,
        KeyId: v.keyId,
        LastModifiedDate: new Date(v.lastModified),
        LastModifiedUser: v.lastModifiedUser,
        Description: v.description,
        Value: versionValue(key, region, p.name, v, input.WithDecryption ?? false),
        AllowedPattern: v.allowedPattern,
        Version: v.version,
        Labels: v.labels,
        Tier: v.tier,
        Policies: [],
        DataType: v.dataType,
      }));
      const more = start + max < p.versions.length;
      return { Parameters, NextToken: more ? tokenFor(String(page[page.length - 1]!.version)) : undefined };
    },

    async LabelParameterVersion(input, ctx) {
      const r = await labelParameterVersion(ctx, input.Name, input.ParameterVersion, input.Labels);
      return { InvalidLabels: r.invalid, ParameterVersion: r.version };
    },

    async UnlabelParameterVersion(input, ctx) {
      const r = await unlabelParameterVersion(ctx, input.Name, input.ParameterVersion, input.Labels);
      return { RemovedLabels: r.removed, InvalidLabels: r.invalid };
    },

    async DeleteParameter(input, ctx) {
      const r = await wholeParameter(ctx, input.Name);
      await deleteParameter({ platform: ctx.platform, region: r.region }, r.parameter.name);
      return {};
    },

    async DeleteParameters(input, ctx) {
      const DeletedParameters: string[] = [];
      const InvalidParameters: string[] = [];
      for (const raw of [...new Set(input.Names)]) {
        // Missing, a selector, or a malformed ARN: one invalid name among the others.
        const r = await wholeParameter(ctx, raw).catch(invalidName);
        if (!r) {
          InvalidParameters.push(raw);
          continue;
        }
        await deleteParameter({ platform: ctx.platform, region: r.region }, r.parameter.name);
        DeletedParameters.push(raw);
      }
      return { DeletedParameters, InvalidParameters };
    },

    async AddTagsToResource(input, ctx) {
      await tagParameter(ctx, await taggedName(ctx, input.ResourceType, input.ResourceId), input.Tags);
      return {};
    },

    async RemoveTagsFromResource(input, ctx) {
      await untagParameter(ctx, await taggedName(ctx, input.ResourceType, input.ResourceId), input.TagKeys);
      return {};
    },

    async ListTagsForResource(input, ctx) {
      const p = await findParameter(ctx, await taggedName(ctx, input.ResourceType, input.ResourceId));
      if (!p) throw ssmErrors.invalidResourceId();
      return { TagList: p.tags };
    },
  };
}
