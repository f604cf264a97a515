/**
 * Launch templates (src/domain/ec2/launchTemplates.ts): CreateLaunchTemplate,
 * CreateLaunchTemplateVersion, DescribeLaunchTemplates, DescribeLaunchTemplateVersions,
 * ModifyLaunchTemplate (the default version) and DeleteLaunchTemplate, as EC2 answers them.
 */
import type * as EC2 from '../../generated/ec2.js';
import type { Handlers } from '../types.js';
import { ec2Errors } from '../../domain/ec2/errors.js';
import {
  createLaunchTemplate,
  createLaunchTemplateVersion,
  deleteLaunchTemplate,
  getLaunchTemplate,
  listLaunchTemplates,
  listLaunchTemplateVersions,
  setDefaultLaunchTemplateVersion,
  versionNumber,
  type LaunchTemplateRecord,
  type LaunchTemplateVersionRecord,
} from '../../domain/ec2/launchTemplates.js';
import { mergeEc2Tags } from '../../domain/ec2/tags.js';
import { apiTags, compileFilters, page, tagsFor, type FilterTable } from './describe.js';

function describeTemplate(t: LaunchTemplateRecord): EC2.LaunchTemplate {
  return {
    LaunchTemplateId: t.id,
    LaunchTemplateName: t.name,
    CreateTime: new Date(t.createdAt),
    CreatedBy: t.createdBy,
    DefaultVersionNumber: t.defaultVersion,
    LatestVersionNumber: t.latestVersion,
    Tags: apiTags(t.tags),
  };
}

function describeVersion(v: LaunchTemplateVersionRecord, t: LaunchTemplateRecord): EC2.LaunchTemplateVersion {
  return {
    LaunchTemplateId: v.templateId,
    LaunchTemplateName: v.templateName,
    VersionNumber: v.number,
    VersionDescription: v.description,
    CreateTime: new Date(v.createdAt),
    CreatedBy: v.createdBy,
    DefaultVersion: v.number === t.defaultVersion,
    LaunchTemplateData: v.data as EC2.ResponseLaunchTemplateData,
  };
}

const TEMPLATE_FILTERS: FilterTable<LaunchTemplateRecord & { id: string }> = {
  'launch-template-name': (t) => [t.name],
  'create-time': (t) => [new Date(t.createdAt).toISOString()],
};

const data = (d: EC2.RequestLaunchTemplateData | undefined) => {
  if (!d) throw ec2Errors.missingParameter('LaunchTemplateData');
  return d as Record<string, unknown>;
};

export const launchTemplateHandlers: Handlers<EC2.Operations> = {
  async CreateLaunchTemplate(input, ctx) {
    const { template } = await createLaunchTemplate(ctx, {
      name: input.LaunchTemplateName,
      data: data(input.LaunchTemplateData),
      description: input.VersionDescription,
      tags: mergeEc2Tags([], tagsFor(input.TagSpecifications, 'launch-template')),
      createdBy: ctx.principal.arn,
      now: ctx.platform.clock.now(),
    });
    return { LaunchTemplate: describeTemplate(template) };
  },
  async CreateLaunchTemplateVersion(input, ctx) {
    const ref = { id: input.LaunchTemplateId, name: input.LaunchTemplateName };
    const v = await createLaunchTemplateVersion(ctx, ref, { data: data(input.LaunchTemplateData), description: input.VersionDescription, sourceVersion: input.SourceVersion, createdBy: ctx.principal.arn, now: ctx.platform.clock.now() });
    const t = (await getLaunchTemplate(ctx, { id: v.templateId })).value;
    return { LaunchTemplateVersion: describeVersion(v, t) };
  },
  async ModifyLaunchTemplate(input, ctx) {
    const ref = { id: input.LaunchTemplateId, name: input.LaunchTemplateName };
    const t = input.DefaultVersion !== undefined ? await setDefaultLaunchTemplateVersion(ctx, ref, input.DefaultVersion) : (await getLaunchTemplate(ctx, ref)).value;
    return { LaunchTemplate: describeTemplate(t) };
  },
  async DeleteLaunchTemplate(input, ctx) {
    return { LaunchTemplate: describeTemplate(await deleteLaunchTemplate(ctx, { id: input.LaunchTemplateId, name: input.LaunchTemplateName })) };
  },
  async DescribeLaunchTemplates(input, ctx) {
    let all = await listLaunchTemplates(ctx);
    for (const id of input.LaunchTemplateIds ?? []) await getLaunchTemplate(ctx, { id });
    for (const name of input.LaunchTemplateNames ?? []) await getLaunchTemplate(ctx, { name });
    if (input.LaunchTemplateIds?.length) all = all.filter((t) => input.LaunchTemplateIds!.includes(t.id));
    if (input.LaunchTemplateNames?.length) all = all.filter((t) => input.LaunchTemplateNames!.includes(t.name));
    const match = compileFilters(input.Filters, TEMPLATE_FILTERS);
    const p = page(all.filter(match), input.MaxResults, input.NextToken);
    return { LaunchTemplates: p.items.map(describeTemplate), NextToken: p.nextToken };
  },
  async DescribeLaunchTemplateVersions(input, ctx) {
    const t = (await getLaunchTemplate(ctx, { id: input.LaunchTemplateId, name: input.LaunchTemplateName })).value;
    let versions = await listLaunchTemplateVersions(ctx, t.id);
    if (input.Versions?.length) {
      const wanted = new Set(input.Versions.map((v) => versionNumber(t, v)));
      versions = versions.filter((v) => wanted.has(v.number));
    }
    const min = input.MinVersion !== undefined ? versionNumber(t, input.MinVersion) : 0;
    const max = input.MaxVersion !== undefined ? versionNumber(t, input.MaxVersion) : Infinity;
    versions = versions.filter((v) => v.number >= min && v.number <= max);
    const p = page(versions.map((v) => ({ ...v, id: `${v.templateId}/${String(v.number).padStart(10, '0')}` })), input.MaxResults, input.NextToken);
    return { LaunchTemplateVersions: p.items.map((v) => describeVersion(v, t)), NextToken: p.nextToken };
  },
};
