// The deploy scripts of the ECS Node.js microservices sample, run through the real aws CLI:
// the ECS calls each script makes (register-task-definition, describe-services, create-service
// with --load-balancers, update-service) are read from the scripts in place, their shell
// variables filled in, and each answer must have the shape the script's --query expects. The
// target groups the scripts name are made first, behind a load balancer, as the sample's stack
// makes them. The sample lives in ../shared (outside this repository): without it these tests
// skip, saying so (test/ecs/services.test.ts covers the same calls with the project's own data).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { aws, awsOk, freePort, hasAwsCli, startTestBerth, type TestBerth } from '../helpers/fixture.js';

const SAMPLE = fileURLToPath(new URL('../../../../shared/fixtures/cloudformation/amazon-ecs-nodejs-microservices/', import.meta.url));
const skip = !existsSync(SAMPLE) ? `the sample deploy scripts are not at ${SAMPLE} (optional fixtures from ../shared)` : !hasAwsCli() ? 'aws CLI not installed' : false;

let berth: TestBerth;
before(async () => {
  berth = await startTestBerth();
});
after(async () => {
  await berth.close();
});

interface Script {
  services: string[];
  containerDefinitions: string;
  loadBalancers: string;
  registerQuery: string;
  describeQuery: string;
  text: string;
}

/** Pulls what the script sends to ECS out of deploy.sh. */
function readScript(dir: string): Script {
  const text = readFileSync(`${SAMPLE}${dir}/deploy.sh`, 'utf8');
  const heredoc = (name: string) => {
    const m = new RegExp(`${name}=\\$\\(cat <<-EOF\\n([\\s\\S]*?)\\n\\s*EOF\\)`).exec(text);
    assert.ok(m, `${dir}/deploy.sh defines ${name}`);
    return m[1]!;
  };
  const query = (cmd: string) => {
    const m = new RegExp(`aws ecs ${cmd}[^\`]*?--query "([^"]+)"`).exec(text);
    assert.ok(m, `${dir}/deploy.sh queries ${cmd}`);
    return m[1]!;
  };
  const services = /DEPLOYABLE_SERVICES=\(([\s\S]*?)\);/.exec(text)![1]!.split(/\s+/).filter(Boolean);
  return { services, containerDefinitions: heredoc('CONTAINER_DEFINITIONS'), loadBalancers: heredoc('LOAD_BALANCERS'), registerQuery: query('register-task-definition'), describeQuery: query('describe-services'), text };
}

/**
 * A load balancer with one target group per service (the first as the listener's default, the
 * others behind path rules), as the sample's CloudFormation stack provisions them. Returns the
 * target group ARN of each service.
 */
async function targetGroups(env: NodeJS.ProcessEnv, name: string, services: string[]): Promise<Map<string, string>> {
  const lb = (await awsOk(env, ['elbv2', 'create-load-balancer', '--name', name, '--subnets', 'subnet-a', 'subnet-b'])).LoadBalancers[0].LoadBalancerArn as string;
  const tgs = new Map<string, string>();
  for (const s of services) {
    const out = await awsOk(env, ['elbv2', 'create-target-group', '--name', `${name}-${s}`.slice(0, 32).replace(/-$/, ''), '--protocol', 'HTTP', '--port', '3000', '--vpc-id', 'vpc-local']);
    tgs.set(s, out.TargetGroups[0].TargetGroupArn as string);
  }
  const [first, ...rest] = [...tgs.values()];
  const listener = (await awsOk(env, ['elbv2', 'create-listener', '--load-balancer-arn', lb, '--protocol', 'HTTP', '--port', String(await freePort()), '--default-actions', `Type=forward,TargetGroupArn=${first}`])).Listeners[0].ListenerArn as string;
  for (const [i, tg] of rest.entries()) {
    await awsOk(env, ['elbv2', 'create-rule', '--listener-arn', listener, '--priority', String(i + 1), '--conditions', `Field=path-pattern,Values=/${services[i + 1]}*`, '--actions', `Type=forward,TargetGroupArn=${tg}`]);
  }
  return tgs;
}

function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\$([A-Z_]+)/g, (_, v: string) => {
    assert.ok(v in vars, `template variable $${v} is known`);
    return vars[v]!;
  });
}

