/**
 * The ECS records as stored: what a cluster, task definition revision, task, container instance
 * and service are in the state store. Times are epoch milliseconds. Every record is keyed by
 * region first (see ./keys.ts); counts and remaining resources are never stored, they are
 * derived from the live tasks whenever they are needed.
 */
import type * as ECS from '../../generated/ecs.js';

/** A cluster as stored. Counts are derived when described, never stored. */
export interface ClusterRecord {
  clusterName: string;
  clusterArn: string;
  status: 'ACTIVE' | 'INACTIVE';
  tags: ECS.Tag[];
  settings: ECS.ClusterSetting[];
  configuration?: ECS.ClusterConfiguration;
  capacityProviders: string[];
  defaultCapacityProviderStrategy: ECS.CapacityProviderStrategyItem[];
  serviceConnectDefaults?: { namespace?: string };
  createdAt: number;
}

/** A registered revision as stored: the described shape plus its tags. Never edited except status. */
export interface TaskDefinitionRecord {
  taskDefinition: ECS.TaskDefinition & { family: string; revision: number; taskDefinitionArn: string; status: ECS.TaskDefinitionStatus };
  tags: ECS.Tag[];
}

/** Per-family counter, so revision numbers are never reused (even after deletion). */
export interface FamilyRecord {
  family: string;
  lastRevision: number;
}

/** The resources a task of this definition reserves on a container instance. */
export interface TaskResourceNeeds {
  cpu: number;
  memory: number;
  /** TCP host ports that must be free (static mappings only; dynamic host ports are not reserved). */
  ports: number[];
  udpPorts: number[];
}

/** The lifecycle order of lastStatus; reports that would move a task backwards are ignored. */
export const TASK_STATUS_ORDER = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED'] as const;
export type TaskStatus = (typeof TASK_STATUS_ORDER)[number];

/** A container of a task as stored (times are epoch ms). */
export interface ContainerRecord {
  containerArn: string;
  name: string;
  image?: string;
  essential: boolean;
  lastStatus: string;
  exitCode?: number;
  reason?: string;
  networkBindings: ECS.NetworkBinding[];
  healthStatus?: ECS.HealthStatus;
  runtimeId?: string;
  imageDigest?: string;
  cpu?: string;
  memory?: string;
  memoryReservation?: string;
  /** Whether the task definition gives the container a health check. */
  hasHealthCheck: boolean;
}

/** A task as stored. Times are epoch ms. */
export interface TaskRecord {
  taskId: string;
  taskArn: string;
  clusterName: string;
  clusterArn: string;
  taskDefinitionArn: string;
  family: string;
  containerInstanceId?: string;
  containerInstanceArn?: string;
  availabilityZone?: string;
  launchType: ECS.LaunchType;
  capacityProviderName?: string;
  lastStatus: TaskStatus;
  desiredStatus: 'RUNNING' | 'STOPPED';
  startedBy?: string;
  group: string;
  overrides: ECS.TaskOverride;
  cpu?: string;
  memory?: string;
  containers: ContainerRecord[];
  tags: ECS.Tag[];
  enableExecuteCommand: boolean;
  healthStatus: ECS.HealthStatus;
  /** Bumped on every change, as ECS's `version`. */
  version: number;
  needs: TaskResourceNeeds;
  /** Set by the service controller when it deregisters the task's target before stopping it. */
  drainStartedAt?: number;
  createdAt: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  connectivityAt?: number;
  stoppingAt?: number;
  executionStoppedAt?: number;
  stoppedAt?: number;
  stopCode?: ECS.TaskStopCode;
  stoppedReason?: string;
}

/** A container instance as stored. Times are epoch ms. */
export interface ContainerInstanceRecord {
  id: string;
  containerInstanceArn: string;
  clusterName: string;
  ec2InstanceId?: string;
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
  statusReason?: string;
  registeredResources: ECS.Resource[];
  attributes: ECS.Attribute[];
  versionInfo: ECS.VersionInfo;
  agentConnected: boolean;
  lastHeartbeat?: number;
  /**
   * When the agent-timeout sweep marked the agent disconnected (cleared by its next heartbeat):
   * tasks on the instance are lost once it has stayed disconnected for the controller's
   * `instanceLostAfterMs`. Every control-plane replica reads the same moment.
   */
  disconnectedAt?: number;
  registeredAt: number;
  deregisteredAt?: number;
  /** Bumped on every change, including each task placed on it (placement's concurrency guard). */
  version: number;
  tags: ECS.Tag[];
}

