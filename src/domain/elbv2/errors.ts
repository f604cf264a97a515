/** ELBv2's error catalog: every error the ELBv2 handlers throw is made here (codes as AWS spells them). */
import { ServiceError } from '../../errors.js';

export const elbErrors = {
  validation: (msg: string) => new ServiceError('ValidationError', msg),
  invalidConfig: (msg: string) => new ServiceError('InvalidConfigurationRequest', msg),
  duplicateLoadBalancerName: () => new ServiceError('DuplicateLoadBalancerName', 'A load balancer with the same name already exists'),
  duplicateTargetGroupName: () => new ServiceError('DuplicateTargetGroupName', 'A target group with the same name already exists'),
  duplicateListener: () => new ServiceError('DuplicateListener', 'A listener already exists on this port for this load balancer'),
  duplicateTagKeys: (k: string) => new ServiceError('DuplicateTagKeys', `Tag key '${k}' is given more than once`),
  priorityInUse: (p: number) => new ServiceError('PriorityInUse', `Priority '${p}' is currently in use`),
  loadBalancerNotFound: (what = 'One or more load balancers not found') => new ServiceError('LoadBalancerNotFound', what),
  targetGroupNotFound: (what = 'One or more target groups not found') => new ServiceError('TargetGroupNotFound', what),
  listenerNotFound: (what = 'One or more listeners not found') => new ServiceError('ListenerNotFound', what),
  ruleNotFound: (what = 'One or more rules not found') => new ServiceError('RuleNotFound', what),
  resourceInUse: (msg: string) => new ServiceError('ResourceInUse', msg),
  tooManyConditions: (n: number) =>
    new ServiceError('TooManyConditions', `A rule can have at most 5 condition values in total; this rule has ${n}`),
  tooManyRules: (max: number) => new ServiceError('TooManyRules', `A listener can have at most ${max} rules besides the default rule`),
  tooManyActions: (msg: string) => new ServiceError('TooManyActions', msg),
  tooManyTags: (n: number) => new ServiceError('TooManyTags', `A resource can have at most 50 tags; this request would leave ${n}`),
  invalidTarget: (msg: string) => new ServiceError('InvalidTarget', msg),
  invalidLoadBalancerAction: (msg: string) => new ServiceError('InvalidLoadBalancerAction', msg),
  unsupportedProtocol: (msg: string) => new ServiceError('UnsupportedProtocol', msg),
  incompatibleProtocols: (msg: string) => new ServiceError('IncompatibleProtocols', msg),
  certificateNotFound: (msg: string) => new ServiceError('CertificateNotFound', msg),
  operationNotPermitted: (msg: string) => new ServiceError('OperationNotPermitted', msg),
  invalidMarker: () => new ServiceError('ValidationError', 'The marker is not one this API returned'),
};
