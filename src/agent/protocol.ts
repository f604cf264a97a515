/**
 * The agent channel: what the control plane tells an agent about the tasks placed on its
 * container instance (the `BerthAgentV1.Poll` operation, a long poll that is also the agent's
 * heartbeat). Everything else the agent does goes through the public AWS APIs, like any
 * client: RegisterContainerInstance, SubmitTaskStateChange, SubmitContainerStateChange
 * (ECS), PutLogEvents (CloudWatch Logs) and GetParameters (SSM, for secrets).
 */

/** Target prefix of the agent channel's JSON operations. */
export const AGENT_TARGET_PREFIX = 'BerthAgentV1';

/** A name/value pair, as in ECS's `environment`. */
export interface KeyValue {
  name?: string;
  value?: string;
}

/**
 * One container of a task as the control plane hands it to the agent: the ECS container
 * definition with the task's containerOverrides already applied.
 */
export interface AgentContainerDefinition {
  name: string;
  image: string;
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
  portMappings?: Array<{ containerPort?: number; hostPort?: number; protocol?: string; name?: string }>;
  essential?: boolean;
  entryPoint?: string[];
  command?: string[];
  workingDirectory?: string;
  environment?: KeyValue[];
  secrets?: Array<{ name: string; valueFrom: string }>;
  dockerLabels?: Record<string, string>;
  user?: string;
  ulimits?: Array<{ name: string; softLimit: number; hardLimit: number }>;
  stopTimeout?: number;
  healthCheck?: { command: string[]; interval?: number; timeout?: number; retries?: number; startPeriod?: number };
  dependsOn?: Array<{ containerName: string; condition: string }>;
  links?: string[];
  hostname?: string;
  logConfiguration?: { logDriver: string; options?: Record<string, string> };
  readonlyRootFilesystem?: boolean;
}

/** Everything an agent needs to run one task (serialized as the `spec` of a polled task). */
export interface AgentTaskSpec {
  taskArn: string;
  taskId: string;
  cluster: string;
  region: string;
  family: string;
  revision: number;
  taskDefinitionArn: string;
  networkMode: string;
  cpu?: string;
  memory?: string;
  group?: string;
  startedBy?: string;
  containers: AgentContainerDefinition[];
}

/** A polled task: the spec plus what the control plane wants of it. */
export interface PolledTask {
  taskArn: string;
  desiredStatus: 'RUNNING' | 'STOPPED';
  lastStatus: string;
  version: number;
  spec: AgentTaskSpec;
}
