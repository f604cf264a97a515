/**
 * The shared set-up of the service-controller tests: one Berth per test file with the
 * controller's timings shortened, an ECS client, and, when the file ends, a check that the
 * controller reconciled without a single error.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ECSClient, DescribeServicesCommand, type Service } from '@aws-sdk/client-ecs';
import { startTestBerth, type TestBerth } from '../helpers/fixture.js';
import { type ServiceControllerOptions } from '../../src/control/serviceController.js';

/** What a test file gets; filled in by the file's `before` hook. */
export interface ControlledBerth {
  berth: TestBerth;
  ecs: ECSClient;
  /** DescribeServices of one service. */
  describe(cluster: string, name: string): Promise<Service>;
}

/** Registers the file's before/after hooks; `setup` may change more options of the new Berth. */
export function useControlledBerth(options: Partial<ServiceControllerOptions>, setup?: (berth: TestBerth) => void): ControlledBerth {
  const ctl = {
    async describe(cluster: string, name: string): Promise<Service> {
      return (await ctl.ecs.send(new DescribeServicesCommand({ cluster, services: [name] }))).services![0]!;
    },
  } as ControlledBerth;
  before(async () => {
    ctl.berth = await startTestBerth();
    ctl.berth.controller.configure(options);
    setup?.(ctl.berth);
    ctl.ecs = new ECSClient(ctl.berth.clientConfig);
  });
  after(async () => {
    const errors = ctl.berth.controller.errors;
    assert.deepEqual(errors, [], 'the controller reconciled without errors');
    ctl.ecs.destroy();
    await ctl.berth.close();
  });
  return ctl;
}
