/**
 * The mapping from a compose project to ECS, ELBv2 and Logs resources (docs/compose.md has the
 * table). Pure: `planProject` turns a normalized project plus what `up` looked up (the host ports
 * chosen earlier, the secrets' SSM ARNs) into one plan per service:
 *
 * - a task definition family `<project>-<service>` with one container named after the service;
 * - an ECS service `<project>-<service>` with `deploy.replicas` tasks (a service others wait for
 *   with `service_completed_successfully` runs as a one-off task instead);
 * - every container port a service declares (`ports` or `expose`) gets a stable *service port*
 *   on the host: the published port, else one chosen once by `up` and kept in the task
 *   definition; a published port with `app_protocol: http` is served by the project's load
 *   balancer (an HTTP listener on the published port, a target group of the service's tasks);
 * - names, docker driver: every container joins the project's network `berth-compose-<project>`
 *   (the `berth.network` docker label) with its service name, `hostname` and network aliases as
 *   DNS names, so `redis:6379` works as under docker compose; unpublished ports need no host port;
 * - names, process driver (processes on one host share its loopback): every service is told where
 *   each service is by environment variables, for its name, `hostname` and network aliases
 *   (`REDIS_HOST=127.0.0.1`, `REDIS_PORT`, `REDIS_PORT_6379=<service port>`). The docker driver
 *   sets the same variables to the DNS name and container port, so one program runs on both.
 *   A variable the file sets itself wins.
 */
import { createHash } from 'node:crypto';
import { applyEcsParams, type EcsParams } from './ecsParams.js';
import type { ComposeProject, ComposeService } from './model.js';
import { ecsConfigsOf } from './configs.js';
import { ecsVolumesOf } from './volumes.js';

/** The tags on everything compose creates. */
export const PROJECT_TAG = 'berth:compose:project';
/** The compose service a resource belongs to. */
export const SERVICE_TAG = 'berth:compose:service';
/** A digest of a service's task definition input (and load balancing): a changed one rolls the service. */
export const HASH_TAG = 'berth:compose:hash';

/** The memory reservation (MiB) of a service that sets neither a limit nor a reservation (ECS needs one). */
export const DEFAULT_MEMORY_RESERVATION_MIB = 64;

/** `<project>-<service>`: the family and the ECS service name. */
export function resourceName(project: string, service: string): string {
  return `${project}-${service}`;
}

/** The image name a service's build gets (docker compose's): `image:`, else `<project>-<service>`. */
export function builtImageName(project: string, service: string, image: string | undefined): string {
  return image ?? `${project}-${service}`;
}

/** The log group of a project's services (unless `logging.options.awslogs-group` names another). */
export function logGroupOf(project: string): string {
  return `/compose/${project}`;
}

/** The SSM parameter holding a file- or environment-sourced secret. */
export function secretParameterName(project: string, secret: string): string {
  return `/compose/${project}/secrets/${secret}`;
}

/** The project's load balancer name (at most 32 characters, as ELBv2 allows). */
export function loadBalancerName(project: string): string {
  return shortName(`compose-${project}`);
}

/** A target group name for a service's container port (at most 32 characters). */
export function targetGroupName(project: string, service: string, port: number): string {
  return shortName(`${project}-${service}-${port}`);
}

function shortName(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
  if (clean.length <= 32) return clean;
  const digest = createHash('sha256').update(s).digest('hex').slice(0, 6);
  return `${clean.slice(0, 25).replace(/-+$/, '')}-${digest}`;
}

