/**
 * AWS's public parameters (`/aws/service/...`) that templates read through
 * `AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>` or `{{resolve:ssm:...}}`: the ECS-optimized
 * AMIs, the Amazon Linux AMIs and Bottlerocket's. On Berth every one of them means the same
 * thing, "a Berth agent host": an instance launched from it (by an Auto Scaling group) is a Berth
 * agent on this host. They are read-only, the same in every region, and not stored.
 */

/** The image id every public AMI parameter answers: a Berth agent host. */
export const BERTH_AGENT_IMAGE_ID = 'ami-0000000000000be27';
/** Its name, as the `image_name` parameters give it. */
export const BERTH_AGENT_IMAGE_NAME = 'berth-agent-host';

/** One public parameter. */
export interface PublicParameter {
  name: string;
  value: string;
  /** `aws:ec2:image` for AMI ids (templates' parameter types check it), `text` otherwise. */
  dataType: 'text' | 'aws:ec2:image';
}

/** When the catalog's values last changed (their LastModifiedDate). */
export const PUBLIC_PARAMETERS_MODIFIED = Date.UTC(2025, 0, 1);

const ECS_VARIANTS = [
  'amazon-linux-2',
  'amazon-linux-2/arm64',
  'amazon-linux-2/gpu',
  'amazon-linux-2/inf',
  'amazon-linux-2/kernel-5.10',
  'amazon-linux-2/kernel-5.10/arm64',
  'amazon-linux-2/kernel-5.10/gpu',
  'amazon-linux-2023',
  'amazon-linux-2023/arm64',
  'amazon-linux-2023/gpu',
  'amazon-linux-2023/neuron',
  'amazon-linux',
];

const AMAZON_LINUX = [
  'amzn2-ami-hvm-x86_64-gp2',
  'amzn2-ami-hvm-arm64-gp2',
  'amzn2-ami-hvm-x86_64-ebs',
  'amzn2-ami-kernel-5.10-hvm-x86_64-gp2',
  'amzn2-ami-kernel-5.10-hvm-arm64-gp2',
  'al2023-ami-kernel-default-x86_64',
  'al2023-ami-kernel-default-arm64',
  'al2023-ami-kernel-6.1-x86_64',
  'al2023-ami-kernel-6.1-arm64',
  'al2023-ami-minimal-kernel-default-x86_64',
  'al2023-ami-minimal-kernel-default-arm64',
  'amzn-ami-hvm-x86_64-gp2',
];

const BERTH_AGENT_VERSION = '1.0.0';

function buildCatalog(): Map<string, PublicParameter> {
  const out = new Map<string, PublicParameter>();
  const add = (name: string, value: string, dataType: PublicParameter['dataType'] = 'text') => out.set(name, { name, value, dataType });
  for (const v of ECS_VARIANTS) {
    const base = `/aws/service/ecs/optimized-ami/${v}/recommended`;
    const os = v.startsWith('amazon-linux-2023') ? 'Amazon Linux 2023' : v.startsWith('amazon-linux-2') ? 'Amazon Linux 2' : 'Amazon Linux';
    const fields = { ecs_agent_version: BERTH_AGENT_VERSION, ecs_runtime_version: 'Berth agent', image_id: BERTH_AGENT_IMAGE_ID, image_name: BERTH_AGENT_IMAGE_NAME, os, schema_version: '1', source_image_name: BERTH_AGENT_IMAGE_NAME };
    add(base, JSON.stringify(fields));
    for (const [k, val] of Object.entries(fields)) add(`${base}/${k}`, val, k === 'image_id' ? 'aws:ec2:image' : 'text');
  }
  for (const n of AMAZON_LINUX) add(`/aws/service/ami-amazon-linux-latest/${n}`, BERTH_AGENT_IMAGE_ID, 'aws:ec2:image');
  for (const flavour of ['aws-ecs-1', 'aws-ecs-2']) {
    for (const arch of ['x86_64', 'arm64']) {
      add(`/aws/service/bottlerocket/${flavour}/${arch}/latest/image_id`, BERTH_AGENT_IMAGE_ID, 'aws:ec2:image');
      add(`/aws/service/bottlerocket/${flavour}/${arch}/latest/image_version`, BERTH_AGENT_VERSION);
    }
  }
  return out;
}

const CATALOG = buildCatalog();
const SORTED_NAMES = [...CATALOG.keys()].sort();

/** Whether a name is in AWS's public namespace (`/aws/service/...`), which this catalog answers instead of the store. */
export function isPublicName(name: string): boolean {
  return name === '/aws/service' || name.startsWith('/aws/service/');
}

/** The public parameter with this name, if the catalog has it. */
export function publicParameter(name: string): PublicParameter | undefined {
  return CATALOG.get(name);
}

/** The public parameters under a path (`/aws/service/ecs/`), directly or at any depth, in name order, after `after`. */
export function publicParametersUnder(path: string, recursive: boolean, after?: string): PublicParameter[] {
  const base = path.endsWith('/') ? path : `${path}/`;
  return SORTED_NAMES.filter((n) => n.startsWith(base) && (recursive || !n.slice(base.length).includes('/')) && (after === undefined || n > after)).map((n) => CATALOG.get(n)!);
}
