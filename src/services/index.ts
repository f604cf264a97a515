/**
 * The registry of AWS services Berth speaks. Adding a service: a folder under src/services/
 * whose index exports a `ServiceDefinition` factory, and one line here; what the factory needs
 * (a port to a data plane, a store of its own) is a field of `ServiceDeps`, which the
 * composition root (src/berth.ts) fills in.
 */
import type { DataPlaneView } from '../domain/elbv2/dataPlane.js';
import type { LogEventStore } from '../domain/logs/eventStore.js';
import type { LogQueries } from '../domain/logs/queries.js';
import type { MasterKey } from '../domain/ssm/masterKey.js';
import type { Registry } from '../domain/ecr/registry.js';
import type { ServiceDefinition } from './types.js';
import type { Authorizer } from '../domain/iam/authorizer.js';
import { ecsService } from './ecs/index.js';
import { stsService } from './sts/index.js';
import { elbv2Service } from './elbv2/index.js';
import type { SubscriptionEndpoints } from '../domain/logs/subscriptions.js';
import { logsService } from './logs/index.js';
import { ssmService } from './ssm/index.js';
import { berthAgentService } from './berthagent/index.js';
import { iamService } from './iam/index.js';
import { cloudwatchService } from './cloudwatch/index.js';
import { cloudFormationService } from './cloudformation/index.js';
import type { ServiceInvoker } from '../domain/invoker.js';
import { ec2Service } from './ec2/index.js';
import { ecrService } from './ecr/index.js';
import { autoScalingService } from './autoscaling/index.js';
import { cloudTrailService } from './cloudtrail/index.js';
import { applicationAutoScalingService } from './applicationautoscaling/index.js';
import { serviceDiscoveryService } from './servicediscovery/index.js';
import type { AuditLog } from '../domain/cloudtrail/auditLog.js';

/** The ports services need, typed; one field per dependency. */
export interface ServiceDeps {
  /** The load balancer's data plane, as ELBv2 sees it (target health, ports in use). */
  loadBalancer: DataPlaneView;
  /** CloudWatch Logs' event store (groups, streams, events), opened by the composition root. */
  logEvents: LogEventStore;
  /** Running Logs Insights queries over `logEvents`. */
  logQueries: LogQueries;
  /** The http(s) URLs Logs destinations may deliver to (the operator's allow-list). */
  logSubscriptionEndpoints: SubscriptionEndpoints;
  /** The key SecureString parameters are sealed under, loaded once at startup. */
  masterKey: MasterKey;
  /** IAM's policy evaluator (SimulatePrincipalPolicy, AssumeRole's trust check). */
  authorizer: Authorizer;
  /** Berth's own API operations, called in process (CloudFormation reads SSM through it). */
  invoker: ServiceInvoker;
  /** The container registry's blob store, token issuer and address (ECR). */
  registry: Registry;
  /** The audit log of answered calls (CloudTrail's LookupEvents reads it). */
  audit: AuditLog;
}

export function allServices(deps: ServiceDeps): ServiceDefinition[] {
  return [ecsService(), stsService(deps.masterKey, deps.authorizer), elbv2Service(deps.loadBalancer), logsService(deps.logEvents, deps.logQueries, deps.logSubscriptionEndpoints), ssmService(deps.masterKey), cloudwatchService(), ec2Service(), ecrService(deps.registry), berthAgentService(deps.masterKey, deps.authorizer), cloudFormationService(deps.invoker, deps.authorizer), iamService(deps.masterKey, deps.authorizer), autoScalingService(), applicationAutoScalingService(), serviceDiscoveryService(), cloudTrailService(deps.audit)];
}
