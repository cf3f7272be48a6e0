"""playbooks/failback.yml end to end on the embedded world: after a failover, back home."""

from __future__ import annotations

import glob
import json

from .runner import mutating, run_playbook
from .test_failover_playbook import NAMESPACE, platform  # noqa: F401  # pylint: disable=unused-import  # the fixture


def _run(world, tmp_path, playbook, check=False, diff=False, **extra):
    return run_playbook(playbook, env={"LOMASHWOOD_REPORT_DIR": str(tmp_path)}, check=check, diff=diff,
                        extra_vars=dict({"dr_incident_id": world.incident}, **extra), timeout=900)


def _report(tmp_path, operation):
    files = sorted(glob.glob(str(tmp_path / ("%s-*.json" % operation))))
    assert files, "no %s report" % operation
    with open(files[-1]) as f:
        return json.load(f)


def _databases(world, region):
    rds = world.client("rds", region)
    return {d["DBInstanceIdentifier"]: (d["DBInstanceClass"], d["DBInstanceStatus"], d.get("MultiAZ"),
                                        d.get("ReadReplicaSourceDBInstanceIdentifier"),
                                        sorted(d.get("ReadReplicaDBInstanceIdentifiers", [])))
            for d in rds.describe_db_instances()["DBInstances"]}


def _records(world):
    r53 = world.client("route53", "us-east-1")
    zone = next(z["Id"] for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "lomashwood.com.")
    return sorted((r["Name"], r["Type"], r.get("SetIdentifier"), r.get("Failover"), r.get("HealthCheckId"),
                   json.dumps(r.get("ResourceRecords"))) for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"])


def _replicas(world, context):
    from kubernetes import client, config
    apps = client.AppsV1Api(config.new_client_from_config(config_file=world.k8s_kubeconfig, context=context))
    return {d.metadata.name: d.spec.replicas for d in apps.list_namespaced_deployment(NAMESPACE).items}


def _secret_hosts(world, context):
    """Each database Secret's DB_HOST and DB_PORT (the other keys are never read here)."""
    import base64

    from kubernetes import client, config
    core = client.CoreV1Api(config.new_client_from_config(config_file=world.k8s_kubeconfig, context=context))
    return {s.metadata.name: tuple(base64.b64decode(s.data[k]).decode() for k in ("DB_HOST", "DB_PORT"))
            for s in core.list_namespaced_secret(NAMESPACE).items if s.data and "DB_HOST" in s.data}


def _health_checks(world):
    r53 = world.client("route53", "us-east-1")
    return sorted((h["Id"], h["HealthCheckConfig"].get("FullyQualifiedDomainName"), h["HealthCheckConfig"].get("ResourcePath"),
                   h["HealthCheckConfig"].get("RequestInterval"), h["HealthCheckConfig"].get("FailureThreshold"),
                   h["HealthCheckConfig"].get("Inverted", False), h["HealthCheckConfig"].get("Disabled", False))
                  for h in r53.list_health_checks()["HealthChecks"])


def _replication(world):
    """Each media bucket's CRR rules: (id, status, destination bucket, role)."""
    out = {}
    for region, bucket in (("eu-west-1", "lomash-wood-media-prod"), ("eu-west-2", "lomash-wood-media-prod-replica")):
        s3 = world.client("s3", region)
        try:
            config = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
        except s3.exceptions.ClientError:
            out[bucket] = None
            continue
        out[bucket] = sorted((r["ID"], r["Status"], r["Destination"]["Bucket"], config["Role"]) for r in config["Rules"])
    return out


def _shape(world):
    """The world, resource by resource, as the round trip must leave it."""
    return {"rds:eu-west-1": _databases(world, "eu-west-1"), "rds:eu-west-2": _databases(world, "eu-west-2"),
            "dns": _records(world), "health_checks": _health_checks(world),
            "k8s:eu-west-1": _replicas(world, "lomash-wood-eu-west-1"),
            "k8s:eu-west-2": _replicas(world, "lomash-wood-eu-west-2"),
            "secrets:eu-west-1": _secret_hosts(world, "lomash-wood-eu-west-1"),
            "secrets:eu-west-2": _secret_hosts(world, "lomash-wood-eu-west-2"),
            "s3_replication": _replication(world)}


def test_failover_then_failback_returns_home(platform, tmp_path):  # noqa: F811
    """The round trip: failover with eu-west-1 down, then failback once it answers, leaves the world
    in its starting shape, compared resource by resource, with a report for each."""
    import os
    world = platform
    world.k8s_kubeconfig = os.environ["KUBECONFIG"]
    world.region_up("eu-west-1")
    before = _shape(world)
    world.region_down("eu-west-1")  # the outage a failover is for
    proc = _run(world, tmp_path, "playbooks/failover.yml")
    assert proc.returncode == 0, proc.stdout[-3000:]
    failover = _report(tmp_path, "failover")
    assert failover["outcome"] == "succeeded"
    # traffic is pinned to eu-west-2: eu-west-1 answering again does not take it back on its own
    world.region_up("eu-west-1")
    # The rehearsal first: --check --diff prints the whole plan and changes nothing, anywhere.
    failed_over = _shape(world)
    world.reset_calls()
    world.k8s.reset_calls()
    proc = _run(world, tmp_path, "playbooks/failback.yml", check=True, diff=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert mutating(world.calls(), world.k8s.calls()) == {}
    assert _shape(world) == failed_over
    for planned in ("+        snapshot_status: available",  # the stale home instances kept as snapshots
                    "Would create 8 replicas in eu-west-1 of lomash-auth-prod-replica",
                    "-            replicas: 3\n+            replicas: 0",  # writes stop in eu-west-2
                    "would promote lomash-auth-prod",  # (the report's step, below)
                    "step 1 of 3, 10% to eu-west-1 (eu-west-1=10, eu-west-2=90)", "+                weight: 10",
                    "TASK [lomashwood.multiregion.restore_standby : Scale the standby services to 0"):
        assert planned in proc.stdout + json.dumps(_report(tmp_path, "failback")), planned
    assert world.edge_resolve()["region"] == "eu-west-2"
    proc = _run(world, tmp_path, "playbooks/failback.yml", dr_failback_delete_old_primaries=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    report = _report(tmp_path, "failback")
    steps = [s["step"] for s in report["steps"]]
    assert steps[:3] == ["preflight", "declare", "rebuild_databases"], steps
    shift = next(s for s in report["steps"] if s["step"] == "traffic_shift")
    assert shift["outcome"] == "changed", shift  # traffic came home by weights, not on its own
    after = _shape(world)
    for resource in before:
        assert after[resource] == before[resource], resource
    assert world.client("elasticache", "eu-west-2").describe_replication_groups()["ReplicationGroups"] == []
    assert report["outcome"] == "succeeded" and report["achieved_rto_seconds"] is not None
    assert world.edge_resolve()["region"] == "eu-west-1"
