/**
 * Auto Scaling records: launch configurations and groups, each one record keyed
 * `<region>/<name>`. A group holds its instances (agent hosts), so one commit changes the group
 * and its instances together.
 */

/** Store kind of launch configurations. */
export const LAUNCH_CONFIG_KIND = 'autoscaling-lc';
/** Store kind of Auto Scaling groups. */
export const GROUP_KIND = 'autoscaling-group';

/** At most this many instances in one group: each is an agent process on this host. */
export const MAX_INSTANCES_PER_GROUP = 20;
/** At most this many groups and launch configurations per region (AWS's default quotas). */
export const MAX_GROUPS = 500;
export const MAX_LAUNCH_CONFIGURATIONS = 200;

export interface LaunchConfigurationRecord {
  name: string;
  arn: string;
  imageId: string;
  instanceType: string;
  securityGroups: string[];
  /** Base64, as given. */
  userData?: string;
  iamInstanceProfile?: string;
  keyName?: string;
  associatePublicIpAddress?: boolean;
  createdAt: number;
}

/** `Pending` (launched, its agent not registered yet), `InService`, `Terminating` (draining, then stopped). */
export type LifecycleState = 'Pending' | 'InService' | 'Terminating';

/** The launch template a group (or an instance) launches from: its version as given ($Default, $Latest or a number). */
export interface GroupLaunchTemplate {
  id: string;
  name: string;
  version: string;
}

export interface GroupInstance {
  instanceId: string;
  availabilityZone: string;
  subnetId?: string;
  lifecycleState: LifecycleState;
  healthStatus: 'Healthy' | 'Unhealthy';
  /** The launch configuration it launched from ('' when from a launch template). */
  launchConfigurationName: string;
  launchTemplate?: GroupLaunchTemplate;
  imageId: string;
  instanceType: string;
  protectedFromScaleIn: boolean;
  launchedAt: number;
  /** The cluster its agent joins (UserData's ECS_CLUSTER, else `default`). */
  cluster: string;
  /** When it began terminating (the drain is bounded from then). */
  terminatingSince?: number;
}

export interface GroupRecord {
  name: string;
  arn: string;
  /** The launch configuration it launches from ('' when it launches from `launchTemplate`). */
  launchConfigurationName: string;
  launchTemplate?: GroupLaunchTemplate;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  /** VPCZoneIdentifier's subnets, in order (empty: the zones' default subnets are not used, AvailabilityZones is). */
  subnetIds: string[];
  availabilityZones: string[];
  healthCheckType: string;
  healthCheckGracePeriod: number;
  defaultCooldown: number;
  newInstancesProtectedFromScaleIn: boolean;
  terminationPolicies: string[];
  targetGroupArns: string[];
  tags: Array<{ key: string; value: string; propagateAtLaunch: boolean }>;
  instances: GroupInstance[];
  /** `Delete in progress` once a forced delete began: the controller terminates its instances, then removes it. */
  status?: 'Delete in progress';
  createdAt: number;
}

/** The store key of a group or launch configuration. */
export function asgKey(region: string, name: string): string {
  return `${region}/${name}`;
}
