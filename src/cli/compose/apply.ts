/**
 * `berth compose up | down | ps | logs | config`: the project (model.ts) planned (mapping.ts)
 * and carried out through the public APIs only (ECS, ELBv2, CloudWatch Logs, SSM), like any
 * AWS client: everything created is tagged `berth:compose:project=<project>` and found again
 * by that tag (and the `<project>-` names) by the next `up`, `ps`, `logs` and `down`.
 */
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { AwsApiError, jsonService } from '../../client/awsClient.js';
import { callQuery, type QueryValue } from '../../client/awsQuery.js';
import { BerthApi, portBindings, stopReasonOf, type WireService, type WireTask } from '../api.js';
import { lastSegment, table } from '../format.js';
import { showLogs } from '../logs.js';
import type { Terminal } from '../terminal.js';
import { buildImages } from './build.js';
import { parseEcsParams, type EcsParams } from './ecsParams.js';
import { removeProjectVolumes } from './volumes.js';
import { writeConfigFiles } from './configs.js';
import { removeProjectImages, type RmiMode } from './rmi.js';
import { loadProject, startOrder, type ComposeProject, ComposeError } from './model.js';
import { configDocument } from './configDocument.js';
import { HASH_TAG, loadBalancerName, logGroupOf, planProject, portsToChoose, PROJECT_TAG, resourceName, secretParameterName, SERVICE_TAG, targetGroupName, type Driver, type ServicePlan } from './mapping.js';

/** The flags every compose subcommand takes. */
export interface ComposeFlags {
  file?: string[];
  /** ecs-cli's ecs-params.yml. */
  ecsParams?: string;
  projectName?: string;
  envFile?: string[];
  profile?: string[];
  cluster: string;
}

/** `up`'s own flags. */
export interface UpFlags extends ComposeFlags {
  hostAddress: string;
  /** docker, process, or undefined: the cluster's agents' driver. */
  driver?: Driver;
  waitTimeoutMs: number;
  detach?: boolean;
  /** `--build`: build every `build:` image even when its tag is already in Berth's registry. */
  build?: boolean;
  /** `--no-build`: use the images named, build nothing. */
  noBuild?: boolean;
}

/** How often `up` and `down` look at what they wait for. */
const POLL_MS = 300;

type Tag = { key: string; value: string };

function projectTags(project: string, service?: string): Tag[] {
  return [{ key: PROJECT_TAG, value: project }, ...(service ? [{ key: SERVICE_TAG, value: service }] : [])];
}

