/**
 * The aws CLI with its waiters polling every second instead of every 5 or 30 s: `aws
 * cloudformation deploy` waits for a stack with a fixed 30 s delay between DescribeStacks calls,
 * which would make every deploy in a test last at least 30 s. A `sitecustomize.py` on
 * PYTHONPATH wraps botocore's `Waiter.wait` (Debian's vendored copy under awscli.botocore, or
 * botocore itself) to poll each second with the same total patience; the CLI is otherwise
 * untouched and still sends every request itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const SITECUSTOMIZE = `
import math
def _fast(module):
    waiter = __import__(module, fromlist=['Waiter']).Waiter
    original = waiter.wait
    def wait(self, **kwargs):
        config = dict(kwargs.get('WaiterConfig') or {})
        delay = config.get('Delay', self.config.delay)
        attempts = config.get('MaxAttempts', self.config.max_attempts)
        config['Delay'] = min(delay, 1)
        config['MaxAttempts'] = int(math.ceil(delay * attempts / config['Delay']))
        kwargs['WaiterConfig'] = config
        return original(self, **kwargs)
    waiter.wait = wait
for _module in ('awscli.botocore.waiter', 'botocore.waiter'):
    try:
        _fast(_module)
    except Exception:
        pass
`;

// Written when the test file loads and removed when it ends (an `after` registered at the top
// level: one registered inside a `before` hook would run as soon as that hook ends).
const dir = mkdtempSync(join(tmpdir(), 'berth-aws-waiters-'));
writeFileSync(join(dir, 'sitecustomize.py'), SITECUSTOMIZE);
after(() => rmSync(dir, { recursive: true, force: true }));

/** `env` (an aws CLI environment) with the one-second waiters added. */
export function withFastWaiters(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, PYTHONPATH: dir };
}
