// The client: reads the items through the front (FRONT_HOST/FRONT_PORT_8080) every 2 s and
// says what it saw.

// Node as PID 1 has no default SIGTERM handler: without this, a stop waits out the stop timeout.
process.on('SIGTERM', () => process.exit(0));

const url = `http://${process.env.FRONT_HOST ?? 'front'}:${process.env.FRONT_PORT_8080 ?? 8080}/items`;
console.log(`client reading ${url}`);
setInterval(async () => {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    const body = await r.json();
    console.log(`client: ${r.status}, ${body.items.length} items, ${body.processed} processed`);
  } catch (e) {
    console.log(`client: ${e.message}`);
  }
}, 2000);