/** A deployment as stored (times epoch ms). Live counts are derived, see `loadService` in ./services.ts. */
export interface DeploymentRecord {
  id: string;
  status: 'PRIMARY' | 'ACTIVE' | 'INACTIVE';
  taskDefinition: string;
  desiredCount: number;
  failedTasks: number;
  launchType?: ECS.LaunchType;
  capacityProviderStrategy?: ECS.CapacityProviderStrategyItem[];
  platformVersion?: string;
  networkConfiguration?: ECS.NetworkConfiguration;
  rolloutState: ECS.DeploymentRolloutState;
  rolloutStateReason: string;
  /** A circuit-breaker rollback deployment: the id of the COMPLETED deployment it returns to. */
  rollbackOf?: string;
  /**
   * The image digest each container (by name) runs, resolved from its tag by the first launch
   * of the deployment (`launchServiceTasks`), so every task of the deployment runs the same
   * image. Containers whose image could not be resolved are absent (they pull by tag).
   */
  imageDigests?: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  /** Counts last written by the controller (`recordDeploymentCounts`); DescribeServices counts live tasks instead. */
  recordedRunningCount?: number;
  recordedPendingCount?: number;
}

export interface ServiceEventRecord {
  id: string;
  createdAt: number;
  message: string;
}

/** A service as stored (times epoch ms). */
export interface ServiceRecord {
  serviceName: string;
  serviceArn: string;
  clusterName: string;
  clusterArn: string;
  status: 'ACTIVE' | 'DRAINING' | 'INACTIVE';
  taskDefinition: string;
  desiredCount: number;
  launchType?: ECS.LaunchType;
  capacityProviderStrategy?: ECS.CapacityProviderStrategyItem[];
  platformVersion?: string;
  loadBalancers: ECS.LoadBalancer[];
  serviceRegistries: ECS.ServiceRegistry[];
  deploymentConfiguration: ECS.DeploymentConfiguration;
  deploymentController: ECS.DeploymentController;
  placementConstraints: ECS.PlacementConstraint[];
  placementStrategy: ECS.PlacementStrategy[];
  networkConfiguration?: ECS.NetworkConfiguration;
  healthCheckGracePeriodSeconds?: number;
  schedulingStrategy: ECS.SchedulingStrategy;
  enableECSManagedTags: boolean;
  propagateTags: ECS.PropagateTags;
  enableExecuteCommand: boolean;
  roleArn?: string;
  tags: ECS.Tag[];
  createdAt: number;
  createdBy: string;
  /** Newest first; exactly one PRIMARY while the service is ACTIVE. */
  deployments: DeploymentRecord[];
  /** Newest first, at most MAX_SERVICE_EVENTS. */
  events: ServiceEventRecord[];
  /** When the service became INACTIVE (for pruning). */
  inactiveAt?: number;
  /** The controller's last steady-state verdict (so it says "reached a steady state" once). */
  steady?: boolean;
  /**
   * EXTERNAL and CODE_DEPLOY services: their task sets (see ./taskSets.ts), oldest first; such a
   * service has no deployments. Absent for ECS-controlled services.
   */
  taskSets?: TaskSetRecord[];
}

/**
 * A task set of an EXTERNAL or CODE_DEPLOY service, as stored inside its service record. Its
 * tasks are the service's (group `service:<name>`) whose startedBy is the task set id; it keeps
 * ceil(service desiredCount x scale / 100) of them running (0 once DRAINING), each registered in
 * the task set's own target groups. Times are epoch ms.
 */
export interface TaskSetRecord {
  /** `ecs-svc/<19 digits>`, as ECS writes task set ids. */
  id: string;
  taskSetArn: string;
  /** PRIMARY (serves production), ACTIVE (does not), DRAINING (being deleted: its tasks stop, then it goes). */
  status: 'PRIMARY' | 'ACTIVE' | 'DRAINING';
  taskDefinition: string;
  externalId?: string;
  startedBy?: string;
  launchType?: ECS.LaunchType;
  capacityProviderStrategy?: ECS.CapacityProviderStrategyItem[];
  platformVersion?: string;
  networkConfiguration?: ECS.NetworkConfiguration;
  loadBalancers: ECS.LoadBalancer[];
  serviceRegistries: ECS.ServiceRegistry[];
  /** Percent of the service's desired count (0..100). */
  scale: { value: number; unit: 'PERCENT' };
  stabilityStatus: 'STEADY_STATE' | 'STABILIZING';
  stabilityStatusAt: number;
  tags: ECS.Tag[];
  createdAt: number;
  updatedAt: number;
}

/**
 * A capacity provider as stored: an Auto Scaling group capacity provider (EC2_AUTOSCALING).
 * FARGATE and FARGATE_SPOT are built in and never stored. Berth has no Auto Scaling groups:
 * the provider's capacity is the container instances whose agent registered with the attribute
 * `berth.capacity-provider` = its name (see ./capacityProviders.ts); managed scaling and
 * managed termination protection are stored and described.
 */
export interface CapacityProviderRecord {
  name: string;
  capacityProviderArn: string;
  status: 'ACTIVE' | 'INACTIVE';
  autoScalingGroupProvider: ECS.AutoScalingGroupProvider;
  updateStatus: ECS.CapacityProviderUpdateStatus;
  updateStatusReason?: string;
  tags: ECS.Tag[];
  createdAt: number;
  updatedAt: number;
}