/** `redis` -> `REDIS`, `my-db.local` -> `MY_DB_LOCAL`: a name as an environment variable prefix. */
export function envPrefix(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** A container port of a service and where it is reached on the host. */
export interface ServicePort {
  target: number;
  protocol: 'tcp' | 'udp';
  /** The host port other services use: the listener's port behind the load balancer, else the container's host port. */
  address: number;
  /** The host port in the task definition (0 behind the load balancer: any free port). */
  hostPort: number;
  /** Served by the project's load balancer on `address` (HTTP). */
  loadBalanced: boolean;
}

/** What `up` does for one compose service. */
export interface ServicePlan {
  service: string;
  /** The family and ECS service name. */
  name: string;
  ports: ServicePort[];
  /** RegisterTaskDefinition's input (without tags). */
  taskDefinition: Record<string, unknown>;
  desiredCount: number;
  /** A one-off task (others wait for it to complete) rather than an ECS service. */
  oneShot: boolean;
  /** HASH_TAG's value for this plan. */
  hash: string;
  /** The log group it writes to (created by up when it is the project's). */
  logGroup: string;
  /** Adjustments made to fit ECS (a health check interval raised to 5 s...), for the user. */
  notes: string[];
}

/** The runtime the cluster's agents use (`ecs.capability.berth.driver`). */
export type Driver = 'docker' | 'process';

/** The docker network of a project (docker driver). */
export function projectNetworkName(project: string): string {
  return `berth-compose-${project}`;
}

/** What `planProject` needs besides the project. */
export interface PlanInputs {
  driver: Driver;
  /** The address services reach each other at. */
  hostAddress: string;
  /** Host ports chosen earlier (or now) for unpublished container ports: `service` -> target -> port. */
  chosenPorts: Map<string, Map<number, number>>;
  /** `valueFrom` of each top-level secret (an SSM parameter ARN or name). */
  secretRefs: Map<string, string>;
  /** ecs-cli's ecs-params.yml, read. */
  ecsParams?: EcsParams;
  /** Images built and pushed by up (build.ts): image name -> `<repositoryUri>@<digest>`. */
  images?: Map<string, string>;
}

/** The service ports of a service, given the host ports chosen for its unpublished ones. */
export function servicePorts(svc: ComposeService, chosen: Map<number, number> | undefined, driver: Driver = 'process'): ServicePort[] {
  const out = new Map<string, ServicePort>();
  for (const p of svc.ports) {
    const key = `${p.target}/${p.protocol}`;
    if (out.has(key)) continue;
    const loadBalanced = p.app_protocol === 'http' && p.published !== undefined && p.protocol === 'tcp';
    const hostPort = loadBalanced ? 0 : (p.published ?? (driver === 'docker' ? 0 : (chosen?.get(p.target) ?? 0)));
    // Behind the load balancer the address is the listener's port on every driver (the docker
    // driver's containers reach each other at the container port instead: discoveryEnvironment).
    out.set(key, { target: p.target, protocol: p.protocol, address: loadBalanced ? p.published! : driver === 'docker' ? p.target : hostPort, hostPort, loadBalanced });
  }
  for (const target of svc.expose) {
    const key = `${target}/tcp`;
    // On the project network an exposed port is reached directly: no host port.
    if (out.has(key) || driver === 'docker') continue;
    const hostPort = chosen?.get(target) ?? 0;
    out.set(key, { target, protocol: 'tcp', address: hostPort, hostPort, loadBalanced: false });
  }
  return [...out.values()];
}

/** The container ports of a service that need a host port chosen by `up` (neither published nor load balanced). */
export function portsToChoose(svc: ComposeService, driver: Driver): number[] {
  if (driver === 'docker') return [];
  return servicePorts(svc, undefined, driver).filter((p) => p.hostPort === 0 && !p.loadBalanced).map((p) => p.target);
}

/** The services others wait on with `service_completed_successfully`: they run once as tasks. */
export function oneShotServices(project: ComposeProject): Set<string> {
  const out = new Set<string>();
  for (const s of Object.values(project.services)) for (const [dep, d] of Object.entries(s.depends_on)) if (d.condition === 'service_completed_successfully') out.add(dep);
  return out;
}

/** The environment variables that tell every service where the others are. */
export function discoveryEnvironment(project: ComposeProject, ports: Map<string, ServicePort[]>, hostAddress: string, driver: Driver = 'process'): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of Object.keys(project.services).sort()) {
    const svc = project.services[name]!;
    // On docker every declared container port is reached at its own number on the project network.
    const sp = driver === 'docker' ? [...new Set([...svc.ports.map((p) => p.target), ...svc.expose])].map((target) => ({ target, address: target })) : (ports.get(name) ?? []);
    for (const alias of new Set([name, ...(svc.hostname ? [svc.hostname] : []), ...svc.aliases])) {
      const prefix = envPrefix(alias);
      env[`${prefix}_HOST`] = driver === 'docker' ? alias : hostAddress;
      if (sp[0]) env[`${prefix}_PORT`] = String(sp[0].address);
      for (const p of sp) env[`${prefix}_PORT_${p.target}`] = String(p.address);
    }
  }
  return env;
}

function clamp(v: number, lo: number, hi: number, what: string, notes: string[], unit = 's'): number {
  const r = Math.round(v);
  const out = Math.min(hi, Math.max(lo, r));
  if (out !== v) notes.push(`${what} ${v}${unit} became ${out}${unit} (ECS allows ${lo}-${hi})`);
  return out;
}

/** Plans every service of a project. */
export function planProject(project: ComposeProject, inputs: PlanInputs): ServicePlan[] {
  const ports = new Map<string, ServicePort[]>();
  for (const [name, svc] of Object.entries(project.services)) ports.set(name, servicePorts(svc, inputs.chosenPorts.get(name), inputs.driver));
  const discovery = discoveryEnvironment(project, ports, inputs.hostAddress, inputs.driver);
  const oneShots = oneShotServices(project);
  return Object.values(project.services).map((svc) => planService(project, svc, ports.get(svc.name)!, discovery, oneShots.has(svc.name), inputs));
}

