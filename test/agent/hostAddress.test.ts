// The address an agent registers as `berth.address`: the local end of its route to the control plane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { localAddressTowards } from '../../src/agent/hostAddress.js';
import { freePort } from '../helpers/fixture.js';

async function listening(host: string) {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as AddressInfo).port };
}

test('a control plane on loopback gives no address (the controller keeps 127.0.0.1)', async () => {
  const { server, port } = await listening('127.0.0.1');
  try {
    assert.equal(await localAddressTowards(`http://127.0.0.1:${port}`), undefined);
  } finally {
    server.close();
  }
});

test('a control plane on another interface gives that interface\'s address', async (t) => {
  const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!external) return t.skip('no non-loopback IPv4 interface here');
  const { server, port } = await listening('0.0.0.0');
  try {
    assert.equal(await localAddressTowards(`http://${external.address}:${port}/`), external.address);
  } finally {
    server.close();
  }
});

test('an endpoint that does not answer, or is no URL, gives no address and does not throw', async () => {
  assert.equal(await localAddressTowards(`http://127.0.0.1:${await freePort()}`), undefined);
  assert.equal(await localAddressTowards('not a url'), undefined);
});
