/**
 * A Berth worth looking at in a browser, shared by the console's browser tests and
 * scripts/console-screenshots.mjs: a real agent (process driver), a load balancer with a
 * listener and a target group, service `web` (2 tasks, each a tiny node HTTP server that logs
 * every request it serves and answers 500 under /fail), a parameter, and the way to drive a
 * headless Debian chromium (or say why there is none).
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { ECSClient, RegisterTaskDefinitionCommand, CreateServiceCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client, CreateLoadBalancerCommand, CreateListenerCommand, ModifyTargetGroupAttributesCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SSMClient, PutParameterCommand } from '@aws-sdk/client-ssm';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually } from '../helpers/fixture.js';
import { createTestTargetGroup, TASK_TARGET_HEALTH, freePort } from '../lb/backends.js';
import { startCliBerth, type CliBerth } from '../cli/helpers.js';

/** Debian's chromium, which the browser tests drive. */
export const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export function noBrowser(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `no chromium at ${CHROMIUM} (apt-get install chromium)`;
}

/** A headless chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** The container: logs each request, answers 500 under /fail and its VERSION otherwise. */
export const WEB_JS =
  "require('http').createServer((q,s)=>{if(q.url!=='/')console.log('served '+q.url+' by '+process.env.VERSION);s.statusCode=q.url.startsWith('/fail')?500:200;s.end(process.env.VERSION)}).listen(process.env.PORT);setInterval(()=>console.log('tick '+Date.now()),2000)";

/** The running scenario. */
export interface Scenario {
  cb: CliBerth;
  ecs: ECSClient;
  elb: ElasticLoadBalancingV2Client;
  /** The listener's port. */
  port: number;
  targetGroup: string;
  close(): Promise<void>;
}

/** Registers revision `version` of task definition web (VERSION=`version`). */
export async function registerWeb(ecs: ECSClient, version: string): Promise<void> {
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'web',
      containerDefinitions: [
        {
          name: 'web',
          image: 'host',
          memory: 32,
          portMappings: [{ containerPort: 8080, hostPort: 0 }],
          command: [process.execPath, '-e', WEB_JS],
          environment: [{ name: 'VERSION', value: version }],
          secrets: [{ name: 'DB_PASSWORD', valueFrom: '/web/db-password' }],
        },
      ],
    }),
  );
}

/** Starts it all and waits until web:1 is steady with 2 healthy targets (on failure, stops what it started). */
export async function startScenario(): Promise<Scenario> {
  const cb = await startCliBerth({ console: { liveMs: 250, logPollMs: 150, metricsIntervalMs: 500 } });
  try {
    return await populate(cb);
  } catch (e) {
    await cb.close();
    throw e;
  }
}

async function populate(cb: CliBerth): Promise<Scenario> {
  const ecs = new ECSClient(cb.berth.clientConfig);
  const elb = new ElasticLoadBalancingV2Client(cb.berth.clientConfig);
  await new SSMClient(cb.berth.clientConfig).send(new PutParameterCommand({ Name: '/web/db-password', Type: 'SecureString', Value: 'correct-horse-battery-staple' }));
  const lb = (await elb.send(new CreateLoadBalancerCommand({ Name: 'front', Subnets: ['subnet-a', 'subnet-b'] }))).LoadBalancers![0]!.LoadBalancerArn!;
  const targetGroup = await createTestTargetGroup(elb, 'web', { HealthCheckPath: '/', HealthCheckIntervalSeconds: 5, ...TASK_TARGET_HEALTH });
  await elb.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: targetGroup, Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '1' }] }));
  const port = await freePort();
  await elb.send(new CreateListenerCommand({ LoadBalancerArn: lb, Protocol: 'HTTP', Port: port, DefaultActions: [{ Type: 'forward', TargetGroupArn: targetGroup }] }));
  await registerWeb(ecs, 'v1');
  await ecs.send(
    new CreateServiceCommand({
      cluster: 'default',
      serviceName: 'web',
      taskDefinition: 'web:1',
      desiredCount: 2,
      loadBalancers: [{ targetGroupArn: targetGroup, containerName: 'web', containerPort: 8080 }],
      deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } },
    }),
  );
  let seen = '';
  await eventually(
    async () => {
      const s = (await ecs.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]!;
      const health = (await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroup }))).TargetHealthDescriptions ?? [];
      seen = `deployments ${s.deployments!.map((d) => `${d.rolloutState} ${d.runningCount}/${d.desiredCount}`).join(', ')}; targets ${health.map((h) => `${h.TargetHealth?.State} ${h.TargetHealth?.Reason ?? ''}`).join(', ')}; events: ${(s.events ?? []).slice(0, 3).map((e) => e.message).join(' | ')}`;
      return s.deployments!.length === 1 && s.deployments![0]!.rolloutState === 'COMPLETED' && health.filter((h) => h.TargetHealth?.State === 'healthy').length === 2;
    },
    { what: 'web:1 steady behind the load balancer', timeoutMs: 90_000 },
  ).catch((e) => {
    throw new Error(`${(e as Error).message} (last seen: ${seen})`);
  });
  return {
    cb,
    ecs,
    elb,
    port,
    targetGroup,
    async close() {
      ecs.destroy();
      elb.destroy();
      await cb.close();
    },
  };
}

/** One GET to a local port; resolves with the status. */
export function hit(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end();
  });
}

/** Signs a page in through the console's sign-in form and waits for the clusters page. */
export async function signInPage(page: Page, url: string, creds: { accessKeyId: string; secretAccessKey: string }): Promise<void> {
  await page.goto(`${url}/console/`);
  await page.fill('input[name=accessKeyId]', creds.accessKeyId);
  await page.fill('input[name=secretAccessKey]', creds.secretAccessKey);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=principal]:has-text("' + creds.accessKeyId + '")');
}
