#!/usr/bin/env python3
"""Refresh src/models/*.json from an installed botocore's service-2.json files.

The models are AWS's published API descriptions (Apache-2.0), stripped of documentation
so that the server can validate input and serialize output exactly as the real service
defines them. Run by hand when a newer API version is wanted:

    python3 scripts/extract-models.py [botocore-data-dir]
"""
import gzip, json, os, sys

SERVICES = {  # our name -> botocore folder: the services Berth answers (add one with its folder)
    "ecs": "ecs", "sts": "sts", "elbv2": "elbv2", "logs": "logs", "ssm": "ssm", "ecr": "ecr",
}
KEEP_META = {"apiVersion", "endpointPrefix", "jsonVersion", "protocol", "serviceId", "signingName",
             "targetPrefix", "xmlNamespace", "uid", "serviceFullName"}
DROP = {"documentation", "documentationUrl", "examples", "deprecatedMessage", "authtype", "auth",
        "endpointdiscovery", "endpointoperation", "idempotencyToken", "staticContextParams",
        "contextParam", "requestcompression", "httpChecksum", "unsignedPayload"}

def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in DROP}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o

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
        model = {
            "metadata": {k: v for k, v in model["metadata"].items() if k in KEEP_META},
            "operations": strip(model["operations"]),
            "shapes": strip(model["shapes"]),
        }
        with open(os.path.join(out, ours + ".json"), "w") as f:
            json.dump(model, f, separators=(",", ":"), sort_keys=True)
            f.write("\n")
        print(ours, version, os.path.getsize(os.path.join(out, ours + ".json")))

main()
