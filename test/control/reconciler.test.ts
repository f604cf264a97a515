import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock.js';
import { seededRandom } from '../../src/domain/placement/placement.js';
import { circuitBreakerThreshold, decide, isInstanceLost, maxTasks, minHealthyTasks, serviceEvents } from '../../src/control/reconciler.js';
import type { DeploymentView, ObservedTask, ReconcileAction, ServiceDesired } from '../../src/control/types.js';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef';
const STEP_MS = 10_000;

/** A deployment record. */
function dep(id: string, status: DeploymentView['status'], rolloutState: DeploymentView['rolloutState'], createdAt: number, extra: Partial<DeploymentView> = {}): DeploymentView {
  return { id, status, taskDefinition: `web:${id.slice(-1)}`, rolloutState, createdAt, failedTasks: 0, ...extra };
}

const types = (as: ReconcileAction[]) => as.map((a) => a.type);
const events = (as: ReconcileAction[]) => as.flatMap((a) => (a.type === 'event' ? [a.message] : []));

// -------------------------------------------------------------------------------------------
// A small simulator of the world the controller drives: ECS agents start and stop tasks, the
// target group moves targets through initial -> healthy and draining -> gone, instances drain
// or get lost. It applies the reconciler's actions exactly as the controller is meant to.
// -------------------------------------------------------------------------------------------

interface SimOptions {
  desiredCount: number;
  minimumHealthyPercent: number;
  maximumPercent: number;
  lb: boolean;
  hasHealthCheck: boolean;
  graceSeconds: number;
  deregistrationDelaySeconds: number;
  /** Whether the target group lets a draining target go before the delay (connections closed). */
  earlyDrainEnd: boolean;
  circuitBreaker?: { enable: boolean; rollback: boolean };
  instances: number;
}

class Sim {
  clock = new ManualClock();
  svc: ServiceDesired & { deployments: DeploymentView[] };
  tasks = new Map<string, ObservedTask>();
  failing = new Set<string>(); // deployment ids whose tasks never start
  drainingInstances = new Set<string>();
  lostInstances = new Set<string>();
  log: string[] = [];
  nextId = 1;
  rr = 0;
  violations: string[] = [];

  constructor(readonly o: SimOptions) {
    this.svc = {
      serviceName: 'web',
      status: 'ACTIVE',
      desiredCount: o.desiredCount,
      deployments: [],
      minimumHealthyPercent: o.minimumHealthyPercent,
      maximumPercent: o.maximumPercent,
      circuitBreaker: o.circuitBreaker,
      healthCheckGracePeriodSeconds: o.graceSeconds,
      targetGroupArns: o.lb ? [TG] : [],
      steady: false,
    };
  }

  get now() {
    return this.clock.now();
  }
  instanceIds() {
    return Array.from({ length: this.o.instances }, (_, i) => `ci-${i}`);
  }
  live() {
    return [...this.tasks.values()].filter((t) => t.lastStatus !== 'STOPPED');
  }
  primary() {
    return this.svc.deployments.find((d) => d.status === 'PRIMARY')!;
  }
  healthy(t: ObservedTask) {
    if (t.lastStatus !== 'RUNNING' || t.desiredStatus !== 'RUNNING' || t.drainStartedAt !== undefined || this.lostInstances.has(t.containerInstanceId ?? '')) return false;
    if (this.o.lb) return t.targetHealth === 'healthy';
    if (this.o.hasHealthCheck) return t.healthStatus === 'HEALTHY';
    return t.startedAt !== undefined && this.now >= t.startedAt + this.o.graceSeconds * 1000;
  }

  /** Creates a running, healthy task (for initial states). */
  seedTask(deploymentId: string, instance?: string): ObservedTask {
    const id = `t${this.nextId++}`;
    const t: ObservedTask = {
      taskId: id,
      deploymentId,
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      startedAt: this.now - 3_600_000,
      createdAt: this.now - 3_600_000 + this.nextId,
      healthStatus: this.o.hasHealthCheck ? 'HEALTHY' : 'UNKNOWN',
      containerInstanceId: instance ?? this.instanceIds()[this.rr++ % this.o.instances],
      targetHealth: this.o.lb ? 'healthy' : undefined,
    };
    this.tasks.set(id, t);
    return t;
  }

