/**
 * ECS services' `serviceRegistries`: a service's running tasks are the instances of a Cloud Map
 * service (instance id = task id), with the attributes ECS gives them (AWS_INSTANCE_IPV4,
 * AWS_INSTANCE_PORT, ECS_CLUSTER_NAME, ECS_SERVICE_NAME...). The service controller calls
 * `syncEcsInstances` each round with the tasks that should be registered; instances it
 * registered for tasks that are gone are deregistered.
 */
import type { Scope } from '../platform.js';
import { deregisterInstance, listInstances, registerInstance } from './instances.js';

/** The Cloud Map service id an ECS RegistryArn names (`arn:aws:servicediscovery:<region>:<account>:service/srv-...`), or undefined. */
export function serviceIdOfRegistryArn(arn: string): string | undefined {
  const i = arn.lastIndexOf(':service/');
  return i > 0 && arn.startsWith('arn:aws:servicediscovery:') ? arn.slice(i + ':service/'.length) : undefined;
}

/** A task to register: its id and attributes. */
export interface EcsInstance {
  taskId: string;
  attributes: Record<string, string>;
}

/**
 * Makes the instances ECS service `clusterName/serviceName` registered in Cloud Map service
 * `registryArn` exactly `want`: registers new or changed ones, deregisters its own that are not
 * wanted (instances others registered are left alone). Returns how many changed.
 */
export async function syncEcsInstances(s: Scope, registryArn: string, clusterName: string, serviceName: string, want: EcsInstance[]): Promise<number> {
  const serviceId = serviceIdOfRegistryArn(registryArn);
  if (!serviceId) return 0;
  const have = await listInstances(s, serviceId);
  const byId = new Map(have.map((i) => [i.id, i]));
  let changed = 0;
  for (const w of want) {
    const cur = byId.get(w.taskId);
    if (cur && JSON.stringify(cur.attributes) === JSON.stringify(w.attributes)) continue;
    await registerInstance(s, serviceId, w.taskId, w.attributes);
    changed++;
  }
  const wanted = new Set(want.map((w) => w.taskId));
  for (const i of have) {
    if (wanted.has(i.id) || i.attributes.ECS_CLUSTER_NAME !== clusterName || i.attributes.ECS_SERVICE_NAME !== serviceName) continue;
    try {
      await deregisterInstance(s, serviceId, i.id);
      changed++;
    } catch (e) {
      if ((e as { code?: string }).code !== 'InstanceNotFound') throw e;
    }
  }
  return changed;
}
