/**
 * Target operations: RegisterTargets, DeregisterTargets and DescribeTargetHealth, over the ELBv2
 * domain (src/domain/elbv2/targets.ts) and the data plane's view of target health.
 */
import type * as ELB from '../../generated/elbv2.js';
import type { DataPlaneView } from '../../domain/elbv2/dataPlane.js';
import { deregisterTargets, describeTargetHealth, registerTargets } from '../../domain/elbv2/targets.js';
import type { Handlers } from '../types.js';

export function targetHandlers(plane: DataPlaneView): Handlers<ELB.Operations> {
  return {
    async RegisterTargets(input, ctx) {
      await registerTargets(ctx, input.TargetGroupArn, input.Targets);
      return {};
    },
    async DeregisterTargets(input, ctx) {
      await deregisterTargets(ctx, input.TargetGroupArn, input.Targets);
      return {};
    },
    async DescribeTargetHealth(input, ctx) {
      return { TargetHealthDescriptions: await describeTargetHealth(ctx, plane, input.TargetGroupArn, input.Targets) };
    },
  };
}
