/**
 * CloudWatch Logs' quotas as the domain uses them. The PutLogEvents quotas are defined once, in
 * the kernel module src/logsLimits.ts, which the agent's log shipper batches by as well.
 */
import { LOGS_LIMITS } from '../../logsLimits.js';

/** PutLogEvents limits (AWS's documented quotas); see src/logsLimits.ts. */
export const LIMITS = LOGS_LIMITS;

/** One day in milliseconds: retention periods are whole days. */
export const DAY_MS = 24 * 3600_000;