  deployNew(id: string) {
    for (const d of this.svc.deployments) if (d.status === 'PRIMARY') d.status = 'ACTIVE';
    this.svc.deployments.push(dep(id, 'PRIMARY', 'IN_PROGRESS', this.now, { hasHealthCheck: this.o.hasHealthCheck }));
    this.svc.steady = false;
  }

  observation() {
    const tasks = [...this.tasks.values()].map((t) => ({ ...t }));
    // A lost instance: its agent disconnected long ago. A DRAINING one: status DRAINING.
    const instances = Object.fromEntries(
      this.instanceIds().map((id, i) => [
        id,
        {
          status: this.drainingInstances.has(id) ? 'DRAINING' : 'ACTIVE',
          agentConnected: !this.lostInstances.has(id),
          disconnectedAt: this.lostInstances.has(id) ? this.now - 3_600_000 : undefined,
          attributes: { 'ecs.availability-zone': `us-east-1${'abc'[i % 3]}` },
          remainingCpu: 1024,
          remainingMemory: 1024 * (i + 1),
        },
      ]),
    );
    return { tasks, deregistrationDelaySeconds: this.o.deregistrationDelaySeconds, instances };
  }

  decide(): ReconcileAction[] {
    return decide(structuredClone(this.svc), this.observation(), this.now);
  }

  apply(actions: ReconcileAction[]) {
    for (const a of actions) {
      switch (a.type) {
        case 'startTasks': {
          const usable = this.instanceIds().filter((i) => !this.drainingInstances.has(i) && !this.lostInstances.has(i));
          const started: string[] = [];
          for (let k = 0; k < a.count; k++) {
            const id = `t${this.nextId++}`;
            this.tasks.set(id, {
              taskId: id,
              deploymentId: a.deploymentId,
              lastStatus: 'PROVISIONING',
              desiredStatus: 'RUNNING',
              createdAt: this.now,
              healthStatus: 'UNKNOWN',
              containerInstanceId: usable[this.rr++ % usable.length],
              targetHealth: this.o.lb ? 'none' : undefined,
            });
            started.push(id);
          }
          this.log.push(serviceEvents.startedTasks(this.svc.serviceName, started));
          break;
        }
        case 'stopTask': {
          const t = this.tasks.get(a.taskId)!;
          assert.equal(t.desiredStatus, 'RUNNING', `stopTask ${a.taskId} repeated`);
          t.desiredStatus = 'STOPPED';
          break;
        }
        case 'registerTarget': {
          const t = this.tasks.get(a.taskId)!;
          assert.ok(t.targetHealth === 'none' || t.targetHealth === undefined, `registerTarget ${a.taskId} repeated`);
          t.targetHealth = 'initial';
          break;
        }
        case 'deregisterTarget': {
          const t = this.tasks.get(a.taskId)!;
          assert.ok(t.targetHealth !== 'draining' && t.targetHealth !== 'none', `deregisterTarget ${a.taskId} repeated`);
          t.targetHealth = 'draining';
          t.drainStartedAt = this.now;
          break;
        }
        case 'markDeploymentCompleted': {
          const d = this.svc.deployments.find((x) => x.id === a.deploymentId)!;
          assert.equal(d.rolloutState, 'IN_PROGRESS', 'completed twice');
          d.rolloutState = 'COMPLETED';
          // Older deployments without tasks go away (ECS drops them from the service).
          const liveDeps = new Set(this.live().map((t) => t.deploymentId));
          this.svc.deployments = this.svc.deployments.filter((x) => x.id === d.id || liveDeps.has(x.id));
          break;
        }
        case 'markDeploymentFailed': {
          const d = this.svc.deployments.find((x) => x.id === a.deploymentId)!;
          assert.equal(d.rolloutState, 'IN_PROGRESS', 'failed twice');
          d.rolloutState = 'FAILED';
          break;
        }
        case 'rollback': {
          // As the domain does it: a new PRIMARY deployment on the task definition rolled back to.
          const from = this.svc.deployments.find((x) => x.id === a.fromDeploymentId)!;
          const to = this.svc.deployments.find((x) => x.id === a.toDeploymentId)!;
          from.status = 'ACTIVE';
          this.svc.deployments.push(dep(`ecs-svc/rollback-${this.nextId++}`, 'PRIMARY', 'IN_PROGRESS', this.now, { taskDefinition: to.taskDefinition, hasHealthCheck: to.hasHealthCheck, rollbackOf: to.id }));
          break;
        }
        case 'markTaskStopped': {
          const t = this.tasks.get(a.taskId)!;
          assert.notEqual(t.lastStatus, 'STOPPED', `markTaskStopped ${a.taskId} repeated`);
          t.lastStatus = 'STOPPED';
          t.desiredStatus = 'STOPPED';
          break;
        }
        case 'setFailedTasks': {
          const d = this.svc.deployments.find((x) => x.id === a.deploymentId)!;
          assert.ok(a.failedTasks > d.failedTasks, 'failedTasks only rises');
          d.failedTasks = a.failedTasks;
          break;
        }
        case 'setRunningCounts':
          for (const c of a.deployments) {
            const d = this.svc.deployments.find((x) => x.id === c.deploymentId);
            if (d) Object.assign(d, { runningCount: c.runningCount, pendingCount: c.pendingCount });
          }
          break;
        case 'setSteadyState':
          this.svc.steady = a.steady;
          break;
        case 'markServiceInactive':
          this.svc.status = 'INACTIVE';
          break;
        case 'event':
          this.log.push(a.message);
          break;
      }
    }
  }

