/**
 * Amazon ECS (awsJson1_1, target prefix AmazonEC2ContainerServiceV20141113): the control-plane
 * model of clusters, task definitions, services, tasks and container instances.
 *
 * Besides the API, `start` runs a once-a-minute sweep that removes tasks STOPPED over an hour
 * ago and services INACTIVE over an hour ago (by the platform clock), and the service controller
 * (src/control/serviceController.ts) that runs, replaces and drains the tasks of services.
 */
import { ServiceModel } from '../../protocol/model.js';
import type { Platform, ServiceDefinition } from '../types.js';
import { clusterHandlers, setClusterCounters } from './clusters.js';
import { containerInstanceHandlers, instanceCount } from './containerInstances.js';
import { KIND, clusterScopedKey, taskDefinitionKey } from './keys.js';
import { activeServiceCount, pruneInactiveServices, serviceHandlers } from './services.js';
import { settingHandlers } from './settings.js';
import { registerTagLocator, tagHandlers } from './tags.js';
import { taskDefinitionHandlers } from './taskDefinitions.js';
import { STOPPED_TASK_RETENTION_MS, pruneStoppedTasks, rebuildLiveTaskIndex, taskHandlers, type TaskRecord } from './tasks.js';
import { startServiceController, type ServiceController } from '../../control/serviceController.js';

let wired = false;

/** Connects the kinds to cluster counts and tagging (once per process). */
function wire(): void {
  if (wired) return;
  wired = true;
  setClusterCounters(async (ctx, clusterName) => {
    const tasks = await ctx.platform.store.list<TaskRecord>(KIND.task, { prefix: `${ctx.region}/${clusterName}/` });
    return {
      registeredContainerInstancesCount: await instanceCount(ctx, clusterName),
      runningTasksCount: tasks.filter((t) => t.value.lastStatus === 'RUNNING').length,
      pendingTasksCount: tasks.filter((t) => ['PROVISIONING', 'PENDING', 'ACTIVATING'].includes(t.value.lastStatus)).length,
      activeServicesCount: await activeServiceCount(ctx, clusterName),
    };
  });
  registerTagLocator((ctx, resource) => {
    const m = /^task-definition\/([A-Za-z0-9_-]{1,255}):(\d{1,10})$/.exec(resource);
    return m ? { kind: KIND.taskDefinition, key: taskDefinitionKey(ctx.region, m[1]!, Number(m[2])) } : undefined;
  });
  const scoped = (type: string, kind: string) =>
    registerTagLocator((ctx, resource) => {
      const m = new RegExp(`^${type}/([A-Za-z0-9_-]{1,255})/([A-Za-z0-9_-]{1,255})$`).exec(resource);
      return m ? { kind, key: clusterScopedKey(ctx.region, m[1]!, m[2]!) } : undefined;
    });
  scoped('service', KIND.service);
  scoped('task', KIND.task);
  scoped('container-instance', KIND.containerInstance);
}

/** Removes expired STOPPED tasks and INACTIVE services in every region. */
export async function sweepExpired(platform: Platform): Promise<void> {
  const regions = new Set<string>();
  for (const kind of [KIND.task, KIND.service]) for (const r of await platform.store.list(kind)) regions.add(r.key.split('/')[0]!);
  for (const region of regions) {
    await pruneStoppedTasks({ platform, region }, STOPPED_TASK_RETENTION_MS);
    await pruneInactiveServices({ platform, region }, STOPPED_TASK_RETENTION_MS);
  }
}

export function ecsService(): ServiceDefinition {
  wire();
  return {
    name: 'ecs',
    model: ServiceModel.load('ecs'),
    protocol: 'json',
    signingNames: ['ecs'],
    validationErrorCode: 'InvalidParameterException',
    // Task definitions are validated as a whole and every problem with one is a ClientException.
    validationErrorCodes: { RegisterTaskDefinition: 'ClientException' },
    handlers: {
      ...clusterHandlers,
      ...tagHandlers,
      ...taskDefinitionHandlers,
      ...serviceHandlers,
      ...taskHandlers,
      ...containerInstanceHandlers,
      ...settingHandlers,
    },
    async reset(platform) {
      // The controller caches task lists and timers by key; a wiped store starts it afresh.
      (platform.hooks['control.serviceController'] as ServiceController | undefined)?.reset();
    },
    async start(platform) {
      // Tasks stored before the by-instance index existed get their entries (once, cheap after).
      await rebuildLiveTaskIndex(platform);
      const timer = setInterval(() => {
        sweepExpired(platform).catch(() => undefined);
      }, 60_000);
      timer.unref();
      // The service scheduler (src/control/serviceController.ts): runs and replaces service tasks.
      const controller = await startServiceController(platform);
      return {
        async stop() {
          clearInterval(timer);
          await controller.stop();
        },
      };
    },
  };
}
