#!/usr/bin/env node
// Prints an ECS task definition for one of the examples, for
//   aws ecs register-task-definition --cli-input-json "$(node examples/taskdef.mjs web)"
//
// Usage: node examples/taskdef.mjs <web|worker> [--driver process|docker] [--env K=V]...
//
// The process driver runs the command as a host process (the image is not used), so the
// command names this machine's node and the example's file by absolute path; the docker driver
// runs the berth-examples image that examples/build-image.sh builds from this machine's node.
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { driver: { type: 'string', default: 'process' }, env: { type: 'string', multiple: true, default: [] } },
});
const app = positionals[0];
if (app !== 'web' && app !== 'worker') {
  process.stderr.write('usage: node examples/taskdef.mjs <web|worker> [--driver process|docker] [--env K=V]...\n');
  process.exit(2);
}
if (values.driver !== 'process' && values.driver !== 'docker') {
  process.stderr.write(`--driver must be process or docker, not ${values.driver}\n`);
  process.exit(2);
}
const file = app === 'web' ? 'web/server.mjs' : 'worker/worker.mjs';
const docker = values.driver === 'docker';
const environment = values.env.map((kv) => {
  const i = kv.indexOf('=');
  if (i <= 0) {
    process.stderr.write(`--env takes K=V, not ${kv}\n`);
    process.exit(2);
  }
  return { name: kv.slice(0, i), value: kv.slice(i + 1) };
});
const container = {
  name: app,
  image: docker ? 'berth-examples:latest' : 'host',
  command: docker ? ['node', `/app/${file}`] : [process.execPath, resolve(here, file)],
  essential: true,
  memory: 128,
  environment,
  portMappings: app === 'web' ? [{ containerPort: 8080, hostPort: 0, protocol: 'tcp' }] : [],
  logConfiguration: {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': '/berth/examples',
      'awslogs-region': process.env.AWS_DEFAULT_REGION ?? process.env.AWS_REGION ?? 'us-east-1',
      'awslogs-stream-prefix': app,
      'awslogs-create-group': 'true',
    },
  },
};
process.stdout.write(JSON.stringify({ family: app, containerDefinitions: [container] }, null, 2) + '\n');