const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** Loads the project of the flags, printing its warnings and unsupported keys (once each) on standard error. */
export function loadFromFlags(flags: ComposeFlags, term: Terminal, env: NodeJS.ProcessEnv = process.env): ComposeProject {
  let files = flags.file?.length ? flags.file : env.COMPOSE_FILE ? env.COMPOSE_FILE.split(':') : [];
  if (!files.length) {
    const found = DEFAULT_FILES.find((f) => {
      try {
        readFileSync(f);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) throw new ComposeError('no configuration file provided: not found (compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml; or -f)');
    files = [found];
    for (const override of ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yaml', 'docker-compose.override.yml']) {
      try {
        readFileSync(override);
        files.push(override);
        break;
      } catch {
        /* none */
      }
    }
  }
  const project = loadProject({ files, projectName: flags.projectName, envFiles: flags.envFile, profiles: flags.profile, env });
  for (const w of project.warnings) term.err(`compose: WARN ${w}\n`);
  for (const u of project.unsupported) term.err(`compose: WARN ${u} is not supported by Berth and is ignored (see docs/compose.md)\n`);
  return project;
}

/** `berth compose config`: the normalized project as YAML (as `docker compose config`), or its service names. */
export function configCommand(flags: ComposeFlags & { services?: boolean; quiet?: boolean }, term: Terminal): number {
  const project = loadFromFlags(flags, term);
  if (flags.quiet) return 0;
  if (flags.services) term.out(startOrder(project.services).join('\n') + '\n');
  else term.out(stringify(configDocument(project), { lineWidth: 0 }));
  return 0;
}

/** The calls compose makes beyond BerthApi's. */
class ComposeApi {
  readonly ssm: ReturnType<typeof jsonService>;
  constructor(readonly api: BerthApi) {
    this.ssm = jsonService(api.config, 'ssm');
  }
  elb(action: string, params: Record<string, QueryValue> = {}) {
    return callQuery(this.api.config, 'elbv2', action, params);
  }

  /** The project's ECS services (ACTIVE or DRAINING), by compose service name. */
  async services(cluster: string, project: string): Promise<Map<string, WireService & { tags?: Tag[] }>> {
    const out = new Map<string, WireService & { tags?: Tag[] }>();
    const arns = (await this.api.ecs<{ serviceArns?: string[] }>('ListServices', { cluster, maxResults: 100 }).then(async (first) => {
      const all = [...(first.serviceArns ?? [])];
      let token = (first as { nextToken?: string }).nextToken;
      while (token) {
        const page = await this.api.ecs<{ serviceArns?: string[]; nextToken?: string }>('ListServices', { cluster, maxResults: 100, nextToken: token });
        all.push(...(page.serviceArns ?? []));
        token = page.nextToken;
      }
      return all;
    })).filter((a) => lastSegment(a).startsWith(`${project}-`));
    for (let i = 0; i < arns.length; i += 10) {
      const page = await this.api.ecs<{ services?: Array<WireService & { tags?: Tag[] }> }>('DescribeServices', { cluster, services: arns.slice(i, i + 10), include: ['TAGS'] });
      for (const s of page.services ?? []) {
        if (s.status === 'INACTIVE') continue;
        const tags = s.tags ?? [];
        if (tags.find((t) => t.key === PROJECT_TAG)?.value !== project) continue;
        const svc = tags.find((t) => t.key === SERVICE_TAG)?.value;
        if (svc) out.set(svc, s);
      }
    }
    return out;
  }

  async taskDefinitionWithTags(name: string): Promise<{ taskDefinitionArn: string; containerDefinitions: Array<{ portMappings?: Array<{ containerPort?: number; hostPort?: number }> }>; tags: Tag[] } | undefined> {
    try {
      const out = await this.api.ecs<{ taskDefinition: { taskDefinitionArn: string; containerDefinitions: [] }; tags?: Tag[] }>('DescribeTaskDefinition', { taskDefinition: name, include: ['TAGS'] });
      return { ...out.taskDefinition, tags: out.tags ?? [] };
    } catch (e) {
      if (e instanceof AwsApiError && (e.code === 'ClientException' || e.code === 'InvalidParameterException')) return undefined;
      throw e;
    }
  }
}

function freePort(taken: Set<number>): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => (taken.has(port) ? resolve(freePort(taken)) : resolve(port)));
    });
  });
}

function hashOf(tags: Tag[] | undefined): string | undefined {
  return tags?.find((t) => t.key === HASH_TAG)?.value;
}