function planService(project: ComposeProject, svc: ComposeService, ports: ServicePort[], discovery: Record<string, string>, oneShot: boolean, inputs: PlanInputs): ServicePlan {
  const notes: string[] = [];
  const name = resourceName(project.name, svc.name);
  const env = { ...discovery, ...svc.environment };
  const logGroup = svc.logging?.options['awslogs-group'] ?? logGroupOf(project.name);
  const container: Record<string, unknown> = {
    name: svc.name,
    image: inputs.images?.get(builtImageName(project.name, svc.name, svc.image)) ?? svc.image ?? builtImageName(project.name, svc.name, undefined),
    essential: true,
    environment: Object.keys(env).sort().map((k) => ({ name: k, value: env[k]! })),
    portMappings: ports.map((p) => ({ containerPort: p.target, hostPort: p.hostPort, protocol: p.protocol })),
    logConfiguration: {
      logDriver: 'awslogs',
      options: { 'awslogs-stream-prefix': project.name, ...(svc.logging?.options ?? {}), 'awslogs-group': logGroup },
    },
  };
  if (svc.command) container.command = svc.command;
  if (svc.entrypoint) container.entryPoint = svc.entrypoint;
  if (svc.hostname) container.hostname = svc.hostname;
  if (svc.working_dir) container.workingDirectory = svc.working_dir;
  if (svc.user) container.user = svc.user;
  if (svc.read_only !== undefined) container.readonlyRootFilesystem = svc.read_only;
  if (svc.stop_grace_period !== undefined) container.stopTimeout = Math.min(120, Math.round(svc.stop_grace_period));
  const labels = { ...svc.labels };
  if (inputs.driver === 'docker') {
    labels['berth.network'] = projectNetworkName(project.name);
    if (svc.aliases.length) labels['berth.network-aliases'] = svc.aliases.join(',');
  }
  if (Object.keys(labels).length) container.dockerLabels = labels;
  if (svc.mem_limit !== undefined) container.memory = Math.max(6, svc.mem_limit);
  if (svc.mem_reservation !== undefined) container.memoryReservation = Math.max(6, svc.mem_reservation);
  if (svc.mem_limit === undefined && svc.mem_reservation === undefined) container.memoryReservation = DEFAULT_MEMORY_RESERVATION_MIB;
  const cpu = svc.cpus !== undefined ? Math.round(svc.cpus * 1024) : svc.cpu_shares;
  if (cpu !== undefined) container.cpu = cpu;
  if (svc.healthcheck) {
    const h = svc.healthcheck;
    container.healthCheck = {
      command: h.test,
      interval: clamp(h.interval, 5, 300, 'healthcheck.interval', notes),
      timeout: clamp(h.timeout, 2, 60, 'healthcheck.timeout', notes),
      retries: clamp(h.retries, 1, 10, 'healthcheck.retries', notes, ''),
      startPeriod: clamp(h.start_period, 0, 300, 'healthcheck.start_period', notes),
    };
  }
  if (svc.secrets.length) container.secrets = svc.secrets.map((s) => ({ name: s.target, valueFrom: inputs.secretRefs.get(s.source) ?? s.source }));
  const taskDefinition: Record<string, unknown> = { family: name, networkMode: 'bridge', containerDefinitions: [container] };
  if (svc.volumes.length || svc.configs.length) {
    const mounted = ecsVolumesOf(project.name, svc.volumes, project.volumes);
    const configs = ecsConfigsOf(project.workingDir, project.name, svc.configs, project.configs);
    container.mountPoints = [...mounted.mountPoints, ...configs.mountPoints];
    taskDefinition.volumes = [...mounted.volumes, ...configs.volumes];
  }
  const role = svc.extensions['x-aws-role'];
  if (typeof role === 'string' && role.startsWith('arn:')) taskDefinition.taskRoleArn = role;
  else if (role !== undefined) notes.push('x-aws-role: only a role ARN is used (an inline policy document is not)');
  if (inputs.ecsParams) applyEcsParams(taskDefinition, svc.name, inputs.ecsParams);
  const desiredCount = oneShot ? 1 : svc.replicas;
  const hash = createHash('sha256').update(canonicalJson({ taskDefinition, oneShot, lb: ports.filter((p) => p.loadBalanced) })).digest('hex').slice(0, 32);
  return { service: svc.name, name, ports, taskDefinition, desiredCount, oneShot, hash, logGroup, notes };
}

/** JSON with object keys sorted, so equal inputs hash alike. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
