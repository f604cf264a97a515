/**
 * AWS::EC2::LaunchTemplate through EC2's launch template API. Ref is the template's id;
 * `GetAtt LatestVersionNumber` / `DefaultVersionNumber` / `LaunchTemplateId` as on AWS (the
 * numbers as strings). A change of LaunchTemplateData or VersionDescription adds a version and
 * makes it the default, as CloudFormation does; a new LaunchTemplateName replaces the template.
 * Auto Scaling groups launch from it (`LaunchTemplate: {LaunchTemplateId, Version}`): the
 * version's base64 UserData names the cluster with `ECS_CLUSTER=`.
 */
import { isNotFound, nameWithin, type ProviderContext, type ResourceProvider } from '../types.js';

interface Template {
  LaunchTemplateId?: string;
  LatestVersionNumber?: number;
  DefaultVersionNumber?: number;
}

const ec2 = <T>(ctx: ProviderContext, op: string, input: Record<string, unknown>) => ctx.invoker.call<T>(ctx.scope, 'ec2', op, input);

function provided(t: Template) {
  return {
    physicalId: t.LaunchTemplateId!,
    attributes: { LaunchTemplateId: t.LaunchTemplateId, LatestVersionNumber: String(t.LatestVersionNumber), DefaultVersionNumber: String(t.DefaultVersionNumber) },
  };
}

/** CloudFormation's TagSpecifications of the template itself (LaunchTemplateTagSpecification) as the API's. */
function tagSpecifications(props: Record<string, unknown>) {
  const specs = Array.isArray(props.TagSpecifications) ? (props.TagSpecifications as Array<{ Tags?: unknown }>) : [];
  const tags = specs.flatMap((s) => (Array.isArray(s.Tags) ? s.Tags : []));
  return tags.length ? [{ ResourceType: 'launch-template', Tags: tags }] : undefined;
}

const nameOf = (props: Record<string, unknown>, ctx: ProviderContext) => (typeof props.LaunchTemplateName === 'string' && props.LaunchTemplateName) || nameWithin(ctx.plannedName, 128);

export const launchTemplate: ResourceProvider = {
  async create(props, ctx) {
    const out = await ec2<{ LaunchTemplate?: Template }>(ctx, 'CreateLaunchTemplate', {
      LaunchTemplateName: nameOf(props, ctx),
      LaunchTemplateData: props.LaunchTemplateData ?? {},
      VersionDescription: props.VersionDescription,
      TagSpecifications: tagSpecifications(props),
    });
    return provided(out.LaunchTemplate!);
  },
  async update(id, props, _before, ctx) {
    const v = await ec2<{ LaunchTemplateVersion?: { VersionNumber?: number } }>(ctx, 'CreateLaunchTemplateVersion', { LaunchTemplateId: id, LaunchTemplateData: props.LaunchTemplateData ?? {}, VersionDescription: props.VersionDescription });
    const out = await ec2<{ LaunchTemplate?: Template }>(ctx, 'ModifyLaunchTemplate', { LaunchTemplateId: id, DefaultVersion: String(v.LaunchTemplateVersion!.VersionNumber) });
    return provided(out.LaunchTemplate!);
  },
  async delete(id, props, ctx) {
    try {
      await ec2(ctx, 'DeleteLaunchTemplate', id ? { LaunchTemplateId: id } : { LaunchTemplateName: nameOf(props, ctx) });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
};
