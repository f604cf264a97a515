// Where the stores are, from the environment only: Postgres by its service name (POSTGRES_HOST,
// POSTGRES_PORT_5432), Redis by its hostname `cache` (CACHE_HOST, CACHE_PORT_6379). Berth's
// compose sets these variables on every driver (docs/compose.md); the defaults are the names.
import pg from 'pg';
import { redis } from './redis.mjs';

/** A pool of connections to Postgres. */
export function postgres() {
  return new pg.Pool({
    host: process.env.POSTGRES_HOST ?? 'postgres',
    port: Number(process.env.POSTGRES_PORT_5432 ?? 5432),
    user: 'postgres',
    database: 'postgres',
    max: 4,
    connectionTimeoutMillis: 3000,
  });
}

/** A connection to Redis. */
export function cache() {
  return redis(process.env.CACHE_HOST ?? 'cache', process.env.CACHE_PORT_6379 ?? 6379);
}