  /** The world moves on by one step. */
  advance() {
    this.clock.advance(STEP_MS);
    const now = this.now;
    for (const t of this.tasks.values()) {
      if (t.lastStatus === 'STOPPED') continue;
      const lost = t.containerInstanceId !== undefined && this.lostInstances.has(t.containerInstanceId);
      if (t.desiredStatus === 'STOPPED') {
        t.lastStatus = 'STOPPED';
        if (t.targetHealth && t.targetHealth !== 'draining') t.targetHealth = 'none';
        continue;
      }
      if (lost) continue;
      if (t.lastStatus === 'PROVISIONING') t.lastStatus = 'PENDING';
      else if (t.lastStatus === 'PENDING') {
        if (this.failing.has(t.deploymentId)) {
          // The reconciler counts it against the deployment's circuit breaker (setFailedTasks).
          t.lastStatus = 'STOPPED';
          t.desiredStatus = 'STOPPED';
          t.stopCode = 'TaskFailedToStart';
        } else {
          t.lastStatus = 'RUNNING';
          t.startedAt = now;
        }
      } else if (t.lastStatus === 'RUNNING') {
        if (this.o.hasHealthCheck && t.healthStatus === 'UNKNOWN') t.healthStatus = 'HEALTHY';
        if (t.targetHealth === 'initial') t.targetHealth = 'healthy';
      }
      if (t.targetHealth === 'draining' && this.o.earlyDrainEnd && now - t.drainStartedAt! >= 2 * STEP_MS) t.targetHealth = 'none';
    }
  }

  /** One controller round with the safety properties checked. */
  round(checkMinHealthy: boolean) {
    const live = this.live().filter((t) => !(t.containerInstanceId && this.lostInstances.has(t.containerInstanceId)));
    const max = maxTasks(this.svc);
    const min = minHealthyTasks(this.svc);
    const healthyBefore = live.filter((t) => this.healthy(t)).length;
    const withinMax = live.length <= max;
    const actions = this.decide();
    this.apply(actions);
    // Idempotency: deciding again on the same (unchanged) world repeats nothing.
    const again = this.decide();
    for (const a of again) {
      if (a.type === 'startTasks' && actions.some((b) => b.type === 'startTasks' && b.deploymentId === a.deploymentId)) this.violations.push(`startTasks repeated at ${this.now}`);
      if ((a.type === 'stopTask' || a.type === 'markTaskStopped' || a.type === 'registerTarget' || a.type === 'deregisterTarget') && actions.some((b) => b.type === a.type && (b as { taskId: string }).taskId === a.taskId)) this.violations.push(`${a.type} ${a.taskId} repeated`);
      if (a.type === 'setFailedTasks' && actions.some((b) => b.type === 'setFailedTasks' && b.deploymentId === a.deploymentId)) this.violations.push(`setFailedTasks ${a.deploymentId} repeated`);
      if (a.type === 'event' && actions.some((b) => b.type === 'event' && b.message === a.message)) this.violations.push(`event repeated: ${a.message}`);
    }
    this.apply(again.filter((a) => a.type !== 'event' || !actions.some((b) => b.type === 'event' && b.message === a.message)));
    const after = this.live().filter((t) => !(t.containerInstanceId && this.lostInstances.has(t.containerInstanceId)));
    if (withinMax && after.length > max) this.violations.push(`maximumPercent exceeded: ${after.length} > ${max}`);
    const healthyAfter = after.filter((t) => this.healthy(t)).length;
    if (checkMinHealthy && healthyBefore >= min && healthyAfter < min) this.violations.push(`minimumHealthyPercent broken: ${healthyAfter} < ${min} (was ${healthyBefore})`);
    this.advance();
    return actions;
  }

