/**
 * What the console can change, each one or two API operations called as the signed-in
 * principal (so refused exactly as the API would refuse that principal): scale, force a new
 * deployment, update to a revision, roll back, stop a task, reveal a parameter. Inputs are the
 * page's JSON body, checked here for shape; the API checks the rest.
 */
import { ServiceError } from '../errors.js';
import { lastSegment, type ApiCall } from './views.js';

/** An action's input (the request's JSON body). */
export type ActionInput = Record<string, unknown>;

/** What an action may do besides calling the API: write an audit line. */
export interface ActionContext {
  call: ApiCall;
  audit(message: string): void;
}

function str(input: ActionInput, name: string, max = 1600): string {
  const v = input[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new ServiceError('InvalidParameterException', `'${name}' must be a string of 1 to ${max} characters.`);
  return v;
}

async function previousRevision(call: ApiCall, current: string): Promise<string> {
  const [family, rev] = current.split(':');
  const arns: string[] = (await call('ecs', 'ListTaskDefinitions', { familyPrefix: family, sort: 'DESC', maxResults: 100 })).taskDefinitionArns ?? [];
  const before = arns.map(lastSegment).find((a) => a.split(':')[0] === family && Number(a.split(':')[1]) < Number(rev));
  if (!before) throw new ServiceError('InvalidParameterException', `There is no revision of ${family} before ${current} to roll back to.`);
  return before;
}

/** The actions by name, as the URL `/console/api/action/<name>` says; each resolves with what the page shows. */
export const ACTIONS: Record<string, (ctx: ActionContext, input: ActionInput) => Promise<unknown>> = {
  async scale({ call }, input) {
    const desiredCount = input.desiredCount;
    if (typeof desiredCount !== 'number' || !Number.isInteger(desiredCount) || desiredCount < 0 || desiredCount > 5000) {
      throw new ServiceError('InvalidParameterException', "'desiredCount' must be a whole number from 0 to 5000.");
    }
    await call('ecs', 'UpdateService', { cluster: str(input, 'cluster'), service: str(input, 'service'), desiredCount });
    return { desiredCount };
  },
  async forceNewDeployment({ call }, input) {
    await call('ecs', 'UpdateService', { cluster: str(input, 'cluster'), service: str(input, 'service'), forceNewDeployment: true });
    return {};
  },
  async updateRevision({ call }, input) {
    const taskDefinition = str(input, 'taskDefinition');
    await call('ecs', 'UpdateService', { cluster: str(input, 'cluster'), service: str(input, 'service'), taskDefinition });
    return { taskDefinition };
  },
  async rollBack({ call }, input) {
    const cluster = str(input, 'cluster');
    const service = str(input, 'service');
    const s = (await call('ecs', 'DescribeServices', { cluster, services: [service] })).services?.[0];
    if (!s) throw new ServiceError('ServiceNotFoundException', `Service '${service}' not found in cluster '${cluster}'.`, 400);
    const taskDefinition = await previousRevision(call, lastSegment(s.taskDefinition));
    await call('ecs', 'UpdateService', { cluster, service, taskDefinition });
    return { taskDefinition };
  },
  async stopTask({ call }, input) {
    await call('ecs', 'StopTask', { cluster: str(input, 'cluster'), task: str(input, 'task'), reason: 'Stopped from the Berth console' });
    return {};
  },
  async revealParameter({ call, audit }, input) {
    const name = str(input, 'name', 2048);
    const p = (await call('ssm', 'GetParameter', { Name: name, WithDecryption: true })).Parameter;
    audit(`revealed parameter ${name} (version ${p?.Version})`);
    return { name, value: p?.Value, version: p?.Version };
  },
};
