/**
 * The Berth agent: one per host. It registers the host as an ECS container instance, long-polls
 * the control plane for the tasks placed on it (the poll is its heartbeat), runs them through a
 * runtime driver, and reports every state change back. Like the ECS agent, each task has one
 * owner (its runner) that moves the task's known status toward the desired one.
 *
 * It talks to the control plane only over the network, through the same endpoint and SigV4
 * credentials as any client, whether it runs on another host or inside `berth up`. When the
 * control plane is unreachable, tasks keep running and reports queue up; on reconnect the
 * agent re-registers if needed and reconciles. Its own state (instance identity, the tasks it
 * runs and their driver handles) lives in `stateDir`, so a restarted agent recovers its tasks
 * instead of restarting them; one agent at a time holds it (./stateLock.ts).
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { writeAtomic } from './files.js';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { AwsApiError, currentEndpoint, jsonService, type ClientConfig } from '../client/awsClient.js';
import { localAddressTowards } from './hostAddress.js';
import type * as Wire from '../generated/berthagent.js';
import { decodeReport, encodeReport, mergeReports, pollTasks, reportTaskState, type AgentTaskSpec, type PolledTask, type TaskReport, type UnusableTask } from './protocol.js';
import type { Driver, PullResult, RegistryAuth } from './drivers/driver.js';
import { RegistryLogins } from './registryLogins.js';
import { LogShipper } from './logShipper.js';
import { recoverOwnedTask, startOwnedTask, type OwnedTask } from './ownedTask.js';
import { systemClock, type Clock } from '../clock.js';
import { VERSION } from '../version.js';
import { lockStateDir, type StateDirLock } from './stateLock.js';
import { TaskCredentialsServer } from './taskCredentials.js';
import { callJson } from '../client/awsClient.js';
import { joinTokenCredentials } from './joinToken.js';

export interface AgentOptions {
  /**
   * The control plane: its endpoint and credentials; with `failoverEndpoints` (other replicas on
   * the same database), the agent moves to the next replica when the one it uses does not answer.
   */
  client: ClientConfig;
  cluster: string;
  driver: Driver;
  /** Where the agent keeps its identity and task handles. */
  stateDir: string;
  /** Extra attributes, e.g. { 'ecs.availability-zone': 'us-east-1b' }. */
  attributes?: Record<string, string>;
  /** CPU units / MiB to offer; default: the host's. */
  cpu?: number;
  memoryMiB?: number;
  /**
   * The EC2 identity of the host, sent as the instance identity document at registration (an
   * Auto Scaling group's agent host: its instance id, zone, type and image).
   */
  identity?: { instanceId: string; availabilityZone?: string; instanceType?: string; imageId?: string };
  /** Long-poll duration in seconds (default 5; also the heartbeat period). */
  pollSeconds?: number;
  clock?: Clock;
  log?: (msg: string) => void;
  /**
   * A join token (`berth join-token create`): the agent joins with it once, and from then on
   * uses the credentials of its own container instance (kept in `<state-dir>/identity.json`),
   * which can act only as that instance. Without one, `client`'s credentials are used as is.
   */
  joinToken?: string;
  /** Lifetime of task role sessions, in seconds (default: the control plane's, one hour). */
  taskCredentialSeconds?: number;
}

interface PersistedIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  containerInstanceArn: string;
  cluster: string;
}

interface PersistedAgent {
  containerInstanceArn: string;
  cluster: string;
}

/** At most this many tasks' reports are on the wire at once. */
const MAX_REPORTS_IN_FLIGHT = 8;

/** Least time between two samples of the tasks' CPU and memory use (sent with the polls). */
const USAGE_SAMPLE_MS = 2_000;

/** Ports no task may claim on a host (ECS reserves the same ones). */
const RESERVED_PORTS = ['22', '2375', '2376', '51678', '51679'];

