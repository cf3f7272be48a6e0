"""The world as the molecule scenarios see it: its shape resource by resource, what was written, and clients writing rows.

    python -m tests.world.snapshot shape [--endpoint URL] [--kubeconfig F] [--out FILE]
    python -m tests.world.snapshot mark  [--endpoint URL] [--kubeconfig F] --out FILE
    python -m tests.world.snapshot writes [--endpoint URL] --mark FILE
    python -m tests.world.snapshot write-rows [--endpoint URL] --out FILE [--ready-file F] [--services orders,auth]

`shape` prints (or writes) one flat JSON object, a key per resource, so a comparison can say which
resource differs:

- ``rds/<region>/<id>``: class, status, storage, the replica's source and the source's replicas;
  ``rds-multi-az/<region>/<id>``: Multi-AZ (a key of its own, so a comparison can leave it out);
- ``route53/record/<name> <type> <set id>``: failover role, weight, TTL, values, health check;
- ``route53/health_check/<id>``: target, path, interval, threshold, inverted, disabled;
- ``s3/replication/<bucket>``: the CRR rules (id, status, destination, role), or null;
- ``ssm/<region>``: the parameters' names (the failover lock is one);
- ``elasticache/<region>``: the replication groups;
- ``k8s/<region>/deployment/<name>``: spec.replicas; ``k8s/<region>/secret/<name>``: DB_HOST and
  DB_PORT (no other key is read: the password stays in the cluster);
- ``version/k8s/<region>/<kind>/<name>``: the object's resourceVersion (any write changes it).

Every region it reads must be up (the world answers 503 for a region in ``down_regions``).

`mark` resets the world's call counts and notes where the apiservers' audit logs end; `writes` then
prints every mutating call since: ``{"aws": {"ssm:PutParameter": 1}, "k8s": {"k8s:eu-west-2:patch
deployments": 9}}`` (reads are not counted; the control plane's and node simulator's own writes neither).

`write-rows` is the platform's clients during a failover: through the edge (api.lomashwood.com), a row
per service every ``--interval`` seconds, marker ``<prefix>-<service>-<n>``, until a write is
acknowledged by another region than the first (the cutover is done) or ``--max-seconds`` pass. It
touches ``--ready-file`` once ``--ready-rows`` rows were acknowledged, and writes ``--out`` (atomically,
at the end): ``{"acked": [[service, marker, region, database]...], "refused": n, "regions": [...],
"seconds": s, "reason": why it stopped}``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from typing import Any

REGIONS = ("eu-west-1", "eu-west-2")
NAMESPACE = "lomash-wood"
CONTEXTS = {"eu-west-1": "lomash-wood-eu-west-1", "eu-west-2": "lomash-wood-eu-west-2"}
BUCKETS = {"eu-west-1": "lomash-wood-media-prod", "eu-west-2": "lomash-wood-media-prod-replica"}


def _rds(world: Any, region: str) -> dict[str, Any]:
    out = {}
    pages = world.client("rds", region).get_paginator("describe_db_instances").paginate()
    for page in pages:
        for d in page["DBInstances"]:
            out[f"rds/{region}/{d['DBInstanceIdentifier']}"] = {
                "class": d["DBInstanceClass"], "status": d["DBInstanceStatus"],
                "storage": [d.get("StorageType"), d.get("AllocatedStorage")],
                "source": d.get("ReadReplicaSourceDBInstanceIdentifier"),
                "replicas": sorted(d.get("ReadReplicaDBInstanceIdentifiers", [])),
            }
            out[f"rds-multi-az/{region}/{d['DBInstanceIdentifier']}"] = d.get("MultiAZ")
    return out


def _route53(world: Any) -> dict[str, Any]:
    r53 = world.client("route53", "us-east-1")
    out = {}
    for zone in r53.list_hosted_zones()["HostedZones"]:
        for r in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]:
            if r["Type"] in ("SOA", "NS"):
                continue
            key = f"route53/record/{r['Name']} {r['Type']} {r.get('SetIdentifier', '-')}"
            out[key] = {"failover": r.get("Failover"), "weight": r.get("Weight"), "ttl": r.get("TTL"),
                        "values": [v["Value"] for v in r.get("ResourceRecords", [])],
                        "alias": r.get("AliasTarget", {}).get("DNSName"), "health_check": r.get("HealthCheckId")}
    for h in r53.list_health_checks()["HealthChecks"]:
        c = h["HealthCheckConfig"]
        out[f"route53/health_check/{h['Id']}"] = {
            "type": c.get("Type"), "fqdn": c.get("FullyQualifiedDomainName"), "path": c.get("ResourcePath"),
            "interval": c.get("RequestInterval"), "threshold": c.get("FailureThreshold"),
            "inverted": c.get("Inverted", False), "disabled": c.get("Disabled", False)}
    return out


def _s3_replication(world: Any) -> dict[str, Any]:
    out = {}
    for region, bucket in BUCKETS.items():
        s3 = world.client("s3", region)
        try:
            config = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
        except s3.exceptions.ClientError:
            out[f"s3/replication/{bucket}"] = None
            continue
        out[f"s3/replication/{bucket}"] = sorted(
            [r.get("ID"), r["Status"], r["Destination"]["Bucket"], config["Role"]] for r in config["Rules"])
    return out


def _regional(world: Any, region: str) -> dict[str, Any]:
    params = world.client("ssm", region).describe_parameters()["Parameters"]
    groups = world.client("elasticache", region).describe_replication_groups()["ReplicationGroups"]
    return {f"ssm/{region}": sorted(p["Name"] for p in params),
            f"elasticache/{region}": sorted([g["ReplicationGroupId"], g["Status"]] for g in groups)}


def _k8s(kubeconfig: str, region: str) -> dict[str, Any]:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=kubeconfig, context=CONTEXTS[region])
    out: dict[str, Any] = {}
    for d in client.AppsV1Api(api).list_namespaced_deployment(NAMESPACE).items:
        out[f"k8s/{region}/deployment/{d.metadata.name}"] = d.spec.replicas
        out[f"version/k8s/{region}/deployment/{d.metadata.name}"] = d.metadata.resource_version
    for s in client.CoreV1Api(api).list_namespaced_secret(NAMESPACE).items:
        if s.type == "kubernetes.io/service-account-token":
            continue
        out[f"version/k8s/{region}/secret/{s.metadata.name}"] = s.metadata.resource_version
        if s.data and "DB_HOST" in s.data:
            out[f"k8s/{region}/secret/{s.metadata.name}"] = {
                k: base64.b64decode(s.data[k]).decode() for k in ("DB_HOST", "DB_PORT") if k in s.data}
    return out


def shape(endpoint: str, kubeconfig: str | None) -> dict[str, Any]:
    """The world as a flat {resource key: value} (see the module's docstring)."""
    from .control import World

    world = World(endpoint)
    out: dict[str, Any] = {}
    for region in REGIONS:
        out.update(_rds(world, region))
        out.update(_regional(world, region))
    out.update(_route53(world))
    out.update(_s3_replication(world))
    if kubeconfig:
        for region in REGIONS:
            out.update(_k8s(kubeconfig, region))
    return dict(sorted(out.items()))


def mark(endpoint: str, kubeconfig: str | None) -> dict[str, Any]:
    from tests.k8s import cluster

    from .control import World

    World(endpoint).reset_calls()
    return {"k8s_run_dir": os.path.dirname(os.path.abspath(kubeconfig)) if kubeconfig else None,
            "k8s_audit": cluster.audit_mark(os.path.dirname(os.path.abspath(kubeconfig))) if kubeconfig else None}


def writes(endpoint: str, since: dict[str, Any]) -> dict[str, Any]:
    from tests.integration.runner import is_mutating
    from tests.k8s import cluster

    from .control import World

    calls = World(endpoint).calls()["by_operation"]
    k8s = cluster.mutating_requests(since["k8s_run_dir"], since["k8s_audit"]) if since.get("k8s_run_dir") else {}
    return {"aws": {op: n for op, n in sorted(calls.items()) if n and is_mutating(op)}, "k8s": k8s}


def write_rows(endpoint: str, out: str, services: list[str], interval: float, max_seconds: float,
               prefix: str = "row", ready_file: str | None = None, ready_rows: int = 3) -> dict[str, Any]:
    from .control import World

    world = World(endpoint)
    acked: list[list[Any]] = []
    refused, n, reason = 0, 0, "max-seconds"
    start = time.monotonic()
    while time.monotonic() - start < max_seconds:
        for service in services:
            marker = f"{prefix}-{service}-{n}"
            try:
                status, body = world.write_row(marker, service=service)
            except ValueError:  # an answer that is not JSON: not acknowledged
                status, body = 0, {}
            if status == 201:
                acked.append([service, marker, body["region"], body["database"]])
            else:
                refused += 1
        n += 1
        if ready_file and len(acked) >= ready_rows and not os.path.exists(ready_file):
            open(ready_file, "w", encoding="utf-8").close()
        if acked and acked[-1][2] != acked[0][2]:
            reason = f"acknowledged by {acked[-1][2]}"
            break
        time.sleep(interval)
    result = {"acked": acked, "refused": refused, "regions": sorted({a[2] for a in acked}),
              "seconds": round(time.monotonic() - start, 1), "reason": reason}
    with open(out + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
    os.replace(out + ".tmp", out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.world.snapshot", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("shape", "mark", "writes", "write-rows"))
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"))
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG") or None)
    parser.add_argument("--out", help="write the JSON here (default: stdout)")
    parser.add_argument("--mark", help="writes: the file `mark` wrote")
    parser.add_argument("--services", default="orders,auth", help="write-rows: comma-separated")
    parser.add_argument("--interval", type=float, default=0.2, help="write-rows: seconds between rounds")
    parser.add_argument("--max-seconds", type=float, default=120, help="write-rows: stop after")
    parser.add_argument("--prefix", default="row", help="write-rows: the markers' prefix")
    parser.add_argument("--ready-file", help="write-rows: touched once --ready-rows rows were acknowledged")
    parser.add_argument("--ready-rows", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.endpoint:
        parser.error("give --endpoint URL (or set AWS_ENDPOINT_URL)")
    if args.what == "shape":
        data = shape(args.endpoint, args.kubeconfig)
    elif args.what == "mark":
        data = mark(args.endpoint, args.kubeconfig)
    elif args.what == "write-rows":
        if not args.out:
            parser.error("write-rows needs --out FILE")
        write_rows(args.endpoint, args.out, args.services.split(","), args.interval, args.max_seconds,
                   args.prefix, args.ready_file, args.ready_rows)
        return 0
    else:
        if not args.mark:
            parser.error("writes needs --mark FILE")
        with open(args.mark, encoding="utf-8") as handle:
            data = writes(args.endpoint, json.load(handle))
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
