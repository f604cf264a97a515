/**
 * The CloudWatch alarm controller: every `ALARM_EVALUATION_INTERVAL_MS` on the platform clock it
 * evaluates every metric alarm of every region (`evaluateAlarms` in src/domain/cloudwatch), and
 * every `METRIC_SWEEP_INTERVAL_MS` it drops metric data past CloudWatch's retention. Runs as a
 * duty (one replica at a time, writes fenced by its lease).
 */
import type { Platform } from '../domain/platform.js';
import { alarmRegions, evaluateAlarms, metricRegions, type Transition } from '../domain/cloudwatch/alarms.js';
import { sweepMetricData } from '../domain/cloudwatch/metrics.js';
import { startLoop, type Loop } from './loop.js';

/** How often alarms are evaluated (AWS: every minute; more often here, so a breach shows sooner). */
export const ALARM_EVALUATION_INTERVAL_MS = 5_000;
/** How often old metric data is swept. */
export const METRIC_SWEEP_INTERVAL_MS = 3600_000;

/** Evaluates every alarm once; returns the state changes made. */
export async function evaluateAllAlarms(platform: Platform): Promise<Transition[]> {
  const out: Transition[] = [];
  for (const region of await alarmRegions({ platform })) out.push(...(await evaluateAlarms({ platform, region })));
  return out;
}

/** Starts the evaluation and sweep loops; `onTransition` hears each state change (for the server log). */
export function startAlarmController(platform: Platform, opts: { onError: (e: unknown) => void; onTransition?: (t: Transition) => void }): Loop {
  const evaluation = startLoop(platform.clock, ALARM_EVALUATION_INTERVAL_MS, async () => {
    for (const t of await evaluateAllAlarms(platform)) opts.onTransition?.(t);
  }, opts.onError);
  const sweep = startLoop(platform.clock, METRIC_SWEEP_INTERVAL_MS, async () => {
    for (const region of await metricRegions({ platform })) await sweepMetricData({ platform, region });
  }, opts.onError);
  return {
    runNow: () => evaluation.runNow(),
    async stop() {
      await evaluation.stop();
      await sweep.stop();
    },
  };
}
