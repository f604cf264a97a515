/**
 * The live counts of a cluster (DescribeClusters, and DeleteCluster's refusals), derived from
 * its instances, tasks and services every time: never stored.
 */
import { instanceCount } from './instances.js';
import { KIND, type Scope } from './keys.js';
import type { TaskRecord } from './records.js';
import { activeServiceCount } from './services.js';

export interface ClusterCounts {
  registeredContainerInstancesCount: number;
  runningTasksCount: number;
  pendingTasksCount: number;
  activeServicesCount: number;
}

const PENDING = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING']);

/** The counts of a cluster by name (zeros for a cluster with nothing in it). */
export async function clusterCounts(s: Scope, clusterName: string): Promise<ClusterCounts> {
  const tasks = await s.platform.store.list<TaskRecord>(KIND.task, { prefix: `${s.region}/${clusterName}/` });
  return {
    registeredContainerInstancesCount: await instanceCount(s, clusterName),
    runningTasksCount: tasks.filter((t) => t.value.lastStatus === 'RUNNING').length,
    pendingTasksCount: tasks.filter((t) => PENDING.has(t.value.lastStatus)).length,
    activeServicesCount: await activeServiceCount(s, clusterName),
  };
}