  steady(): boolean {
    const p = this.primary();
    const live = this.live();
    return (
      this.svc.steady === true &&
      p.rolloutState === 'COMPLETED' &&
      live.length === this.svc.desiredCount &&
      live.every((t) => t.deploymentId === p.id && this.healthy(t) && !this.drainingInstances.has(t.containerInstanceId!))
    );
  }

  /** Runs rounds until steady; returns the number of rounds. */
  runUntilSteady(limit: number, checkMinHealthy = true): number {
    for (let i = 1; i <= limit; i++) {
      this.round(checkMinHealthy);
      if (this.steady()) return i;
    }
    assert.fail(`not steady after ${limit} rounds: ${JSON.stringify({ svc: this.svc, live: this.live() })}`);
  }
}

function steadyService(o: Partial<SimOptions> = {}): Sim {
  const sim = new Sim({
    desiredCount: 3,
    minimumHealthyPercent: 100,
    maximumPercent: 200,
    lb: false,
    hasHealthCheck: false,
    graceSeconds: 0,
    deregistrationDelaySeconds: 30,
    earlyDrainEnd: false,
    instances: 4,
    ...o,
  });
  sim.svc.deployments.push(dep('ecs-svc/1000000000000000001', 'PRIMARY', 'COMPLETED', sim.now - 7_200_000, { hasHealthCheck: sim.o.hasHealthCheck }));
  for (let i = 0; i < sim.o.desiredCount; i++) sim.seedTask('ecs-svc/1000000000000000001');
  return sim;
}