export class Agent {
  private readonly ecs;
  private readonly credentialsServer: TaskCredentialsServer;
  private readonly registryLogins: RegistryLogins;
  private readonly shipper: LogShipper;
  private readonly tasks = new Map<string, OwnedTask>();
  /**
   * Tasks this agent ran to the end, by ARN (their ids as values), until the control plane says
   * so too: a poll answered before their STOPPED report landed must not start them again. Kept
   * on disk as `tasks/<id>.stopped` (their final report, sent again by a restarted agent).
   */
  private readonly finished = new Map<string, string>();
  private readonly pendingReports = new Map<string, TaskReport>();
  /** GetTaskSecrets calls in flight (or just answered), by task ARN. */
  private readonly secretCalls = new Map<string, Promise<{ secrets?: Array<{ valueFrom: string; value: string }> }>>();
  private readonly reportsInFlight = new Map<string, Promise<void>>();
  private reportScheduled = false;
  private reportDelay = 200;
  private containerInstanceArn: string | undefined;
  private fingerprint: string | undefined;
  private stopped = false;
  private readonly pollAbort = new AbortController();
  private loop: Promise<void> | undefined;
  /** The latest usage sample of the tasks here, the sampling in flight, and when it began (usageForPoll). */
  private usage: Wire.TaskUsage[] = [];
  private usageSampling: Promise<void> | undefined;
  private usageSampledAt = 0;
  private readonly clock: Clock;
  private readonly log: (msg: string) => void;
  /** True while the last call to the control plane succeeded. */
  connected = false;
  private lock: StateDirLock | undefined;
  /** How the agent reaches the control plane: `opts.client`, saying in the log when it moves to another replica. */
  private readonly client: ClientConfig;

  constructor(private readonly opts: AgentOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? ((m) => process.stderr.write(`berth agent: ${m}\n`));
    this.client = { ...opts.client, onFailover: opts.client.onFailover ?? ((from, to, cause) => this.log(`${from} does not answer (${cause.message}); using ${to}`)) };
    this.ecs = jsonService(this.client, 'ecs');
    this.credentialsServer = new TaskCredentialsServer({ client: this.client, clock: this.clock, stateFile: join(opts.stateDir, 'credentials.json'), sessionSeconds: opts.taskCredentialSeconds, address: opts.driver.credentialsAddress });
    this.registryLogins = new RegistryLogins(this.client, this.clock);
    this.shipper = new LogShipper(jsonService(this.client, 'logs'), {
      stateDir: join(opts.stateDir, 'logs'),
      log: (m) => this.log(m),
      onError: (e, dest) => {
        if (!(e instanceof AwsApiError)) return; // unreachable: retried on the next flush
        this.log(`logs for ${dest.group}/${dest.stream}: ${e.message}`);
      },
    });
    mkdirSync(join(opts.stateDir, 'tasks'), { recursive: true });
  }

  /** The registered container instance's ARN (after start). */
  get instanceArn(): string | undefined {
    return this.containerInstanceArn;
  }

  /**
   * Takes the state dir's lock (throws StateDirLocked (./stateLock.ts) when another live agent holds it),
   * recovers persisted tasks, registers, and starts polling. Resolves once registered.
   */
  async start(): Promise<void> {
    this.lock = lockStateDir(this.opts.stateDir);
    if (this.opts.joinToken || existsSync(join(this.opts.stateDir, 'identity.json'))) {
      try {
        await this.retry(() => this.join(), 'join', (e) => e instanceof AwsApiError && e.status >= 400 && e.status < 500 && !/Throttl|TooManyRequests/.test(e.code));
      } catch (e) {
        this.lock.release();
        throw e;
      }
    }
    const credentialsProblem = await this.credentialsServer.start();
    if (credentialsProblem) this.log(`tasks with a task role cannot start here until this is fixed: ${credentialsProblem}`);
    this.shipper.start();
    await this.recover();
    await this.retry(() => this.register(), 'register');
    this.loop = this.pollLoop();
  }

  private agentFile(): string {
    return join(this.opts.stateDir, 'agent.json');
  }

