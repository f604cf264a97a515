/** `berth compose config`'s document: a loaded project printed as `docker compose config` prints it. */
import type { ComposeProject } from './model.js';

/** The project in the shape `docker compose config` prints (normalized, long syntax). */
export function configDocument(p: ComposeProject): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  for (const name of Object.keys(p.services).sort()) {
    const s = p.services[name]!;
    const out: Record<string, unknown> = {};
    if (s.build) {
      const b = s.build;
      out.build = { context: b.context, ...(b.dockerfileInline !== undefined ? { dockerfile_inline: b.dockerfileInline } : { dockerfile: b.dockerfile }), ...(Object.keys(b.args).length ? { args: b.args } : {}), ...(b.target ? { target: b.target } : {}), ...(Object.keys(b.labels).length ? { labels: b.labels } : {}), ...(b.noCache ? { no_cache: true } : {}), ...(b.network ? { network: b.network } : {}) };
    }
    if (s.command) out.command = s.command;
    if (Object.keys(s.depends_on).length) out.depends_on = s.depends_on;
    if (s.replicas !== 1 || s.mem_limit || s.cpus || s.mem_reservation) {
      const limits = { ...(s.cpus ? { cpus: s.cpus } : {}), ...(s.mem_limit ? { memory: `${s.mem_limit}M` } : {}) };
      out.deploy = { replicas: s.replicas, ...(Object.keys(limits).length || s.mem_reservation ? { resources: { ...(Object.keys(limits).length ? { limits } : {}), ...(s.mem_reservation ? { reservations: { memory: `${s.mem_reservation}M` } } : {}) } } : {}) };
    }
    if (s.entrypoint) out.entrypoint = s.entrypoint;
    if (Object.keys(s.environment).length) out.environment = Object.fromEntries(Object.entries(s.environment).sort(([a], [b]) => a.localeCompare(b)));
    if (s.expose.length) out.expose = s.expose.map(String);
    if (s.healthcheck) out.healthcheck = { test: s.healthcheck.test, interval: `${s.healthcheck.interval}s`, timeout: `${s.healthcheck.timeout}s`, retries: s.healthcheck.retries, start_period: `${s.healthcheck.start_period}s` };
    if (s.hostname) out.hostname = s.hostname;
    if (s.image) out.image = s.image;
    if (Object.keys(s.labels).length) out.labels = s.labels;
    if (s.logging) out.logging = s.logging;
    if (s.ports.length) out.ports = s.ports.map((pt) => ({ mode: 'ingress', ...(pt.host_ip ? { host_ip: pt.host_ip } : {}), target: pt.target, ...(pt.published ? { published: String(pt.published) } : {}), protocol: pt.protocol, ...(pt.app_protocol ? { app_protocol: pt.app_protocol } : {}) }));
    if (s.profiles.length) out.profiles = s.profiles;
    if (s.restart) out.restart = s.restart;
    if (s.secrets.length) out.secrets = s.secrets;
    if (s.stop_grace_period !== undefined) out.stop_grace_period = `${s.stop_grace_period}s`;
    if (s.user) out.user = s.user;
    if (s.configs.length) out.configs = s.configs;
    if (s.volumes.length) out.volumes = s.volumes.map((m) => ({ type: m.type, ...(m.source ? { source: m.source } : {}), target: m.target, ...(m.read_only ? { read_only: true } : {}) }));
    if (s.working_dir) out.working_dir = s.working_dir;
    Object.assign(out, s.extensions);
    services[name] = out;
  }
  const doc: Record<string, unknown> = { name: p.name, services };
  if (Object.keys(p.secrets).length) doc.secrets = p.secrets;
  if (Object.keys(p.configs).length) doc.configs = p.configs;
  if (Object.keys(p.volumes).length) {
    doc.volumes = Object.fromEntries(
      Object.entries(p.volumes).map(([k, v]) => [k, { name: v.name, ...(v.driver !== 'local' ? { driver: v.driver } : {}), ...(Object.keys(v.driver_opts).length ? { driver_opts: v.driver_opts } : {}), ...(Object.keys(v.labels).length ? { labels: v.labels } : {}), ...(v.external ? { external: true } : {}) }]),
    );
  }
  if (Object.keys(p.networks).length) doc.networks = p.networks;
  return doc;
}
