// The health check of the Postgres-like store: it answers PING on its port.
import { call } from './lib.mjs';

call('127.0.0.1', process.env.PORT_5432 ?? 5432, 'PING').then(() => process.exit(0), () => process.exit(1));