/** `berth compose up`: creates or updates every service in dependency order, honouring depends_on conditions. */
export async function upCommand(api: BerthApi, flags: UpFlags, term: Terminal): Promise<number> {
  const project = loadFromFlags(flags, term);
  const c = new ComposeApi(api);
  const cluster = flags.cluster;
  // A service still DRAINING from a `down` is made anew (CreateService finishes it once its tasks have stopped).
  const existing = new Map([...(await c.services(cluster, project.name))].filter(([, s]) => s.status !== 'DRAINING'));
  const driver = flags.driver ?? (await clusterDriver(api, cluster));
  const deadline = Date.now() + flags.waitTimeoutMs;
  const images = await imagesFor(api, project, driver, flags, term);
  writeConfigFiles(project.workingDir, project.name, project.configs);

  // Host ports for unpublished container ports: kept from the running task definition, else chosen now.
  const chosenPorts = new Map<string, Map<number, number>>();
  const taken = new Set<number>();
  for (const svc of Object.values(project.services)) {
    const wanted = portsToChoose(svc, driver);
    if (!wanted.length) continue;
    const before = new Map<number, number>();
    const current = existing.get(svc.name);
    const td = current?.taskDefinition ? await c.taskDefinitionWithTags(current.taskDefinition) : await c.taskDefinitionWithTags(resourceName(project.name, svc.name));
    for (const m of td?.containerDefinitions[0]?.portMappings ?? []) if (m.containerPort !== undefined && m.hostPort) before.set(m.containerPort, m.hostPort);
    const ports = new Map<number, number>();
    for (const target of wanted) {
      const port = before.get(target) ?? (await freePort(taken));
      taken.add(port);
      ports.set(target, port);
    }
    chosenPorts.set(svc.name, ports);
  }

  // Secrets from files or the environment become SecureString parameters; SSM ones are referenced.
  const secretRefs = new Map<string, string>();
  for (const [name, s] of Object.entries(project.secrets)) {
    if (s.ssm) {
      secretRefs.set(name, s.ssm);
      continue;
    }
    let value: string;
    if (s.file) {
      try {
        value = readFileSync(s.file, 'utf8');
      } catch (e) {
        throw new ComposeError(`secret "${name}": cannot read ${s.file}: ${(e as Error).message}`);
      }
    } else {
      const v = process.env[s.environment!];
      if (v === undefined) throw new ComposeError(`secret "${name}": environment variable ${s.environment} is not set`);
      value = v;
    }
    const param = secretParameterName(project.name, name);
    try {
      await c.ssm('PutParameter', { Name: param, Value: value, Type: 'SecureString', Tags: [{ Key: PROJECT_TAG, Value: project.name }] });
    } catch (e) {
      if (!(e instanceof AwsApiError && e.code === 'ParameterAlreadyExists')) throw e;
      await c.ssm('PutParameter', { Name: param, Value: value, Type: 'SecureString', Overwrite: true });
    }
    secretRefs.set(name, param);
  }

  let ecsParams: EcsParams | undefined;
  if (flags.ecsParams) {
    let text: string;
    try {
      text = readFileSync(flags.ecsParams, 'utf8');
    } catch (e) {
      throw new ComposeError(`--ecs-params: cannot read ${flags.ecsParams}: ${(e as Error).message}`);
    }
    ecsParams = parseEcsParams(text, flags.ecsParams);
    for (const u of ecsParams.unsupported) term.err(`compose: WARN ${flags.ecsParams}: ${u} is not supported by Berth and is ignored\n`);
    for (const name of Object.keys(ecsParams.services)) if (!project.services[name]) term.err(`compose: WARN ${flags.ecsParams}: no service ${name} in the project\n`);
  }
  const plans = new Map(planProject(project, { driver, hostAddress: flags.hostAddress, chosenPorts, secretRefs, ecsParams, images }).map((p) => [p.service, p]));
  for (const p of plans.values()) for (const n of p.notes) term.err(`compose: WARN services.${p.service}: ${n}\n`);

  // Log groups (the project's, and any named in logging options), tagged so down finds them.
  for (const group of new Set([...plans.values()].map((p) => p.logGroup))) {
    try {
      await api.logs('CreateLogGroup', { logGroupName: group, tags: { [PROJECT_TAG]: project.name } });
    } catch (e) {
      if (!(e instanceof AwsApiError && e.code === 'ResourceAlreadyExistsException')) throw e;
    }
  }

  const targetGroups = await ensureLoadBalancing(c, project.name, [...plans.values()]);
  const completed = new Set<string>();
  const order = startOrder(project.services);
  for (const name of order) {
    const svc = project.services[name]!;
    for (const [dep, d] of Object.entries(svc.depends_on)) {
      if (d.condition === 'service_completed_successfully') {
        if (!completed.has(dep)) throw new ComposeError(`service "${dep}" didn't complete successfully: service "${name}" depends on it`);
        continue;
      }
      term.err(`compose: ${name} waits for ${dep} (${d.condition === 'service_healthy' ? 'healthy' : 'started'})\n`);
      await waitForService(api, cluster, resourceName(project.name, dep), d.condition === 'service_healthy', deadline);
    }
    const plan = plans.get(name)!;
    const current = existing.get(name);
    const tdArn = await registerIfChanged(c, project.name, plan, current?.taskDefinition);
    if (plan.oneShot) {
      term.err(`compose: ${name} runs once\n`);
      const ok = await runOnce(api, cluster, project.name, plan, tdArn.arn, deadline);
      if (!ok.success) throw new ComposeError(`service "${name}" didn't complete successfully: ${ok.why}`);
      completed.add(name);
      continue;
    }
    const loadBalancers = plan.ports.filter((p) => p.loadBalanced).map((p) => ({ targetGroupArn: targetGroups.get(`${name}/${p.target}`)!, containerName: name, containerPort: p.target }));
    if (!current) {
      await api.ecs('CreateService', {
        cluster,
        serviceName: plan.name,
        taskDefinition: tdArn.arn,
        desiredCount: plan.desiredCount,
        loadBalancers: loadBalancers.length ? loadBalancers : undefined,
        // A new task gets time to start before failed load balancer checks count (a loaded host starts slowly).
        healthCheckGracePeriodSeconds: loadBalancers.length ? Math.max(30, Math.round(svc.healthcheck?.start_period ?? 0)) : undefined,
        deploymentConfiguration: deploymentConfigurationOf(plan),
        tags: projectTags(project.name, name),
      });
      term.err(`compose: ${name} created (${plan.name}, ${tdArn.arn.split('/').pop()}, ${plan.desiredCount} task${plan.desiredCount === 1 ? '' : 's'})\n`);
    } else if (tdArn.changed || current.desiredCount !== plan.desiredCount) {
      await api.ecs('UpdateService', { cluster, service: plan.name, taskDefinition: tdArn.arn, desiredCount: plan.desiredCount, deploymentConfiguration: deploymentConfigurationOf(plan) });
      term.err(`compose: ${name} ${tdArn.changed ? `updated: rolling to ${tdArn.arn.split('/').pop()}` : `scaled to ${plan.desiredCount}`}\n`);
    } else term.err(`compose: ${name} unchanged\n`);
  }
  const orphans = [...existing.keys()].filter((n) => !project.services[n]);
  if (orphans.length) term.err(`compose: WARN services of project ${project.name} not in the file: ${orphans.join(', ')} (berth compose down removes them)\n`);
  if (flags.detach) return 0;
  // Wait for every service's rollout to be over, as `docker compose up --wait` does.
  for (const name of order) {
    const plan = plans.get(name)!;
    if (plan.oneShot) continue;
    await waitForSteady(api, cluster, plan, deadline, plan.ports.filter((p) => p.loadBalanced).map((p) => targetGroups.get(`${name}/${p.target}`)!));
  }
  term.err(`compose: project ${project.name} is up\n`);
  return 0;
}