  /**
   * Takes the identity of a joined instance: the one on record, else a new one from `Join` signed
   * with the join token. The client's credentials become the instance's (every call after this).
   */
  private async join(): Promise<void> {
    const file = join(this.opts.stateDir, 'identity.json');
    let id: PersistedIdentity | undefined = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PersistedIdentity) : undefined;
    if (id?.cluster !== this.opts.cluster) {
      if (!this.opts.joinToken) throw new Error(`${file} is for cluster '${id?.cluster}', not '${this.opts.cluster}': pass a join token of this cluster (--join-token) or another --state-dir.`);
      const token = joinTokenCredentials(this.opts.joinToken!);
      const out = await callJson<{ accessKeyId: string; secretAccessKey: string; containerInstanceArn: string }>({ ...this.client, ...token }, 'ecs', 'BerthAgentV1.Join', { cluster: this.opts.cluster });
      id = { ...out, cluster: this.opts.cluster };
      writeAtomic(file, JSON.stringify(id));
      writeAtomic(this.agentFile(), JSON.stringify({ containerInstanceArn: id.containerInstanceArn, cluster: id.cluster } satisfies PersistedAgent));
      this.log(`joined cluster '${this.opts.cluster}' as ${id.containerInstanceArn}`);
    }
    this.client.accessKeyId = id.accessKeyId;
    this.client.secretAccessKey = id.secretAccessKey;
  }

  private async register(): Promise<void> {
    const fp = await this.opts.driver.fingerprint();
    const prior = existsSync(this.agentFile()) ? (JSON.parse(readFileSync(this.agentFile(), 'utf8')) as PersistedAgent) : undefined;
    const cpu = this.opts.cpu ?? (fp.cpus || cpus().length) * 1024;
    const memory = this.opts.memoryMiB ?? (fp.memoryMiB || Math.floor(totalmem() / 1048576));
    const attributes = [
      { name: 'ecs.os-type', value: 'linux' },
      { name: 'ecs.capability.berth.driver', value: fp.name },
      { name: `ecs.capability.berth.driver.${fp.name}` },
      ...(fp.capabilities.memoryLimit ? [{ name: 'ecs.capability.berth.memory-limit' }] : []),
      // Task definitions whose containers mount volumes require these (RegisterTaskDefinition adds them): only drivers that mount get such tasks.
      ...(fp.capabilities.mounts ? [{ name: 'ecs.capability.berth.mounts' }, { name: 'ecs.capability.docker-plugin.local' }] : []),
      ...Object.entries(this.opts.attributes ?? {}).map(([name, value]) => ({ name, value })),
    ];
    if (!attributes.some((a) => a.name === 'ecs.availability-zone')) attributes.push({ name: 'ecs.availability-zone', value: `${this.opts.client.region}a` });
    // Where the load balancer reaches this host's ports (unless given): the address the route to
    // the control plane leaves from; none on loopback (the controller's default is 127.0.0.1).
    if (!attributes.some((a) => a.name === 'berth.address')) {
      const address = await localAddressTowards(currentEndpoint(this.client));
      if (address) attributes.push({ name: 'berth.address', value: address });
    }
    const input = {
      cluster: this.opts.cluster,
      containerInstanceArn: prior?.cluster === this.opts.cluster ? prior.containerInstanceArn : undefined,
      totalResources: [
        { name: 'CPU', type: 'INTEGER', integerValue: cpu },
        { name: 'MEMORY', type: 'INTEGER', integerValue: memory },
        { name: 'PORTS', type: 'STRINGSET', stringSetValue: RESERVED_PORTS },
        { name: 'PORTS_UDP', type: 'STRINGSET', stringSetValue: [] },
      ],
      attributes,
      versionInfo: { agentVersion: VERSION, agentHash: 'berth', dockerVersion: fp.name },
      instanceIdentityDocument: this.opts.identity ? JSON.stringify({ ...this.opts.identity, region: this.opts.client.region }) : undefined,
    };
    let out: { containerInstance?: { containerInstanceArn?: string } };
    try {
      out = await this.ecs('RegisterContainerInstance', input);
    } catch (e) {
      // Like the ECS agent, create the "default" cluster when joining it; other clusters must exist.
      if (e instanceof AwsApiError && e.code === 'ClusterNotFoundException' && this.opts.cluster === 'default') {
        await this.ecs('CreateCluster', { clusterName: 'default' });
        return this.register();
      }
      if (e instanceof AwsApiError && e.code === 'ClusterNotFoundException') {
        throw new Error(`cluster '${this.opts.cluster}' does not exist: create it (aws ecs create-cluster --cluster-name ${this.opts.cluster})`);
      }
      // The control plane forgot this instance (deregistered): register as a new one.
      if (!(e instanceof AwsApiError) || !input.containerInstanceArn || e.status >= 500) throw e;
      out = await this.ecs('RegisterContainerInstance', { ...input, containerInstanceArn: undefined });
    }
    this.containerInstanceArn = out.containerInstance!.containerInstanceArn!;
    this.fingerprint = undefined;
    const persisted: PersistedAgent = { containerInstanceArn: this.containerInstanceArn, cluster: this.opts.cluster };
    writeAtomic(this.agentFile(), JSON.stringify(persisted));
    this.connected = true;
    this.log(`registered ${this.containerInstanceArn} (${fp.name} driver, ${cpu} CPU units, ${memory} MiB)`);
  }

  /** Retries an operation with backoff until it succeeds or the agent stops. */
  /** Calls `fn` until it succeeds; an error `fatal` accepts is thrown at once (retrying cannot help). */
  private async retry(fn: () => Promise<void>, what: string, fatal: (e: unknown) => boolean = () => false): Promise<void> {
    let delay = 200;
    for (;;) {
      try {
        await fn();
        return;
      } catch (e) {
        if (this.stopped || fatal(e)) throw e;
        this.connected = false;
        this.log(`${what} failed (${(e as Error).message}); retrying in ${delay} ms`);
        await sleep(delay);
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  /**
   * The usage of the tasks that run here, for the next poll (`taskUsage`): sampled in the
   * background at most every USAGE_SAMPLE_MS so that a slow runtime never delays the heartbeat;
   * each poll carries the latest complete sample (at most 1000 tasks, the model's bound).
   */
  private usageForPoll(): Wire.TaskUsage[] | undefined {
    const now = Date.now();
    if (!this.usageSampling && now - this.usageSampledAt >= USAGE_SAMPLE_MS) {
      this.usageSampledAt = now;
      this.usageSampling = (async () => {
        const out: Wire.TaskUsage[] = [];
        for (const owned of [...this.tasks.values()].slice(0, 1000)) {
          const u = await owned.usage().catch(() => undefined);
          if (u) out.push({ taskArn: owned.spec.taskArn, cpuTimeMs: u.cpuTimeMs, memoryBytes: u.memoryBytes, sampledAt: new Date() });
        }
        this.usage = out;
      })().finally(() => (this.usageSampling = undefined));
    }
    return this.usage.length ? this.usage : undefined;
  }

  private async pollLoop(): Promise<void> {
    let delay = 200;
    while (!this.stopped) {
      try {
        const out = await pollTasks(
          this.client,
          { cluster: this.opts.cluster, containerInstanceArn: this.containerInstanceArn!, fingerprint: this.fingerprint, waitSeconds: this.opts.pollSeconds ?? 5, taskUsage: this.usageForPoll() },
          { timeoutMs: ((this.opts.pollSeconds ?? 5) + 15) * 1000, signal: this.pollAbort.signal },
        );
        this.connected = true;
        delay = 200;
        this.fingerprint = out.fingerprint;
        await this.reconcile(out.tasks, out.unusable);
        this.kickReports();
      } catch (e) {
        if (this.stopped) return;
        this.connected = false;
        if (e instanceof AwsApiError && (e.code === 'InvalidParameterException' || e.code === 'ClusterNotFoundException') && /not registered|Cluster not found/.test(e.message)) {
          this.log(`control plane does not know this instance (${e.message}); registering again`);
          await this.retry(() => this.register(), 'register').catch(() => undefined);
          continue;
        }
        this.log(`poll failed (${(e as Error).message}); tasks keep running; retrying in ${delay} ms`);
        await sleep(delay);
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  /**
   * Brings local tasks in line with what the control plane wants. A task whose spec the agent
   * cannot use fails to start, saying why (unless it already runs here: then it is left alone,
   * neither restarted nor stopped).
   */
  private async reconcile(polled: PolledTask[], unusable: UnusableTask[]): Promise<void> {
    const wanted = new Set(polled.map((p) => p.spec.taskId));
    const running = new Map([...this.tasks.values()].map((t) => [t.spec.taskArn, t.spec.taskId]));
    for (const u of unusable) {
      const local = u.taskArn === undefined ? undefined : running.get(u.taskArn);
      if (local) wanted.add(local);
      if (u.taskArn === undefined || local) {
        this.log(`polled task ${u.taskArn ?? '(unreadable ARN)'} does not fit the agent channel's model: ${u.problem}`);
        continue;
      }
      this.queueReport(u.taskArn, { status: 'STOPPED', stopCode: 'TaskFailedToStart', reason: `The agent cannot run this task, its spec does not fit the agent channel's model: ${u.problem}` });
    }
    const listed = new Set(polled.map((p) => p.taskArn));
    for (const [arn, id] of this.finished) if (!listed.has(arn)) this.forgetFinished(arn, id);
    for (const p of polled) {
      const local = this.tasks.get(p.spec.taskId);
      const done = this.finished.get(p.taskArn);
      if (!local && done !== undefined) {
        // Ran to its end here: never again. Its STOPPED report is queued (or on its way).
        if (p.lastStatus === 'STOPPED') this.forgetFinished(p.taskArn, done);
        continue;
      }
      if (!local) {
        if (p.desiredStatus === 'STOPPED') {
          // Never started here (or already cleaned up): it is simply stopped.
          this.queueReport(p.taskArn, { status: 'STOPPED', reason: 'Task stopped before it started on the container instance.' });
          continue;
        }
        this.startTask(p.spec);
      } else if (p.desiredStatus === 'STOPPED') {
        local.stop('Task stopped by the control plane');
      }
    }
    // Tasks the control plane no longer lists are over as far as it knows: stop them here too.
    for (const [id, owned] of this.tasks) if (!wanted.has(id) && owned.isActive()) owned.stop('Task is no longer assigned to this container instance');
  }

  /** The task role's endpoint variables (and the endpoint serving the task), for a task with a role. */
  private taskEnvironment(spec: AgentTaskSpec): (() => Promise<Record<string, string>>) | undefined {
    return spec.taskRoleArn ? () => this.credentialsServer.environmentFor(spec.cluster, spec.taskArn, spec.taskId) : undefined;
  }

  private startTask(spec: AgentTaskSpec): void {
    const owned = startOwnedTask(spec, {
      taskEnvironment: this.taskEnvironment(spec),
      driver: this.opts.driver,
      stateDir: join(this.opts.stateDir, 'tasks'),
      clock: this.clock,
      shipper: this.shipper,
      resolveSecret: (valueFrom) => this.resolveSecret(spec, valueFrom),
      pullImage: (image, region) => this.pullImage(image, region),
      report: (r) => this.queueReport(spec.taskArn, r),
      onDone: (s, report) => this.taskDone(s, report),
      log: this.log,
    });
    this.tasks.set(spec.taskId, owned);
  }

  private stoppedFile(taskId: string): string {
    return join(this.opts.stateDir, 'tasks', `${taskId}.stopped`);
  }

  /** A task is STOPPED and cleaned up here: remember it (see `finished`) with its final report. */
  private taskDone(spec: AgentTaskSpec, report: TaskReport | undefined): void {
    this.tasks.delete(spec.taskId);
    this.credentialsServer.unregister(spec.taskId);
    if (report?.status !== 'STOPPED') return;
    this.finished.set(spec.taskArn, spec.taskId);
    try {
      writeAtomic(this.stoppedFile(spec.taskId), JSON.stringify({ taskArn: spec.taskArn, report: encodeReport(report) }));
    } catch (e) {
      this.log(`task ${spec.taskId}: could not record its end: ${(e as Error).message}`);
    }
  }

  private forgetFinished(arn: string, taskId: string): void {
    this.finished.delete(arn);
    rmSync(this.stoppedFile(taskId), { force: true });
  }

  /** After a restart: tasks that ended here, whose end the control plane may not know yet. */
  private recoverFinished(): void {
    const dir = join(this.opts.stateDir, 'tasks');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.stopped'))) {
      const taskId = f.slice(0, -'.stopped'.length);
      try {
        const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { taskArn?: unknown; report?: unknown };
        const report = decodeReport(rec.report);
        if (typeof rec.taskArn !== 'string' || !report.ok) throw new Error(report.ok ? 'no task ARN' : report.problem);
        this.finished.set(rec.taskArn, taskId);
        this.queueReport(rec.taskArn, report.value);
      } catch (e) {
        this.log(`could not read ${f}: ${(e as Error).message}`);
        rmSync(join(dir, f), { force: true });
      }
    }
  }

  private async recover(): Promise<void> {
    this.recoverFinished();
    const dir = join(this.opts.stateDir, 'tasks');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      try {
        const owned = await recoverOwnedTask(join(dir, f), {
          driver: this.opts.driver,
          stateDir: dir,
          clock: this.clock,
          shipper: this.shipper,
          resolveSecret: (valueFrom, spec) => this.resolveSecret(spec, valueFrom),
          pullImage: (image, region) => this.pullImage(image, region),
          report: (r, spec) => this.queueReport(spec.taskArn, r),
          onDone: (s, report) => this.taskDone(s, report),
          log: this.log,
        });
        if (owned) {
          this.tasks.set(owned.spec.taskId, owned);
          if (owned.spec.taskRoleArn) this.credentialsServer.track(owned.spec.cluster, owned.spec.taskArn, owned.spec.taskId);
        }
      } catch (e) {
        this.log(`could not recover ${f}: ${(e as Error).message}`);
        rmSync(join(dir, f), { force: true });
      }
    }
    // Log cursors of tasks that are no more (their state file went missing or bad) are of no use.
    this.shipper.pruneStateFiles();
    if (this.tasks.size) this.log(`recovered ${this.tasks.size} task(s)`);
  }

  /**
   * Pulls an image with the credentials of Berth's registry when it is one of its images (see
   * ./registryLogins.ts); a failed pull of such an image says which tags its repository has.
   */
  private async pullImage(image: string, region: string): Promise<PullResult> {
    let auth: RegistryAuth | undefined;
    let authProblem = '';
    try {
      auth = await this.registryLogins.authFor(image, region);
    } catch (e) {
      // Maybe not Berth's registry at all: pull without, and say why should it fail.
      authProblem = ` (no registry credentials: ${(e as Error).message})`;
    }
    try {
      return await this.opts.driver.pullImage(image, auth);
    } catch (e) {
      const why = auth ? await this.registryLogins.explainMissingTag(image, region).catch(() => undefined) : undefined;
      // What the repository has comes first: reasons are cut at 255 characters, docker's text is long.
      throw new Error(`${why ? `${why}: ` : ''}${(e as Error).message}${authProblem}`);
    }
  }

  /**
   * A secret of a task, from the control plane's GetTaskSecrets (which checks the task runs here
   * and, with an execution role, that the role may read it); one call serves a task's secrets.
   */
  private async resolveSecret(spec: AgentTaskSpec, valueFrom: string): Promise<string> {
    const isArn = valueFrom.startsWith('arn:');
    let pending = this.secretCalls.get(spec.taskArn);
    if (!pending) {
      pending = callJson<{ secrets?: Array<{ valueFrom: string; value: string }> }>(this.client, 'ecs', 'BerthAgentV1.GetTaskSecrets', { cluster: spec.cluster, taskArn: spec.taskArn });
      this.secretCalls.set(spec.taskArn, pending);
      // Values are not kept: the next task start asks again.
      void pending.catch(() => undefined).finally(() => setTimeout(() => this.secretCalls.delete(spec.taskArn), 1_000).unref());
    }
    const out = await pending;
    const v = out.secrets?.find((s) => s.valueFrom === valueFrom)?.value;
    if (v === undefined) throw new Error(`parameter ${isArn ? valueFrom : `'${valueFrom}'`} does not exist or is not readable`);
    return v;
  }

  /** Reports are snapshots: the newest supersedes, but fields it does not carry are kept from older ones. */
  private queueReport(taskArn: string, r: TaskReport): void {
    this.pendingReports.set(taskArn, mergeReports(this.pendingReports.get(taskArn), r)!);
    this.kickReports();
  }

  /**
   * Sends queued reports on the next turn of the event loop, so the state changes of one
   * synchronous burst (container RUNNING, task ACTIVATING, task RUNNING) go as one report. Tasks
   * report concurrently (up to MAX_REPORTS_IN_FLIGHT), each task's reports in order, one at a time.
   */
  private kickReports(): void {
    if (this.reportScheduled || this.pendingReports.size === 0) return;
    this.reportScheduled = true;
    setImmediate(() => {
      this.reportScheduled = false;
      this.sendReports();
    });
  }

  private sendReports(): void {
    for (const [arn, report] of [...this.pendingReports]) {
      if (this.reportsInFlight.size >= MAX_REPORTS_IN_FLIGHT) break;
      if (this.reportsInFlight.has(arn)) continue;
      this.pendingReports.delete(arn);
      const sent = this.sendReport(arn, report).finally(() => {
        this.reportsInFlight.delete(arn);
        if (this.pendingReports.size && !this.stopped) this.kickReports();
      });
      this.reportsInFlight.set(arn, sent);
    }
  }

  private async sendReport(arn: string, report: TaskReport): Promise<void> {
    try {
      await reportTaskState(this.client, this.opts.cluster, arn, report);
      this.reportDelay = 200;
    } catch (e) {
      if (e instanceof AwsApiError && e.status < 500 && e.code !== 'ThrottlingException') {
        this.log(`report for ${arn} rejected: ${e.message}`);
        return;
      }
      // Unreachable: queue it again under anything newer, and wait before the next attempt.
      this.pendingReports.set(arn, mergeReports(report, this.pendingReports.get(arn))!);
      if (this.stopped) return;
      await sleep(this.reportDelay);
      this.reportDelay = Math.min(this.reportDelay * 2, 5_000);
    }
  }

  /** Resolves when every queued report has been delivered (or `ms` passes). */
  async drainReports(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while ((this.pendingReports.size || this.reportsInFlight.size) && Date.now() < deadline) {
      if (this.pendingReports.size && !this.reportsInFlight.size) this.sendReports();
      await Promise.race([...this.reportsInFlight.values(), sleep(20)]);
    }
  }

  /**
   * Stops the agent. By default running tasks are left running (the next agent on this state
   * dir recovers them), like the ECS agent; with `stopTasks` they are stopped and cleaned up
   * first (for `berth up --ephemeral`).
   */
  async close(opts: { stopTasks?: boolean } = {}): Promise<void> {
    if (opts.stopTasks) {
      const all = [...this.tasks.values()];
      for (const owned of all) owned.stop('Berth is shutting down');
      await Promise.all(all.map((owned) => owned.done.catch(() => undefined)));
    }
    this.stopped = true;
    this.pollAbort.abort();
    await this.drainReports(2_000);
    await this.shipper.close();
    for (const owned of this.tasks.values()) owned.detach();
    await this.loop?.catch(() => undefined);
    this.opts.driver.close?.();
    this.credentialsServer.close();
    this.lock?.release();
    this.lock = undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
