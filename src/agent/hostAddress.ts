/**
 * The address other hosts reach this agent's host on: the local address of a TCP connection to
 * the control plane (the interface the route to it leaves through). The agent registers it as
 * the instance attribute `berth.address`, which the service controller registers as the load
 * balancer target of a port bound on every interface (src/control/observe.ts `targetOf`).
 */
import { connect, isIPv4 } from 'node:net';

/**
 * The IPv4 address this host uses towards `endpoint` (an http(s) URL), or undefined when it is
 * a loopback address (control plane on this host: the controller's default, 127.0.0.1, is right),
 * not IPv4, or the endpoint does not answer within `timeoutMs`. Never throws.
 */
export function localAddressTowards(endpoint: string, timeoutMs = 3_000): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return Promise.resolve(undefined);
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (address: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(address);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('connect', () => {
      const a = socket.localAddress?.replace(/^::ffff:/, '');
      done(a && isIPv4(a) && !a.startsWith('127.') ? a : undefined);
    });
    socket.once('error', () => done(undefined));
  });
}
