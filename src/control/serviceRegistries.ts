/**
 * ECS services' `serviceRegistries` (Cloud Map): each round, the service's running tasks are
 * made the instances of each registry's Cloud Map service, through the Cloud Map domain
 * (instance id = task id; AWS_INSTANCE_IPV4 / AWS_INSTANCE_PORT the task's address and the
 * registry's container port as bound on its host). A task that stops, or is told to, is
 * deregistered; a draining service's last round (all its tasks stopped) deregisters the rest.
 */
import type { Scope } from '../domain/platform.js';
import type { ContainerInstanceRecord, ServiceRecord, TaskRecord } from '../domain/ecs/records.js';
import { syncEcsInstances, type EcsInstance } from '../domain/servicediscovery/ecsRegistrations.js';
import { targetOf } from './observe.js';

type Registry = ServiceRecord['serviceRegistries'][number];

/** The address and port a registry names for a task: its container's binding, else the task's first TCP binding (the address alone if it has none). */
function endpointOf(t: TaskRecord, r: Registry, instance: ContainerInstanceRecord | undefined, fallback: string): { address: string; port?: number } | undefined {
  const containerName = r.containerName ?? t.containers[0]?.name;
  const containerPort = r.containerPort ?? r.port ?? t.containers.find((c) => c.name === containerName)?.networkBindings.find((b) => (b.protocol ?? 'tcp') === 'tcp')?.containerPort;
  const ref = targetOf(t, { containerName, containerPort }, instance, fallback);
  if (ref) return { address: ref.id, port: ref.port };
  if (r.containerName || r.containerPort || r.port) return undefined;
  return { address: instance?.attributes.find((a) => a.name === 'berth.address')?.value ?? fallback };
}

/** The instance a running task is in one registry, or undefined when it is not running (or has no address yet). */
function instanceOf(s: Scope, svc: ServiceRecord, t: TaskRecord, r: Registry, instance: ContainerInstanceRecord | undefined, fallback: string): EcsInstance | undefined {
  if (t.lastStatus !== 'RUNNING' || t.desiredStatus !== 'RUNNING') return undefined;
  const e = endpointOf(t, r, instance, fallback);
  if (!e) return undefined;
  const attributes: Record<string, string> = {
    AWS_INSTANCE_IPV4: e.address,
    ECS_CLUSTER_NAME: svc.clusterName,
    ECS_SERVICE_NAME: svc.serviceName,
    ECS_TASK_DEFINITION_FAMILY: t.family,
    REGION: s.region,
  };
  if (e.port !== undefined) attributes.AWS_INSTANCE_PORT = String(e.port);
  if (t.availabilityZone) attributes.AVAILABILITY_ZONE = t.availabilityZone;
  return { taskId: t.taskId, attributes };
}

/**
 * Brings each of the service's registries in line with its tasks. Returns a message for each
 * registry that could not be (its Cloud Map service deleted, say), for the service's events.
 */
export async function syncServiceRegistries(s: Scope, svc: ServiceRecord, tasks: readonly TaskRecord[], instances: readonly ContainerInstanceRecord[], fallbackAddress: string): Promise<string[]> {
  if (!svc.serviceRegistries?.length) return [];
  const byId = new Map(instances.map((ci) => [ci.id, ci]));
  const failures: string[] = [];
  for (const r of svc.serviceRegistries) {
    if (!r.registryArn) continue;
    const want = tasks.flatMap((t) => instanceOf(s, svc, t, r, byId.get(t.containerInstanceId ?? ''), fallbackAddress) ?? []);
    try {
      await syncEcsInstances(s, r.registryArn, svc.clusterName, svc.serviceName, want);
    } catch (e) {
      failures.push(`(service ${svc.serviceName}) failed to register instances in (service-registry ${r.registryArn}) with (error ${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return failures;
}