describe('reconciler: single decisions', () => {
  it('computes ECS bounds and the circuit-breaker threshold', () => {
    assert.deepEqual([0, 1, 5, 6, 7, 10, 400, 1000].map(circuitBreakerThreshold), [3, 3, 3, 3, 4, 5, 200, 200]);
    assert.equal(maxTasks({ desiredCount: 3, maximumPercent: 150 }), 4);
    assert.equal(minHealthyTasks({ desiredCount: 3, minimumHealthyPercent: 50 }), 2);
    assert.equal(maxTasks({ desiredCount: 4 }), 8);
    assert.equal(minHealthyTasks({ desiredCount: 4 }), 4);
  });

  it('considers an instance lost once its agent stayed disconnected past the timeout', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(isInstanceLost({ status: 'ACTIVE', agentConnected: true }, now), false);
    assert.equal(isInstanceLost({ status: 'ACTIVE', agentConnected: false, disconnectedAt: now - 4_000 }, now), false, 'default: lost after 5 s');
    assert.equal(isInstanceLost({ status: 'ACTIVE', agentConnected: false, disconnectedAt: now - 5_000 }, now), true);
    assert.equal(isInstanceLost({ status: 'ACTIVE', agentConnected: false, disconnectedAt: now - 60_000 }, now, 5 * 60_000), false);
    assert.equal(isInstanceLost({ status: 'ACTIVE', agentConnected: false, disconnectedAt: now - 60_000 }, now, 30_000), true);
    assert.equal(isInstanceLost({ status: 'ACTIVE', agentConnected: false }, now), true, 'disconnected since an unknown time');
    assert.equal(isInstanceLost({ status: 'INACTIVE', agentConnected: true }, now), true);
    assert.equal(isInstanceLost(undefined, now), true);
  });

  it('starts desiredCount tasks for a new service, once', () => {
    const sim = steadyService({ desiredCount: 0 });
    sim.svc.desiredCount = 2;
    sim.svc.deployments = [dep('ecs-svc/1', 'PRIMARY', 'IN_PROGRESS', sim.now)];
    const a = sim.decide();
    assert.deepEqual(a.filter((x) => x.type === 'startTasks'), [{ type: 'startTasks', deploymentId: 'ecs-svc/1', count: 2 }]);
    sim.apply(a);
    assert.deepEqual(types(sim.decide()).filter((t) => t === 'startTasks'), []);
    assert.equal(serviceEvents.startedTasks('web', ['abc', 'def']), '(service web) has started 2 tasks: (task abc) (task def).');
  });

  it('registers running tasks behind the load balancer with the ECS event', () => {
    const sim = steadyService({ lb: true, desiredCount: 1 });
    [...sim.tasks.values()][0]!.targetHealth = 'none';
    const a = sim.decide();
    assert.deepEqual(a.filter((x) => x.type === 'registerTarget').length, 1);
    assert.deepEqual(events(a), [`(service web) registered 1 targets in (target-group ${TG})`]);
  });

  it('deregisters, drains for the deregistration delay, then stops an old task (ECS events)', () => {
    const sim = steadyService({ lb: true, desiredCount: 1, minimumHealthyPercent: 0, maximumPercent: 100, deregistrationDelaySeconds: 25 });
    sim.deployNew('ecs-svc/2000000000000000002');
    const old = [...sim.tasks.values()][0]!;
    const a1 = sim.decide();
    assert.deepEqual(a1.filter((x) => x.type === 'deregisterTarget'), [{ type: 'deregisterTarget', taskId: old.taskId }]);
    assert.ok(!a1.some((x) => x.type === 'startTasks'), 'maximumPercent 100 leaves no room until the old task is gone');
    assert.deepEqual(events(a1), [`(service web) deregistered 1 targets in (target-group ${TG})`, '(service web) has begun draining connections on 1 tasks.']);
    sim.apply(a1);
    sim.clock.advance(20_000);
    assert.ok(!sim.decide().some((x) => x.type === 'stopTask'), 'still draining');
    sim.clock.advance(5_000);
    const a3 = sim.decide();
    assert.deepEqual(a3.filter((x) => x.type === 'stopTask'), [{ type: 'stopTask', taskId: old.taskId, reason: 'Scaling activity initiated by (deployment ecs-svc/2000000000000000002)' }]);
    assert.ok(events(a3).includes(`(service web) has stopped 1 running tasks: (task ${old.taskId}).`));
  });

  it('keeps a deregistered task for the whole deregistration delay even when its target left draining early (as ALB and ECS do)', () => {
    const sim = steadyService({ lb: true, desiredCount: 1, minimumHealthyPercent: 0, deregistrationDelaySeconds: 30 });
    const t = [...sim.tasks.values()][0]!;
    Object.assign(t, { targetHealth: 'none', drainStartedAt: sim.now - 1000 });
    sim.svc.desiredCount = 0;
    const stops = () => sim.decide().filter((x) => x.type === 'stopTask').map((x) => (x as { taskId: string }).taskId);
    assert.deepEqual(stops(), [], 'still draining');
    t.drainStartedAt = sim.now - 30_000;
    assert.deepEqual(stops(), [t.taskId], 'the delay has passed');
  });

  it('bounds a rolling update by maximumPercent and minimumHealthyPercent', () => {
    const sim = steadyService({ desiredCount: 4, minimumHealthyPercent: 50, maximumPercent: 150 });
    sim.deployNew('ecs-svc/2');
    const a = sim.decide();
    assert.deepEqual(a.filter((x) => x.type === 'startTasks'), [{ type: 'startTasks', deploymentId: 'ecs-svc/2', count: 2 }]);
    assert.equal(a.filter((x) => x.type === 'stopTask').length, 2, 'two of four old tasks may go (50% healthy kept)');
  });

  it('scales in following the placement strategy (keeps tasks spread across AZs)', () => {
    const sim = steadyService({ desiredCount: 6, instances: 6 });
    // ci-0..5 are in AZs a,b,c,a,b,c; put 3 tasks in a, 2 in b, 1 in c.
    const where = ['ci-0', 'ci-3', 'ci-0', 'ci-1', 'ci-4', 'ci-2'];
    [...sim.tasks.values()].forEach((t, i) => (t.containerInstanceId = where[i]));
    sim.svc.desiredCount = 3;
    sim.svc.minimumHealthyPercent = 0;
    sim.svc.placementStrategy = [{ type: 'spread', field: 'attribute:ecs.availability-zone' }];
    const stopped = new Set(sim.decide().flatMap((a) => (a.type === 'stopTask' ? [a.taskId] : [])));
    assert.equal(stopped.size, 3);
    const left = [...sim.tasks.values()].filter((t) => !stopped.has(t.taskId)).map((t) => 'abc'[Number(t.containerInstanceId!.slice(3)) % 3]);
    assert.deepEqual(left.sort(), ['a', 'b', 'c']);
  });

  it('emits the steady-state event once, and completes a deployment with its ECS event', () => {
    const sim = steadyService({ desiredCount: 2 });
    const p = sim.primary();
    p.rolloutState = 'IN_PROGRESS';
    const a = sim.decide();
    assert.deepEqual(events(a), [`(service web) (deployment ${p.id}) deployment completed.`, '(service web) has reached a steady state.']);
    sim.apply(a);
    assert.deepEqual(events(sim.decide()), []);
  });

  it('replaces a task that failed its ELB health check start-first: stopped only once its replacement is healthy', () => {
    const sim = steadyService({ lb: true, desiredCount: 2, graceSeconds: 0, maximumPercent: 200, minimumHealthyPercent: 100 });
    const [bad, good] = [...sim.tasks.values()];
    bad!.targetHealth = 'unhealthy';
    const first = sim.decide();
    assert.deepEqual(first.filter((x) => x.type === 'startTasks').map((x) => (x as { count: number }).count), [1]);
    assert.ok(!first.some((x) => (x.type === 'stopTask' || x.type === 'deregisterTarget') && x.taskId === bad!.taskId), 'the failed task stays until its replacement is healthy');
    let stoppedAt: number | undefined;
    for (let i = 0; i < 10 && stoppedAt === undefined; i++) {
      // Before the failed task goes, a replacement is registered and healthy: the group never
      // loses its last routable target.
      const replacementHealthyBefore = [...sim.tasks.values()].some((t) => t !== bad && t !== good && t.targetHealth === 'healthy');
      const a = sim.round(true);
      const stop = a.find((x) => x.type === 'stopTask' && x.taskId === bad!.taskId);
      if (!stop) continue;
      stoppedAt = i;
      assert.ok(replacementHealthyBefore, 'stopped before its replacement was healthy');
      assert.deepEqual(stop, { type: 'stopTask', taskId: bad!.taskId, reason: `Task failed ELB health checks in (target-group ${TG})` });
      assert.ok(a.some((x) => x.type === 'deregisterTarget' && x.taskId === bad!.taskId));
      assert.ok(stoppedAt > 0);
    }
    assert.notEqual(stoppedAt, undefined, 'the failed task was never stopped');
    assert.equal(good!.desiredStatus, 'RUNNING');
    assert.deepEqual(sim.violations, []);
    sim.runUntilSteady(10);
  });

  it('a rolling update while every target fails its checks (the group fails open) never drains the last routable target', () => {
    const sim = steadyService({ lb: true, desiredCount: 2, graceSeconds: 0, maximumPercent: 200, minimumHealthyPercent: 100 });
    for (const t of sim.tasks.values()) t.targetHealth = 'unhealthy';
    sim.deployNew('ecs-svc/2000000000000000002');
    // Routable: registered, not draining, running (with no healthy target, ALB routes to all of them).
    const routable = () => sim.live().filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING' && (t.targetHealth === 'initial' || t.targetHealth === 'healthy' || t.targetHealth === 'unhealthy')).length;
    const first = sim.decide();
    assert.ok(!first.some((a) => a.type === 'deregisterTarget' || a.type === 'stopTask'), 'the serving old tasks stay while nothing replaces them');
    for (let i = 0; i < 12 && !sim.steady(); i++) {
      sim.round(false);
      assert.ok(routable() >= 1, `no routable target left at round ${i}: ${JSON.stringify(sim.live())}`);
    }
    assert.ok(sim.steady(), 'the update completes');
    assert.deepEqual(sim.violations, []);
  });

  it('replaces a failed task stop-first when maximumPercent leaves no room', () => {
    const sim = steadyService({ lb: true, desiredCount: 2, graceSeconds: 0, maximumPercent: 100, minimumHealthyPercent: 50 });
    const bad = [...sim.tasks.values()][0]!;
    bad.targetHealth = 'unhealthy';
    const a = sim.decide();
    assert.ok(a.some((x) => x.type === 'stopTask' && x.taskId === bad.taskId));
    assert.ok(!a.some((x) => x.type === 'startTasks'));
  });

  it('a replacement that fails too makes room: the older failed task goes (no deadlock at maximumPercent)', () => {
    const sim = steadyService({ lb: true, desiredCount: 2, graceSeconds: 0, maximumPercent: 150, minimumHealthyPercent: 100 });
    const [bad] = [...sim.tasks.values()];
    bad!.targetHealth = 'unhealthy';
    sim.apply(sim.decide());
    const replacement = [...sim.tasks.values()].find((t) => t.lastStatus === 'PROVISIONING')!;
    Object.assign(replacement, { lastStatus: 'RUNNING', startedAt: sim.now, targetHealth: 'unhealthy' });
    const a = sim.decide();
    assert.deepEqual(a.filter((x) => x.type === 'stopTask').map((x) => (x as { taskId: string }).taskId), [bad!.taskId]);
  });

  it('replaces a task that failed its ELB health check after the grace period, not before', () => {
    const sim = steadyService({ lb: true, desiredCount: 1, graceSeconds: 60, maximumPercent: 100, minimumHealthyPercent: 0 });
    const t = [...sim.tasks.values()][0]!;
    t.targetHealth = 'unhealthy';
    t.startedAt = sim.now - 30_000;
    assert.ok(!sim.decide().some((x) => x.type === 'stopTask'), 'within the grace period');
    t.startedAt = sim.now - 90_000;
    const a = sim.decide();
    assert.deepEqual(a.filter((x) => x.type === 'stopTask'), [{ type: 'stopTask', taskId: t.taskId, reason: `Task failed ELB health checks in (target-group ${TG})` }]);
  });

  it('a DRAINING (deleted) service drains and stops everything, then goes INACTIVE', () => {
    const sim = steadyService({ lb: true, desiredCount: 3, earlyDrainEnd: true });
    sim.svc.status = 'DRAINING';
    sim.svc.desiredCount = 0;
    const first = sim.decide();
    assert.equal(first.filter((a) => a.type === 'deregisterTarget').length, 3);
    assert.ok(events(first).includes('(service web) has begun draining connections on 3 tasks.'));
    for (let i = 0; i < 20 && sim.svc.status !== 'INACTIVE'; i++) sim.round(false);
    assert.equal(sim.svc.status, 'INACTIVE');
    assert.equal(sim.live().length, 0);
    assert.deepEqual(sim.violations, []);
  });
});

