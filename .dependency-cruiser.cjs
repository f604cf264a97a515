/**
 * Berth's import rules (run by `npm run check:architecture`, part of `npm test`). The layers and
 * why they are ordered this way are in docs/architecture.md:
 *
 *   protocol -> server (gateway) -> services (API handlers) -> domain -> store (state, blobs)
 *   control, lb, registry (controllers, data planes, the registry front) -> domain
 *   berth.ts (the composition root) -> anything; cli -> berth.ts, agent, client
 *
 * Kernel modules anyone may import: src/errors.ts, src/clock.ts, src/version.ts, src/privateFiles.ts, src/logsLimits.ts, src/httpBody.ts, src/generated/.
 */
const layer = (name) => `^src/${name}/`;

/** A rule forbidding `from` to import any of `to` (paths relative to the repo root). */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles hide which module owns what; break the cycle by moving the shared piece down a layer.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    forbid(
      'store-is-the-bottom',
      'The store knows nothing of Berth above it: no domain, services, controllers or data planes.',
      layer('store'),
      '^src/(?!store/|errors\\.ts|clock\\.ts|version\\.ts|privateFiles\\.ts|logsLimits\\.ts|httpBody\\.ts)',
    ),
    forbid(
      'domain-below-handlers',
      'The domain (records, invariants, transitions) never depends on API handlers, the gateway, controllers, data planes, the registry front, the agent or the CLI; they depend on it.',
      layer('domain'),
      '^src/(services|server|control|lb|registry|agent|cli|client|protocol)/|^src/berth\\.ts',
    ),
    forbid(
      'handlers-never-see-http',
      'API handlers take decoded input and return output: no gateway or HTTP listener, no controllers, data planes or registry front (they get typed ports), no agent or CLI.',
      layer('services'),
      '^src/(server|control|lb|registry|agent|cli|client)/|^src/berth\\.ts',
    ),
    forbid(
      'handlers-go-through-the-domain',
      'API handlers reach records only through the domain (src/domain), never the store itself.',
      layer('services'),
      layer('store'),
    ),
    forbid(
      'controllers-on-the-domain',
      'Controllers depend on the domain, never on API handlers, the gateway, the registry front, the agent or the CLI.',
      layer('control'),
      '^src/(services|server|registry|agent|cli|client|protocol)/|^src/berth\\.ts',
    ),
    forbid(
      'data-planes-on-the-domain',
      'The load balancer depends on the domain, never on API handlers, controllers, the gateway, the registry front or the agent.',
      layer('lb'),
      '^src/(services|server|control|registry|agent|cli|client|protocol)/|^src/berth\\.ts',
    ),
    forbid(
      'registry-on-the-domain',
      'The registry front (/v2/) is a data plane: it speaks HTTP and calls the ECR domain, never API handlers, the gateway, controllers, the load balancer, the store itself, the agent or the CLI. Blobs are reached through the domain\'s Registry port.',
      layer('registry'),
      '^src/(services|server|control|lb|agent|cli|client|protocol|store)/|^src/berth\\.ts',
    ),
    forbid(
      'protocol-is-wire-only',
      'Wire protocols (SigV4, awsJson, awsQuery, model validation) know nothing of services, the domain or the store.',
      layer('protocol'),
      '^src/(services|server|domain|control|lb|registry|agent|cli|client|store)/|^src/berth\\.ts',
    ),
    forbid(
      'gateway-above-handlers',
      'The gateway routes to API handlers; it never reaches into controllers, data planes or the agent. The registry front reaches the listener as a port (StreamingRoute), not an import.',
      layer('server'),
      '^src/(control|lb|registry|agent|cli|client)/|^src/berth\\.ts',
    ),
    forbid(
      'agent-over-the-network',
      'The agent talks to the control plane only over the network (src/client): it never imports the server side.',
      layer('agent'),
      '^src/(services|server|domain|control|lb|registry|store|cli)/|^src/berth\\.ts',
    ),
    forbid(
      'client-is-a-client',
      'The signing HTTP client knows the wire (src/protocol) and nothing of the server side.',
      layer('client'),
      '^src/(?!client/|protocol/|errors\\.ts|clock\\.ts|version\\.ts|logsLimits\\.ts|generated/)',
    ),
    forbid(
      'console-through-the-api',
      'The web console reads and changes everything through the public API operations, called as the signed-in principal (a port from the composition root): never the store, the domain, handlers, controllers or data planes.',
      layer('console'),
      '^src/(store|domain|services|control|lb|cli|client)/|^src/berth\\.ts',
    ),
    forbid('only-the-root-composes', 'Only the CLI starts a Berth (src/berth.ts); nothing under src/ imports the composition root.', '^src/(?!cli/)', '^src/berth\\.ts'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    exclude: { path: '^src/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
