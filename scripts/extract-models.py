#!/usr/bin/env python3
"""Refresh src/models/*.json from an installed botocore's service-2.json files.

The models are AWS's published API descriptions (Apache-2.0), stripped of documentation
so that the server can validate input and serialize output exactly as the real service
defines them. Run by hand when a newer API version is wanted:

    python3 scripts/extract-models.py [botocore-data-dir]
"""
import gzip, json, os, sys

SERVICES = {  # our name -> botocore folder: the services Berth answers (add one with its folder)
    "ecs": "ecs", "sts": "sts", "elbv2": "elbv2", "logs": "logs", "ssm": "ssm", "cloudwatch": "cloudwatch",
    "cloudformation": "cloudformation", "iam": "iam",
    "ec2": "ec2", "ecr": "ecr", "autoscaling": "autoscaling", "cloudtrail": "cloudtrail",
    "applicationautoscaling": "application-autoscaling",
    "servicediscovery": "servicediscovery",
}
# Services whose model is large and of which Berth serves a part: only these operations (and the
# shapes they reference) are kept. The other operations' names are kept in `unservedOperations`,
# so that a request for one is answered as an operation Berth does not provide (not an unknown one).
ONLY = {
    # Application Auto Scaling: scalable targets and scaling policies of ECS services.
    "applicationautoscaling": [
        "RegisterScalableTarget", "DescribeScalableTargets", "DeregisterScalableTarget",
        "PutScalingPolicy", "DescribeScalingPolicies", "DeleteScalingPolicy", "DescribeScalingActivities",
        "TagResource", "UntagResource", "ListTagsForResource",
    ],
    # CloudTrail: the audit log of Berth's own API calls, read back (src/services/cloudtrail/).
    "cloudtrail": ["LookupEvents"],
    "ec2": [
        "CreateVpc", "DeleteVpc", "DescribeVpcs", "ModifyVpcAttribute", "DescribeVpcAttribute",
        "CreateSubnet", "DeleteSubnet", "DescribeSubnets", "ModifySubnetAttribute",
        "CreateInternetGateway", "DeleteInternetGateway", "DescribeInternetGateways",
        "AttachInternetGateway", "DetachInternetGateway",
        "CreateNatGateway", "DeleteNatGateway", "DescribeNatGateways",
        "CreateRouteTable", "DeleteRouteTable", "DescribeRouteTables", "CreateRoute", "DeleteRoute",
        "ReplaceRoute", "AssociateRouteTable", "DisassociateRouteTable", "ReplaceRouteTableAssociation",
        "CreateSecurityGroup", "DeleteSecurityGroup", "DescribeSecurityGroups", "DescribeSecurityGroupRules",
        "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
        "AllocateAddress", "AssociateAddress", "DisassociateAddress", "ReleaseAddress", "DescribeAddresses",
        "DescribeAvailabilityZones", "DescribeRegions", "DescribeAccountAttributes",
        "CreateTags", "DeleteTags", "DescribeTags", "DescribeInstances",
        "CreateVpcEndpoint", "DescribeVpcEndpoints", "ModifyVpcEndpoint", "DeleteVpcEndpoints",
        "CreateLaunchTemplate", "CreateLaunchTemplateVersion", "DescribeLaunchTemplates",
        "DescribeLaunchTemplateVersions", "ModifyLaunchTemplate", "DeleteLaunchTemplate",
    ],
    # Cloud Map: namespaces, services and instances (src/services/servicediscovery/).
    "servicediscovery": [
        "CreatePrivateDnsNamespace", "CreatePublicDnsNamespace", "CreateHttpNamespace", "GetNamespace",
        "ListNamespaces", "DeleteNamespace", "CreateService", "GetService", "ListServices", "UpdateService",
        "DeleteService", "RegisterInstance", "DeregisterInstance", "GetInstance", "ListInstances",
        "DiscoverInstances", "GetOperation", "ListOperations", "TagResource", "UntagResource",
        "ListTagsForResource",
    ],
    "autoscaling": [
        "CreateLaunchConfiguration", "DescribeLaunchConfigurations", "DeleteLaunchConfiguration",
        "CreateAutoScalingGroup", "UpdateAutoScalingGroup", "DescribeAutoScalingGroups", "DeleteAutoScalingGroup",
        "SetDesiredCapacity", "TerminateInstanceInAutoScalingGroup", "DescribeAutoScalingInstances",
    ],
}
KEEP_META = {"apiVersion", "endpointPrefix", "jsonVersion", "protocol", "serviceId", "signingName",
             "targetPrefix", "xmlNamespace", "uid", "serviceFullName",
             # the wire protocols a service speaks, in its clients' order of preference, and
             # whether its JSON and CBOR errors carry the awsQuery code (x-amzn-query-error)
             "protocols", "awsQueryCompatible"}
DROP = {"documentation", "documentationUrl", "examples", "deprecatedMessage", "authtype", "auth",
        "endpointdiscovery", "endpointoperation", "idempotencyToken", "staticContextParams",
        "contextParam", "requestcompression", "httpChecksum", "unsignedPayload"}

def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in DROP}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o

def referenced(shapes, roots):
    """The names of every shape reachable from `roots`."""
    seen, todo = set(), list(roots)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        s = shapes[n]
        for ref in list(s.get("members", {}).values()) + [s.get(k) for k in ("member", "key", "value") if s.get(k)]:
            todo.append(ref["shape"])
    return seen

def main():
    if len(sys.argv) > 1:
        data = sys.argv[1]
    else:
        import botocore
        data = os.path.join(os.path.dirname(botocore.__file__), "data")
    out = os.path.join(os.path.dirname(__file__), "..", "src", "models")
    for ours, folder in SERVICES.items():
        base = os.path.join(data, folder)
        version = sorted(os.listdir(base))[-1]
        path = os.path.join(base, version, "service-2.json")
        opener = open
        if not os.path.exists(path):
            path += ".gz"; opener = gzip.open
        with opener(path, "rt") as f:
            model = json.load(f)
        unserved = None
        if ours in ONLY:
            keep = ONLY[ours]
            unserved = sorted(set(model["operations"]) - set(keep))
            model["operations"] = {k: v for k, v in model["operations"].items() if k in keep}
            roots = [r["shape"] for op in model["operations"].values() for r in [op.get("input"), op.get("output")] + op.get("errors", []) if r]
            used = referenced(model["shapes"], roots)
            model["shapes"] = {k: v for k, v in model["shapes"].items() if k in used}
        model = {
            "metadata": {k: v for k, v in model["metadata"].items() if k in KEEP_META},
            "operations": strip(model["operations"]),
            "shapes": strip(model["shapes"]),
        }
        if unserved is not None:
            model["unservedOperations"] = unserved
        with open(os.path.join(out, ours + ".json"), "w") as f:
            json.dump(model, f, separators=(",", ":"), sort_keys=True)
            f.write("\n")
        print(ours, version, os.path.getsize(os.path.join(out, ours + ".json")))

main()