describe('reconciler: simulated convergence', () => {
  it('rolling deployments converge to a steady state within bounds for 300 random services', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = seededRandom(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
      let o: SimOptions;
      do {
        o = {
          desiredCount: Math.floor(rnd() * 9),
          minimumHealthyPercent: pick([0, 50, 100]),
          maximumPercent: pick([100, 150, 200]),
          lb: rnd() < 0.5,
          hasHealthCheck: rnd() < 0.5,
          graceSeconds: pick([0, 30]),
          deregistrationDelaySeconds: pick([0, 30, 300]),
          earlyDrainEnd: rnd() < 0.5,
          instances: 2 + Math.floor(rnd() * 4),
        };
        // Like ECS, min 100% with max 100% (or bounds that round to the same) can never move.
      } while (o.desiredCount > 0 && maxTasks(o) <= o.desiredCount && minHealthyTasks(o) >= o.desiredCount);
      const sim = steadyService(o);
      try {
        sim.deployNew(`ecs-svc/${seed}000000000000002`);
        const stuck = (n: number) => n > 0 && maxTasks({ ...o, desiredCount: n }) <= n && minHealthyTasks({ ...o, desiredCount: n }) >= n;
        if (rnd() < 0.3) {
          const n = Math.floor(rnd() * 9);
          if (!stuck(n)) sim.svc.desiredCount = n;
        }
        if (rnd() < 0.3) sim.drainingInstances.add('ci-0');
        if (rnd() < 0.5) sim.svc.placementStrategy = pick([[{ type: 'spread', field: 'attribute:ecs.availability-zone' }, { type: 'binpack', field: 'memory' }], [{ type: 'spread', field: 'instanceId' }], [{ type: 'random' }]]);
        // Bounded: each replacement wave takes a few rounds plus the deregistration delay.
        sim.runUntilSteady(60 + 9 * (o.deregistrationDelaySeconds / (STEP_MS / 1000) + 6));
        assert.deepEqual(sim.violations, [], `seed ${seed}`);
        assert.ok(
          sim.live().every((t) => t.containerInstanceId !== 'ci-0' || !sim.drainingInstances.has('ci-0')),
          'no task left on the draining instance',
        );
        assert.equal(sim.primary().id, `ecs-svc/${seed}000000000000002`);
      } catch (e) {
        (e as Error).message = `seed ${seed} ${JSON.stringify(o)}: ${(e as Error).message}`;
        throw e;
      }
    }
  });

  it('replaces tasks on a DRAINING instance and on a lost instance', () => {
    const sim = steadyService({ desiredCount: 4, instances: 4, lb: true, earlyDrainEnd: true });
    sim.round(true);
    assert.ok(sim.steady());
    sim.drainingInstances.add('ci-1');
    sim.lostInstances.add('ci-2');
    sim.svc.steady = true;
    const rounds = sim.runUntilSteady(60, false);
    assert.ok(rounds > 1);
    assert.deepEqual(sim.violations, []);
    for (const t of sim.live()) assert.ok(t.containerInstanceId !== 'ci-1' && t.containerInstanceId !== 'ci-2', `${t.taskId} on ${t.containerInstanceId}`);
    assert.equal(sim.live().length, 4);
  });

  it('circuit breaker fails a deployment whose tasks never start and rolls back to the last completed one', () => {
    for (const d of [1, 3, 10]) {
      const sim = steadyService({ desiredCount: d, circuitBreaker: { enable: true, rollback: true }, lb: true, earlyDrainEnd: true, minimumHealthyPercent: 50 });
      const good = sim.primary().id;
      const goodTd = sim.primary().taskDefinition;
      sim.deployNew('ecs-svc/9000000000000000009');
      sim.failing.add('ecs-svc/9000000000000000009');
      sim.runUntilSteady(200, false);
      assert.equal(sim.primary().rollbackOf, good, 'rolled back: a new PRIMARY returning to the good deployment');
      assert.equal(sim.primary().taskDefinition, goodTd);
      const bad = sim.svc.deployments.find((x) => x.id === 'ecs-svc/9000000000000000009');
      assert.ok(bad === undefined || bad.rolloutState === 'FAILED');
      assert.ok(sim.log.includes('(service web) (deployment ecs-svc/9000000000000000009) deployment failed: tasks failed to start.'));
      assert.ok(sim.log.includes(`(service web) rolling back to deployment ${good}.`));
      assert.ok(sim.log.includes('(service web) has reached a steady state.'));
      const failedCount = [...sim.tasks.values()].filter((t) => t.deploymentId === 'ecs-svc/9000000000000000009').length;
      assert.ok(failedCount >= circuitBreakerThreshold(d), `${failedCount} failed tasks before tripping`);
      assert.deepEqual(sim.violations, []);
    }
  });

  it('circuit breaker without rollback marks FAILED, stops launching and keeps the old tasks', () => {
    const sim = steadyService({ desiredCount: 2, circuitBreaker: { enable: true, rollback: false } });
    const good = sim.primary().id;
    sim.deployNew('ecs-svc/9');
    sim.failing.add('ecs-svc/9');
    for (let i = 0; i < 40; i++) sim.round(true);
    assert.equal(sim.primary().rolloutState, 'FAILED');
    const launched = [...sim.tasks.values()].filter((t) => t.deploymentId === 'ecs-svc/9').length;
    for (let i = 0; i < 10; i++) sim.round(true);
    assert.equal([...sim.tasks.values()].filter((t) => t.deploymentId === 'ecs-svc/9').length, launched, 'no more launches');
    assert.equal(sim.live().filter((t) => t.deploymentId === good && sim.healthy(t)).length, 2);
    assert.deepEqual(sim.violations, []);
  });
});