/** The images `build:` makes (docker driver): built when missing from Berth's registry, or always with --build. */
async function imagesFor(api: BerthApi, project: ComposeProject, driver: Driver, flags: UpFlags, term: Terminal): Promise<Map<string, string> | undefined> {
  const building = Object.values(project.services).filter((s) => s.build);
  if (!building.length || flags.noBuild) return undefined;
  if (driver !== 'docker') {
    term.err(`compose: WARN ${building.map((s) => `services.${s.name}.build`).join(', ')}: not built (the process driver runs commands, not images)\n`);
    return undefined;
  }
  return buildImages(api, project, { force: flags.build ?? false }, term);
}

/** `berth compose build [service...]`: builds the services' images and pushes them to Berth's registry. */
export async function buildCommand(api: BerthApi, services: string[], flags: ComposeFlags, term: Terminal): Promise<number> {
  const project = loadFromFlags(flags, term);
  const unknown = services.filter((s) => !project.services[s]);
  if (unknown.length) throw new ComposeError(`no such service: ${unknown.join(', ')}`);
  const built = await buildImages(api, project, { force: true, only: services }, term);
  if (!built.size) term.err('compose: no service has a build section\n');
  for (const [image, ref] of built) term.out(`${image} ${ref}\n`);
  return 0;
}

/**
 * How a service rolls: new tasks beside the old ones (100%/200%), unless a port has a fixed host
 * port: two tasks cannot hold it on one host, so the old task stops first (0%/100%), as ECS
 * advises for static host ports.
 */
function deploymentConfigurationOf(plan: ServicePlan): { minimumHealthyPercent: number; maximumPercent: number } {
  return plan.ports.some((p) => p.hostPort !== 0) ? { minimumHealthyPercent: 0, maximumPercent: 100 } : { minimumHealthyPercent: 100, maximumPercent: 200 };
}

async function registerIfChanged(c: ComposeApi, project: string, plan: ServicePlan, currentArn: string | undefined): Promise<{ arn: string; changed: boolean }> {
  const current = await c.taskDefinitionWithTags(currentArn ?? plan.name);
  if (current && hashOf(current.tags) === plan.hash) return { arn: current.taskDefinitionArn, changed: false };
  const out = await c.api.ecs<{ taskDefinition: { taskDefinitionArn: string } }>('RegisterTaskDefinition', { ...plan.taskDefinition, tags: [...projectTags(project, plan.service), { key: HASH_TAG, value: plan.hash }] });
  return { arn: out.taskDefinition.taskDefinitionArn, changed: true };
}