// The two samples deploy into separate clusters, so they run side by side (the CLI is slow to start).
describe('ECS microservices sample deploy scripts', { concurrency: 2 }, () => {
for (const dir of ['2-containerized', '3-microservices']) {
  test(`deploy.sh of ${dir}: first deploy creates services, the second updates them`, { skip }, async () => {
    const script = readScript(dir);
    // The script uses these flags; make sure we exercise the same ones.
    for (const flag of ['--container-definitions', '--load-balancers "$LOAD_BALANCERS"', '--role $ECS_ROLE', '--desired-count 1', '--task-definition $TASK_DEFINITION_ARN']) {
      assert.ok(script.text.includes(flag), `script uses ${flag}`);
    }
    const env = berth.awsEnv;
    const acct = berth.platform.accountId;
    const REGION = 'us-east-1';
    const CLUSTER_NAME = `sample-${dir}`;
    const ECS_ROLE = `arn:aws:iam::${acct}:role/${CLUSTER_NAME}-ECSRole`;
    await awsOk(env, ['ecs', 'create-cluster', '--cluster-name', CLUSTER_NAME]);
    const tgs = await targetGroups(env, `s${dir.slice(0, 1)}`, script.services);

    for (const round of [1, 2]) {
      for (const SERVICE_NAME of script.services) {
        const vars = { SERVICE_NAME, REPO: `${acct}.dkr.ecr.${REGION}.amazonaws.com/${SERVICE_NAME}`, TAG: String(1700000000 + round) };
        const TASK_DEFINITION_ARN: string = await awsOk(env, [
          'ecs', 'register-task-definition', '--region', REGION, '--family', SERVICE_NAME,
          '--container-definitions', fill(script.containerDefinitions, vars),
          '--query', script.registerQuery, '--output', 'text',
        ]);
        assert.equal(TASK_DEFINITION_ARN, `arn:aws:ecs:${REGION}:${acct}:task-definition/${SERVICE_NAME}:${round}`);

        const STATUS: string = await awsOk(env, [
          'ecs', 'describe-services', '--region', REGION, '--cluster', CLUSTER_NAME, '--services', SERVICE_NAME,
          '--query', script.describeQuery, '--output', 'text',
        ]);
        if (round === 1) {
          assert.equal(STATUS, 'None', 'an unknown service answers with no services[0] (a MISSING failure)');
          const TARGET_GROUP_ARN = tgs.get(SERVICE_NAME)!;
          const result = await awsOk(env, [
            'ecs', 'create-service', '--region', REGION, '--cluster', CLUSTER_NAME,
            '--load-balancers', fill(script.loadBalancers, { TARGET_GROUP_ARN, SERVICE_NAME }),
            '--service-name', SERVICE_NAME, '--role', ECS_ROLE, '--task-definition', TASK_DEFINITION_ARN, '--desired-count', '1',
          ]);
          const svc = result.service;
          assert.equal(svc.status, 'ACTIVE');
          assert.equal(svc.serviceArn, `arn:aws:ecs:${REGION}:${acct}:service/${CLUSTER_NAME}/${SERVICE_NAME}`);
          assert.equal(svc.taskDefinition, TASK_DEFINITION_ARN);
          assert.equal(svc.desiredCount, 1);
          assert.equal(svc.roleArn, ECS_ROLE);
          assert.deepEqual(svc.loadBalancers, [{ targetGroupArn: TARGET_GROUP_ARN, containerName: SERVICE_NAME, containerPort: 3000 }]);
          assert.deepEqual(svc.deploymentConfiguration, { deploymentCircuitBreaker: { enable: false, rollback: false }, maximumPercent: 200, minimumHealthyPercent: 100 });
          assert.equal(svc.deployments.length, 1);
          assert.equal(svc.deployments[0].status, 'PRIMARY');
          assert.match(svc.deployments[0].id, /^ecs-svc\/\d{19}$/);
          assert.equal(svc.deployments[0].rolloutState, 'IN_PROGRESS');
        } else {
          assert.equal(STATUS, 'ACTIVE');
          const result = await awsOk(env, [
            'ecs', 'update-service', '--region', REGION, '--cluster', CLUSTER_NAME, '--service', SERVICE_NAME, '--task-definition', TASK_DEFINITION_ARN,
          ]);
          const svc = result.service;
          assert.equal(svc.taskDefinition, TASK_DEFINITION_ARN);
          assert.deepEqual(svc.deployments.map((d: { status: string }) => d.status), ['PRIMARY', 'ACTIVE']);
          assert.equal(svc.deployments[0].taskDefinition, TASK_DEFINITION_ARN);
          assert.equal(svc.deployments[1].taskDefinition, TASK_DEFINITION_ARN.replace(/:2$/, ':1'));
          assert.notEqual(svc.deployments[0].id, svc.deployments[1].id);
        }
      }
    }
    if (dir !== '3-microservices') return;
    // The background-service branch of the script (no load balancer) works too.
    const bg = await awsOk(env, ['ecs', 'create-service', '--cluster', CLUSTER_NAME, '--service-name', 'background', '--task-definition', script.services[0]!, '--desired-count', '1']);
    assert.deepEqual(bg.service.loadBalancers, []);
    assert.equal(bg.service.taskDefinition.endsWith(`${script.services[0]}:2`), true, 'a bare family resolves to its latest ACTIVE revision');

    // A load balancer that names a port the container does not expose is refused as on ECS.
    const bad = await aws(env, [
      'ecs', 'create-service', '--cluster', CLUSTER_NAME, '--service-name', 'badlb', '--task-definition', script.services[0]!, '--desired-count', '1',
      '--load-balancers', JSON.stringify([{ targetGroupArn: `arn:aws:elasticloadbalancing:${REGION}:${acct}:targetgroup/x/0123456789abcdef`, containerName: script.services[0], containerPort: 8080 }]),
    ]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /InvalidParameterException.*did not have a container port 8080/);
    const listed = await awsOk(env, ['ecs', 'list-services', '--cluster', CLUSTER_NAME, '--query', 'serviceArns', '--output', 'json']);
    assert.equal(listed.length, script.services.length + 1);
  });
}
});