/** The project's load balancer, target groups and listeners for ports with `app_protocol: http`; target group ARNs by `service/port`. */
async function ensureLoadBalancing(c: ComposeApi, project: string, plans: ServicePlan[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const wanted = plans.flatMap((p) => p.ports.filter((x) => x.loadBalanced).map((x) => ({ plan: p, port: x })));
  if (!wanted.length) return out;
  const tags = (prefix: string, service?: string): Record<string, string> => {
    const t = projectTags(project, service);
    return Object.fromEntries(t.flatMap((tag, i) => [[`${prefix}.member.${i + 1}.Key`, tag.key], [`${prefix}.member.${i + 1}.Value`, tag.value]]));
  };
  const lbName = loadBalancerName(project);
  let lbArn: string | undefined;
  try {
    lbArn = (await c.elb('DescribeLoadBalancers', { Names: [lbName] })).members('LoadBalancers')[0]?.textAt('LoadBalancerArn');
  } catch (e) {
    if (!(e instanceof AwsApiError && e.code === 'LoadBalancerNotFound')) throw e;
  }
  // In the default VPC's subnets of zones a and b (their short names; see src/services/ec2/README.md).
  lbArn ??= (await c.elb('CreateLoadBalancer', { Name: lbName, Subnets: ['subnet-a', 'subnet-b'], ...tags('Tags') })).members('LoadBalancers')[0]!.textAt('LoadBalancerArn')!;
  const listeners = new Map((await c.elb('DescribeListeners', { LoadBalancerArn: lbArn })).members('Listeners').map((l) => [Number(l.textAt('Port')), l.textAt('ListenerArn')!]));
  for (const { plan, port } of wanted) {
    const name = targetGroupName(project, plan.service, port.target);
    let tg: string | undefined;
    try {
      tg = (await c.elb('DescribeTargetGroups', { Names: [name] })).members('TargetGroups')[0]?.textAt('TargetGroupArn');
    } catch (e) {
      if (!(e instanceof AwsApiError && e.code === 'TargetGroupNotFound')) throw e;
    }
    if (!tg) {
      tg = (await c.elb('CreateTargetGroup', { Name: name, Protocol: 'HTTP', Port: port.target, TargetType: 'instance', HealthCheckPath: '/', HealthCheckIntervalSeconds: 5, HealthCheckTimeoutSeconds: 4, HealthyThresholdCount: 2, UnhealthyThresholdCount: 3, ...tags('Tags', plan.service) })).members('TargetGroups')[0]!.textAt('TargetGroupArn')!;
      await c.elb('ModifyTargetGroupAttributes', { TargetGroupArn: tg, 'Attributes.member.1.Key': 'deregistration_delay.timeout_seconds', 'Attributes.member.1.Value': '5' });
    }
    out.set(`${plan.service}/${port.target}`, tg);
    const listener = listeners.get(port.address);
    const action = { 'DefaultActions.member.1.Type': 'forward', 'DefaultActions.member.1.TargetGroupArn': tg };
    if (!listener) {
      const arn = (await c.elb('CreateListener', { LoadBalancerArn: lbArn, Protocol: 'HTTP', Port: port.address, ...action, ...tags('Tags', plan.service) })).members('Listeners')[0]!.textAt('ListenerArn')!;
      listeners.set(port.address, arn);
    } else await c.elb('ModifyListener', { ListenerArn: listener, ...action });
  }
  return out;
}

/** The driver of the cluster's container instances (`ecs.capability.berth.driver`); asks for --driver when they differ or there are none. */
async function clusterDriver(api: BerthApi, cluster: string): Promise<Driver> {
  const arns = (await api.ecs<{ containerInstanceArns?: string[] }>('ListContainerInstances', { cluster, maxResults: 100 })).containerInstanceArns ?? [];
  if (!arns.length) throw new ComposeError(`cluster ${cluster} has no container instance to tell its driver: start an agent, or pass --driver docker|process`);
  const out = await api.ecs<{ containerInstances?: Array<{ attributes?: Array<{ name: string; value?: string }> }> }>('DescribeContainerInstances', { cluster, containerInstances: arns });
  const drivers = new Set((out.containerInstances ?? []).map((ci) => ci.attributes?.find((a) => a.name === 'ecs.capability.berth.driver')?.value ?? 'unknown'));
  if (drivers.size === 1) {
    const [only] = drivers;
    if (only === 'docker' || only === 'process') return only;
  }
  throw new ComposeError(`cluster ${cluster}'s agents use ${[...drivers].join(' and ')}: pass --driver docker|process`);
}

/** The tasks of an ECS service that are RUNNING. */
async function runningTasks(api: BerthApi, cluster: string, serviceName: string): Promise<WireTask[]> {
  const arns = await api.taskArns(cluster, { serviceName, desiredStatus: 'RUNNING' });
  return arns.length ? (await api.tasks(cluster, arns)).filter((t) => t.lastStatus === 'RUNNING') : [];
}

function healthy(t: WireTask): boolean {
  return t.healthStatus === 'HEALTHY' || (t.containers ?? []).every((c) => c.healthStatus === 'HEALTHY');
}

/** Waits until a service has a running (and with `needHealthy`, healthy) task, or the deadline. */
async function waitForService(api: BerthApi, cluster: string, serviceName: string, needHealthy: boolean, deadline: number): Promise<void> {
  for (;;) {
    const tasks = await runningTasks(api, cluster, serviceName);
    if (tasks.some((t) => !needHealthy || healthy(t))) return;
    if (Date.now() > deadline) throw new ComposeError(`dependency failed to start: ${serviceName} has no ${needHealthy ? 'healthy' : 'running'} task (--wait-timeout)`);
    await sleep(POLL_MS);
  }
}

/**
 * Waits until a service's newest deployment has its tasks running and is the only one left, and
 * its load balancer targets are healthy.
 */
async function waitForSteady(api: BerthApi, cluster: string, plan: ServicePlan, deadline: number, targetGroups: string[]): Promise<void> {
  for (;;) {
    const svc = await api.service(cluster, plan.name);
    const primary = svc.deployments?.find((d) => d.status === 'PRIMARY');
    if (primary?.rolloutState === 'FAILED') throw new ComposeError(`service ${plan.service}: ${primary.rolloutStateReason ?? 'the deployment failed'}`);
    let steady = (svc.deployments?.length ?? 0) === 1 && (primary?.runningCount ?? 0) >= plan.desiredCount;
    for (const tg of targetGroups) {
      if (!steady) break;
      steady = (await api.targetHealth(tg)).filter((t) => t.state === 'healthy').length >= plan.desiredCount;
    }
    if (steady) return;
    if (Date.now() > deadline) throw new ComposeError(`service ${plan.service} is not steady: ${primary?.runningCount ?? 0}/${plan.desiredCount} running (--wait-timeout)`);
    await sleep(POLL_MS);
  }
}

/** Runs a one-shot service's task to its end: success is an exit code of 0. */
async function runOnce(api: BerthApi, cluster: string, project: string, plan: ServicePlan, taskDefinition: string, deadline: number): Promise<{ success: boolean; why: string }> {
  const out = await api.ecs<{ tasks?: WireTask[]; failures?: Array<{ reason?: string }> }>('RunTask', { cluster, taskDefinition, count: 1, startedBy: `compose-${project}`, group: `compose:${plan.name}`, tags: projectTags(project, plan.service) });
  const task = out.tasks?.[0];
  if (!task) return { success: false, why: out.failures?.[0]?.reason ?? 'the task was not placed' };
  for (;;) {
    const [t] = await api.tasks(cluster, [task.taskArn]);
    if (t?.lastStatus === 'STOPPED') {
      const code = t.containers?.[0]?.exitCode;
      return code === 0 ? { success: true, why: '' } : { success: false, why: `exit code ${code ?? 'unknown'} (${stopReasonOf(t)})` };
    }
    if (Date.now() > deadline) return { success: false, why: 'still running at --wait-timeout' };
    await sleep(POLL_MS);
  }
}

/** The project name of flags without reading the files when -p names it. */
function projectNameOf(flags: ComposeFlags, term: Terminal): { name: string; project?: ComposeProject } {
  if (flags.projectName && !flags.file?.length) return { name: flags.projectName.toLowerCase() };
  const project = loadFromFlags(flags, term);
  return { name: project.name, project };
}

/** `berth compose down`: removes what `up` created (services and their tasks, one-off tasks, task definitions, load balancing, log groups, secrets). */
export async function downCommand(api: BerthApi, flags: ComposeFlags & { volumes?: boolean; rmi?: RmiMode; timeoutMs: number }, term: Terminal): Promise<number> {
  const { name: project } = projectNameOf(flags, term);
  const c = new ComposeApi(api);
  const cluster = flags.cluster;
  const deadline = Date.now() + flags.timeoutMs;
  const services = await c.services(cluster, project);
  for (const [name, svc] of services) {
    await api.ecs('DeleteService', { cluster, service: svc.serviceName, force: true });
    term.err(`compose: ${name} removed (its tasks stop)\n`);
  }
  for (const arn of await api.taskArns(cluster, { startedBy: `compose-${project}`, desiredStatus: 'RUNNING' })) await api.ecs('StopTask', { cluster, task: arn, reason: 'berth compose down' });
  // The tasks stop before anything they use goes.
  for (;;) {
    const left: string[] = [];
    // DeleteService has set the tasks' desired status to STOPPED at once: they are stopping, not stopped.
    for (const svc of services.values()) for (const desiredStatus of ['RUNNING', 'STOPPED'] as const) left.push(...(await api.taskArns(cluster, { serviceName: svc.serviceName, desiredStatus })));
    const running = left.length ? (await api.tasks(cluster, left)).filter((t) => t.lastStatus !== 'STOPPED') : [];
    const oneOff = (await api.tasks(cluster, await api.taskArns(cluster, { startedBy: `compose-${project}` }))).filter((t) => t.lastStatus !== 'STOPPED');
    if (!running.length && !oneOff.length) break;
    if (Date.now() > deadline) throw new ComposeError(`${running.length + oneOff.length} task(s) of project ${project} still running (--timeout)`);
    await sleep(POLL_MS);
  }

  // Load balancing: listeners (their rules go with them), the load balancer, the target groups.
  try {
    const lb = (await c.elb('DescribeLoadBalancers', { Names: [loadBalancerName(project)] })).members('LoadBalancers')[0]?.textAt('LoadBalancerArn');
    if (lb) {
      for (const l of (await c.elb('DescribeListeners', { LoadBalancerArn: lb })).members('Listeners')) await c.elb('DeleteListener', { ListenerArn: l.textAt('ListenerArn') });
      await c.elb('DeleteLoadBalancer', { LoadBalancerArn: lb });
      term.err(`compose: load balancer ${loadBalancerName(project)} removed\n`);
    }
  } catch (e) {
    if (!(e instanceof AwsApiError && e.code === 'LoadBalancerNotFound')) throw e;
  }
  const groups = (await c.elb('DescribeTargetGroups')).members('TargetGroups').map((g) => g.textAt('TargetGroupArn')!);
  for (let i = 0; i < groups.length; i += 20) {
    const tagged = (await c.elb('DescribeTags', { ResourceArns: groups.slice(i, i + 20) })).members('TagDescriptions');
    for (const d of tagged) {
      if (d.members('Tags').some((t) => t.textAt('Key') === PROJECT_TAG && t.textAt('Value') === project)) {
        await c.elb('DeleteTargetGroup', { TargetGroupArn: d.textAt('ResourceArn') });
        term.err(`compose: target group ${d.textAt('ResourceArn')!.split('/')[1]} removed\n`);
      }
    }
  }

  // Task definitions: every revision of the project's families, deregistered then deleted.
  const families = new Set<string>();
  let token: string | undefined;
  do {
    const page = await api.ecs<{ families?: string[]; nextToken?: string }>('ListTaskDefinitionFamilies', { familyPrefix: `${project}-`, status: 'ALL', nextToken: token });
    for (const f of page.families ?? []) families.add(f);
    token = page.nextToken;
  } while (token);
  for (const family of families) {
    const arns: string[] = [];
    let next: string | undefined;
    do {
      const page = await api.ecs<{ taskDefinitionArns?: string[]; nextToken?: string }>('ListTaskDefinitions', { familyPrefix: family, status: 'ACTIVE', nextToken: next });
      arns.push(...(page.taskDefinitionArns ?? []));
      next = page.nextToken;
    } while (next);
    const ours: string[] = [];
    for (const arn of arns) {
      const td = await c.taskDefinitionWithTags(arn);
      if (td?.tags.some((t) => t.key === PROJECT_TAG && t.value === project)) ours.push(arn);
    }
    for (const arn of ours) await api.ecs('DeregisterTaskDefinition', { taskDefinition: arn });
    for (let i = 0; i < ours.length; i += 10) await api.ecs('DeleteTaskDefinitions', { taskDefinitions: ours.slice(i, i + 10) });
  }

  // Log groups tagged with the project.
  const logGroups: string[] = [];
  let logToken: string | undefined;
  do {
    const page = await api.logs<{ logGroups?: Array<{ logGroupName: string }>; nextToken?: string }>('DescribeLogGroups', { nextToken: logToken });
    logGroups.push(...(page.logGroups ?? []).map((g) => g.logGroupName));
    logToken = page.nextToken;
  } while (logToken);
  for (const group of logGroups) {
    const tags = (await api.logs<{ tags?: Record<string, string> }>('ListTagsLogGroup', { logGroupName: group })).tags ?? {};
    if (tags[PROJECT_TAG] !== project && group !== logGroupOf(project)) continue;
    await api.logs('DeleteLogGroup', { logGroupName: group });
    term.err(`compose: log group ${group} removed\n`);
  }

  // Secrets stored by up.
  const params: string[] = [];
  let ssmToken: string | undefined;
  do {
    const page = await c.ssm<{ Parameters?: Array<{ Name: string }>; NextToken?: string }>('GetParametersByPath', { Path: `/compose/${project}/secrets`, Recursive: true, NextToken: ssmToken });
    params.push(...(page.Parameters ?? []).map((p) => p.Name));
    ssmToken = page.NextToken;
  } while (ssmToken);
  for (let i = 0; i < params.length; i += 10) await c.ssm('DeleteParameters', { Names: params.slice(i, i + 10) });
  if (flags.volumes) await removeProjectVolumes(project, (line) => term.err(`${line}\n`));
  if (flags.rmi) await removeProjectImages(api, project, flags.rmi, (line) => term.err(`${line}\n`));
  term.err(`compose: project ${project} is down\n`);
  return 0;
}

/** `berth compose ps`: the project's tasks, one line each. */
export async function psCommand(api: BerthApi, flags: ComposeFlags & { all?: boolean; output?: string }, term: Terminal): Promise<number> {
  const { name: project } = projectNameOf(flags, term);
  const c = new ComposeApi(api);
  const services = await c.services(flags.cluster, project);
  const rows: Array<{ service: string; task: string; status: string; health: string; ports: string; taskDefinition: string }> = [];
  for (const [name, svc] of [...services].sort(([a], [b]) => a.localeCompare(b))) {
    const tasks = flags.all ? await api.allTasks(flags.cluster, { serviceName: svc.serviceName }) : await api.tasks(flags.cluster, await api.taskArns(flags.cluster, { serviceName: svc.serviceName, desiredStatus: 'RUNNING' }));
    for (const t of tasks) {
      rows.push({
        service: name,
        task: lastSegment(t.taskArn),
        status: t.lastStatus ?? '-',
        health: t.healthStatus ?? '-',
        ports: portBindings(t).map((b) => `${b.hostIp}:${b.hostPort}->${b.containerPort}/${b.protocol}`).join(', '),
        taskDefinition: lastSegment(t.taskDefinitionArn),
      });
    }
  }
  if (flags.output === 'json') term.out(JSON.stringify({ project, tasks: rows }, null, 2) + '\n');
  else term.out(table(['SERVICE', 'TASK', 'STATUS', 'HEALTH', 'TASK DEFINITION', 'PORTS'], rows.map((r) => [r.service, r.task, r.status, r.health, r.taskDefinition, r.ports])));
  return 0;
}

/** `berth compose logs [-f] [service...]`: every service's output, prefixed with its name. */
export async function logsCommand(api: BerthApi, services: string[], flags: ComposeFlags & { follow?: boolean; timestamps?: boolean }, term: Terminal): Promise<number> {
  const { name: project } = projectNameOf(flags, term);
  const c = new ComposeApi(api);
  const all = await c.services(flags.cluster, project);
  const unknown = services.filter((s) => !all.has(s));
  if (unknown.length) throw new ComposeError(`no such service: ${unknown.join(', ')}`);
  const chosen = services.length ? services : [...all.keys()].sort();
  // A service removed meanwhile (a concurrent down) has nothing more to show.
  const gone = (e: unknown) => {
    if (!(e instanceof AwsApiError && e.code === 'ServiceNotFoundException')) throw e;
  };
  await Promise.all(chosen.map((s) => showLogs(api, { cluster: flags.cluster, target: { service: all.get(s)!.serviceName }, follow: flags.follow ?? false, timestamps: flags.timestamps, write: (line) => term.out(line) }).catch(gone)));
  return 0;
}
