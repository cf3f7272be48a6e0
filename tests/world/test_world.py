"""Tests of the embedded AWS world (moto + realism layer), run in-process.

    unshare -n sh -c 'ip link set lo up; .venv/bin/python -m pytest tests/world -q'
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.world import World
from tests.world.seed import MEDIA_BUCKET, MEDIA_REPLICA_BUCKET, SERVICES, replica_id

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    resp = info.value.response
    return resp["Error"]["Code"], resp["Error"].get("Message", ""), resp["ResponseMetadata"]["HTTPStatusCode"]


def make_pair(world: World, name: str = "db") -> tuple[str, str]:
    """One postgres primary in eu-west-1 and its cross-region replica in eu-west-2 (fast, no full seed)."""
    ids = {}
    for region in ("eu-west-1", "eu-west-2"):
        ec2 = world.client("ec2", region)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
                   for i, az in enumerate("ab")]
        world.client("rds", region).create_db_subnet_group(
            DBSubnetGroupName="sg", DBSubnetGroupDescription="x", SubnetIds=subnets)
    primary = world.client("rds", "eu-west-1").create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.r6g.large", Engine="postgres", MasterUsername="u",
        MasterUserPassword="password1", AllocatedStorage=100, StorageType="gp3", DBSubnetGroupName="sg",
        BackupRetentionPeriod=7)["DBInstance"]
    world.client("rds", "eu-west-2").create_db_instance_read_replica(
        DBInstanceIdentifier=f"{name}-replica", SourceDBInstanceIdentifier=primary["DBInstanceArn"],
        SourceRegion="eu-west-1", DBInstanceClass="db.t3.medium", DBSubnetGroupName="sg")
    ids["primary"], ids["replica"] = name, f"{name}-replica"
    return ids["primary"], ids["replica"]


def describe(world: World, region: str, db_id: str) -> dict:
    return world.client("rds", region, retries=0).describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]


# --- server and control API ---


def test_server_binds_loopback_only(server):
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1" and port > 0
    assert server.endpoint == f"http://127.0.0.1:{port}"


def test_config_merge_validation_and_reset(world):
    cfg = world.config()
    assert cfg["promotion_seconds"] == 0 and cfg["latency_ms"] == 0 and cfg["down_regions"] == []
    world.configure(promotion_seconds=2, faults={"rds:DescribeDBInstances": {"code": "Throttling"}})
    world.configure(faults={"s3:PutObject": {"code": "SlowDown", "status": 503}})
    cfg = world.config()
    assert cfg["promotion_seconds"] == 2
    assert set(cfg["faults"]) == {"rds:DescribeDBInstances", "s3:PutObject"}  # objects merge
    with pytest.raises(urllib.error.HTTPError) as bad:
        world.configure(no_such_key=1)
    assert bad.value.code == 400
    with pytest.raises(urllib.error.HTTPError):
        world.configure(outage_mode="sometimes")
    world.configure(promotion_seconds=None)  # null restores the default
    assert world.config()["promotion_seconds"] == 0
    world.reset()
    assert world.config()["faults"] == {}


def test_unknown_control_endpoint_is_404(world):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(world.endpoint + "/_world/nope")
    assert err.value.code == 404


# --- RDS realism ---


def test_replica_describes_like_rds(world):
    primary, replica = make_pair(world)
    rep = describe(world, "eu-west-2", replica)
    assert rep["StatusInfos"] == [{"StatusType": "read replication", "Normal": True, "Status": "replicating"}]
    assert rep["DBSubnetGroup"]["DBSubnetGroupName"] == "sg"
    assert rep["ReadReplicaSourceDBInstanceIdentifier"] == f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:{primary}"
    prim = describe(world, "eu-west-1", primary)
    assert "StatusInfos" not in prim
    assert prim["ReadReplicaDBInstanceIdentifiers"] == [f"arn:aws:rds:eu-west-2:{ACCOUNT}:db:{replica}"]
    # gp3 reports its baseline, as RDS does (amazon.aws.rds_instance reads both)
    assert (prim["Iops"], prim["StorageThroughput"]) == (3000, 125)


def test_promotion_takes_time_then_completes(world):
    primary, replica = make_pair(world)
    world.configure(promotion_seconds=1)
    rds = world.client("rds", "eu-west-2", retries=0)
    started = time.monotonic()
    resp = rds.promote_read_replica(DBInstanceIdentifier=replica)["DBInstance"]
    assert resp["DBInstanceStatus"] == "modifying"
    during = describe(world, "eu-west-2", replica)
    assert during["DBInstanceStatus"] == "modifying"
    assert during["StatusInfos"][0]["Status"] == "replicating"  # still a replica while promoting
    assert during["ReadReplicaSourceDBInstanceIdentifier"].endswith(f":db:{primary}")
    assert describe(world, "eu-west-1", primary)["ReadReplicaDBInstanceIdentifiers"]
    assert world.state()["promotions"][0]["db_instance_identifier"] == replica

    while describe(world, "eu-west-2", replica)["DBInstanceStatus"] != "available":
        assert time.monotonic() - started < 5, "promotion never completed"
        time.sleep(0.1)
    assert time.monotonic() - started >= 0.9, "promotion completed before promotion_seconds"
    after = describe(world, "eu-west-2", replica)
    assert "StatusInfos" not in after and "ReadReplicaSourceDBInstanceIdentifier" not in after
    assert describe(world, "eu-west-1", primary)["ReadReplicaDBInstanceIdentifiers"] == []


def test_promotion_completes_by_time_without_polling(world):
    """A client killed during the wait comes back later and finds it done."""
    _, replica = make_pair(world)
    world.configure(promotion_seconds=0.5)
    world.client("rds", "eu-west-2").promote_read_replica(DBInstanceIdentifier=replica)
    time.sleep(0.7)  # nobody asks meanwhile
    assert describe(world, "eu-west-2", replica)["DBInstanceStatus"] == "available"
    assert world.state()["promotions"] == []


def test_promote_refused_for_non_replica_and_while_promoting(world):
    primary, replica = make_pair(world)
    world.configure(promotion_seconds=0.5)
    code, message, status = error_of(world.client("rds", "eu-west-1", retries=0).promote_read_replica,
                                     DBInstanceIdentifier=primary)
    assert (code, status) == ("InvalidDBInstanceState", 400)
    assert "not a read replica" in message
    rds = world.client("rds", "eu-west-2", retries=0)
    rds.promote_read_replica(DBInstanceIdentifier=replica)
    code, _, status = error_of(rds.promote_read_replica, DBInstanceIdentifier=replica)
    assert (code, status) == ("InvalidDBInstanceState", 400)
    time.sleep(0.6)
    code, message, _ = error_of(rds.promote_read_replica, DBInstanceIdentifier=replica)  # already promoted
    assert code == "InvalidDBInstanceState" and "not a read replica" in message
    assert error_of(rds.promote_read_replica, DBInstanceIdentifier="missing")[0] == "DBInstanceNotFound"


def test_promotion_works_while_source_region_is_down(world):
    primary, replica = make_pair(world)
    world.configure(promotion_seconds=0.3)
    world.region_down("eu-west-1")
    world.client("rds", "eu-west-2", retries=0).promote_read_replica(DBInstanceIdentifier=replica)
    time.sleep(0.4)
    assert describe(world, "eu-west-2", replica)["DBInstanceStatus"] == "available"
    assert error_of(describe, world, "eu-west-1", primary)[2] == 503
    world.region_up("eu-west-1")
    assert describe(world, "eu-west-1", primary)["ReadReplicaDBInstanceIdentifiers"] == []


def test_deleting_cross_region_replica_detaches_it(world):
    primary, replica = make_pair(world)
    world.client("rds", "eu-west-2").delete_db_instance(DBInstanceIdentifier=replica, SkipFinalSnapshot=True)
    assert describe(world, "eu-west-1", primary)["ReadReplicaDBInstanceIdentifiers"] == []


# --- outages, latency, faults ---


def test_region_down_fails_that_region_only(world):
    world.region_down("eu-west-1")
    for service, call in (("rds", "describe_db_instances"), ("ec2", "describe_vpcs"), ("s3", "list_buckets"),
                          ("cloudwatch", "list_metrics"), ("elbv2", "describe_load_balancers")):
        code, _, status = error_of(getattr(world.client(service, "eu-west-1", retries=0), call))
        assert (code, status) == ("ServiceUnavailable", 503), service
        getattr(world.client(service, "eu-west-2", retries=0), call)()  # the standby answers
    # Route 53 is global: a client configured for eu-west-1 still works
    world.client("route53", "eu-west-1", retries=0).list_hosted_zones()
    world.region_up("eu-west-1")
    world.client("rds", "eu-west-1", retries=0).describe_db_instances()


def test_region_down_timeout_mode_hangs_then_fails(world):
    world.region_down("eu-west-1", mode="timeout", timeout_seconds=0.5)
    started = time.monotonic()
    assert error_of(world.client("rds", "eu-west-1", retries=0).describe_db_instances)[2] == 503
    assert time.monotonic() - started >= 0.5


def test_latency_is_added_to_every_aws_call(world):
    rds = world.client("rds", "eu-west-2")
    rds.describe_db_instances()  # warm up
    started = time.monotonic()
    rds.describe_db_instances()
    base = time.monotonic() - started
    world.configure(latency_ms=300)
    started = time.monotonic()
    rds.describe_db_instances()
    assert time.monotonic() - started >= base + 0.25
    started = time.monotonic()
    world.config()  # the control API itself is not slowed
    assert time.monotonic() - started < 0.25


def test_latency_model_scales_the_seed_step_times_and_spreads_promotions(world):
    from tests.world import realism

    patch, pod_start_delay = realism.latency_model("seed", 1 / 60)
    assert (patch["promotion_seconds"], patch["rds_modify_seconds"], pod_start_delay) == (4.0, 10.0, 1.0)
    assert patch["latency_ms"] == 30 and patch["operation_latency_ms"]["s3:HeadObject"] == 15  # per call: not scaled
    times = [realism.promotion_seconds(replica_id(s), patch) for s in SERVICES]
    assert all(3.0 <= t <= 5.0 for t in times) and len(set(times)) == len(times)
    assert times == [realism.promotion_seconds(replica_id(s), patch) for s in SERVICES]  # deterministic
    with pytest.raises(realism.ConfigError):
        realism.latency_model("nope")
    world.use_model("seed", 1 / 60)
    world.configure(operation_latency_ms={"rds": 300}, latency_ms=0)  # a service name: all its calls
    rds = world.client("rds", "eu-west-2")
    rds.describe_db_instances()
    started = time.monotonic()
    rds.describe_db_instances()
    assert time.monotonic() - started >= 0.25


def test_faults_fail_the_next_n_calls(world):
    rds = world.client("rds", "eu-west-2", retries=0)
    world.fault("rds:DescribeDBInstances", code="Throttling", status=400, count=2)
    assert error_of(rds.describe_db_instances)[:3:2] == ("Throttling", 400)
    assert error_of(rds.describe_db_instances)[0] == "Throttling"
    rds.describe_db_instances()
    assert world.config()["faults"] == {}
    # a retrying client rides through, and every attempt is counted
    world.reset_calls()
    world.fault("rds:DescribeDBInstances", code="Throttling", count=2)
    world.client("rds", "eu-west-2", retries=4).describe_db_instances()
    calls = world.calls()
    assert calls["by_operation"]["rds:DescribeDBInstances"] == 3
    assert calls["errors"]["rds:DescribeDBInstances"] == 2


def test_fault_scoped_to_region_and_unlimited(world):
    world.fault("rds:DescribeDBInstances", code="InternalFailure", status=500, count=None, region="eu-west-1")
    world.client("rds", "eu-west-2", retries=0).describe_db_instances()
    for _ in range(3):
        assert error_of(world.client("rds", "eu-west-1", retries=0).describe_db_instances)[2] == 500
    world.clear_faults()
    world.client("rds", "eu-west-1", retries=0).describe_db_instances()


def test_faults_in_json_cbor_and_rest_protocols(world):
    world.fault("cloudwatch:ListMetrics", code="Throttling")  # CloudWatch: Smithy RPCv2 CBOR
    assert error_of(world.client("cloudwatch", "eu-west-2", retries=0).list_metrics)[0] == "Throttling"
    world.fault("route53:ListHostedZones", code="PriorRequestNotComplete")  # rest-xml
    assert error_of(world.client("route53", retries=0).list_hosted_zones)[0] == "PriorRequestNotComplete"
    world.fault("s3:ListBuckets", code="SlowDown", status=503)
    assert error_of(world.client("s3", retries=0).list_buckets)[:3:2] == ("SlowDown", 503)
    world.fault("ec2:DescribeVpcs", code="RequestLimitExceeded", status=503)
    assert error_of(world.client("ec2", "eu-west-2", retries=0).describe_vpcs)[0] == "RequestLimitExceeded"


# --- call counting ---


def test_calls_are_counted_by_operation_and_region(world):
    world.client("rds", "eu-west-2").describe_db_instances()
    world.client("rds", "eu-west-2").describe_db_instances()
    world.client("rds", "eu-west-1").describe_db_instances()
    s3 = world.client("s3", "eu-west-1")
    s3.create_bucket(Bucket="bucket-one", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket="bucket-one", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="bucket-one", Key="a/b.txt", Body=b"x")
    s3.copy_object(Bucket="bucket-one", Key="c.txt", CopySource={"Bucket": "bucket-one", "Key": "a/b.txt"})
    s3.list_objects_v2(Bucket="bucket-one")
    world.client("cloudwatch", "eu-west-2").list_metrics()
    world.client("route53").list_health_checks()
    urllib.request.urlopen(urllib.request.Request(world.endpoint + "/moto-api/reset", method="POST")).read()
    calls = world.calls()
    ops = calls["by_operation"]
    assert ops == {
        "rds:DescribeDBInstances": 3, "s3:CreateBucket": 1, "s3:PutBucketVersioning": 1, "s3:PutObject": 1,
        "s3:CopyObject": 1, "s3:ListObjectsV2": 1, "cloudwatch:ListMetrics": 1, "route53:ListHealthChecks": 1,
    }  # no /_world or /moto-api entries
    assert calls["total"] == 10
    assert calls["by_region"]["eu-west-2"] == {"rds:DescribeDBInstances": 2, "cloudwatch:ListMetrics": 1}
    assert calls["by_region"]["global"] == {"route53:ListHealthChecks": 1}
    world.reset_calls()
    assert world.calls()["total"] == 0


def test_reset_empties_moto_and_restores_config(world):
    make_pair(world)
    world.configure(latency_ms=5, down_regions=["eu-west-1"])
    world.reset()
    assert world.config()["down_regions"] == [] and world.config()["latency_ms"] == 0
    assert world.client("rds", "eu-west-2").describe_db_instances()["DBInstances"] == []


# --- CloudWatch ReplicaLag ---


def lag_points(world: World, replica: str) -> list[float]:
    now = dt.datetime.now(dt.timezone.utc)
    points = world.client("cloudwatch", "eu-west-2").get_metric_statistics(
        Namespace="AWS/RDS", MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": replica}],
        StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=1),
        Period=60, Statistics=["Maximum"])["Datapoints"]
    return [p["Maximum"] for p in points]


def test_set_and_clear_lag(world):
    world.set_lag("lomash-orders-prod-replica", 5)
    assert lag_points(world, "lomash-orders-prod-replica") == [5.0]
    world.set_lag("lomash-orders-prod-replica", 120)
    assert lag_points(world, "lomash-orders-prod-replica") == [120.0]  # the old 5 s is gone
    world.clear_lag("lomash-orders-prod-replica")
    assert lag_points(world, "lomash-orders-prod-replica") == []  # no recent datapoint: lag unknown
    assert world.lags() == {}


def test_lag_is_republished_and_stops_after_promotion(world):
    _, replica = make_pair(world)
    world.configure(lag_publish_seconds=0.2)
    world.set_lag(replica, 3)
    time.sleep(0.3)
    lag_points(world, replica)  # a CloudWatch call publishes the due datapoint
    def count() -> int:  # number of datapoints published in the last minutes
        now = dt.datetime.now(dt.timezone.utc)
        points = world.client("cloudwatch", "eu-west-2").get_metric_statistics(
            Namespace="AWS/RDS", MetricName="ReplicaLag",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": replica}],
            StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=1),
            Period=60, Statistics=["SampleCount"])["Datapoints"]
        return int(sum(p["SampleCount"] for p in points))

    assert count() == 2
    world.client("rds", "eu-west-2").promote_read_replica(DBInstanceIdentifier=replica)  # promotion_seconds 0
    time.sleep(0.3)
    before = count()
    time.sleep(0.3)
    assert count() == before and world.lags() == {}


# --- Route 53 health checks ---


def test_health_checks_follow_down_regions(world):
    r53 = world.client("route53")
    def make(fqdn, ref, **extra):
        return r53.create_health_check(CallerReference=ref, HealthCheckConfig={
            "Type": "HTTPS", "FullyQualifiedDomainName": fqdn, "ResourcePath": "/health", **extra})["HealthCheck"]["Id"]
    euw1 = make("alb-1.eu-west-1.elb.amazonaws.com", "a")
    euw2 = make("alb-2.eu-west-2.elb.amazonaws.com", "b")
    inverted = make("alb-3.eu-west-1.elb.amazonaws.com", "c", Inverted=True)

    def ok(hc):
        obs = r53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]
        assert obs
        return all(o["StatusReport"]["Status"].startswith("Success") for o in obs)

    assert (ok(euw1), ok(euw2), ok(inverted)) == (True, True, False)
    world.region_down("eu-west-1")
    assert (ok(euw1), ok(euw2), ok(inverted)) == (False, True, True)
    world.region_up("eu-west-1")
    world.configure(failing_health_checks=[euw2])
    assert (ok(euw1), ok(euw2)) == (True, False)


# --- seed ---


def test_seed_is_idempotent_and_production_shaped(world):
    first = world.seed(lag_seconds=7)
    assert first["created"]
    second = world.seed(lag_seconds=7)
    assert second["created"] == []
    assert {k: v for k, v in first.items() if k != "created"} == {k: v for k, v in second.items() if k != "created"}

    rds1, rds2 = world.client("rds", "eu-west-1"), world.client("rds", "eu-west-2")
    primaries = {d["DBInstanceIdentifier"]: d for d in rds1.describe_db_instances()["DBInstances"]}
    replicas = {d["DBInstanceIdentifier"]: d for d in rds2.describe_db_instances()["DBInstances"]}
    assert set(primaries) == {f"lomash-{s}-prod" for s in SERVICES}
    assert set(replicas) == {replica_id(s) for s in SERVICES}
    for svc in SERVICES:
        rep = replicas[replica_id(svc)]
        assert rep["DBInstanceClass"] == "db.t3.medium" and rep["Engine"] == "postgres"
        assert rep["StatusInfos"] and rep["DBSubnetGroup"]["Subnets"]
        assert rep["ReadReplicaSourceDBInstanceIdentifier"] == primaries[f"lomash-{svc}-prod"]["DBInstanceArn"]
        tags = {t["Key"]: t["Value"] for t in rep["TagList"]}
        assert tags == {"Project": "lomash-wood", "Environment": "prod", "Service": svc, "Role": "replica"}
        assert {t["Key"]: t["Value"] for t in primaries[f"lomash-{svc}-prod"]["TagList"]}["Role"] == "primary"
        assert lag_points(world, replica_id(svc)) == [7.0]

    s3 = world.client("s3", "eu-west-1")
    for bucket in (MEDIA_BUCKET, MEDIA_REPLICA_BUCKET):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        versions = s3.list_object_versions(Bucket=bucket)["Versions"]
        assert len(versions) == len(first["s3"]["objects"])  # no extra versions from the re-run
    rule = s3.get_bucket_replication(Bucket=MEDIA_BUCKET)["ReplicationConfiguration"]["Rules"][0]
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{MEDIA_REPLICA_BUCKET}"

    albs = first["elbv2"]
    assert albs["eu-west-1"]["dns_name"] != albs["eu-west-2"]["dns_name"]
    r53 = world.client("route53")
    dns = first["route53"]
    records = [r for r in r53.list_resource_record_sets(HostedZoneId=dns["zone_id"])["ResourceRecordSets"]
               if r["Name"] == "api.lomashwood.com."]
    by_role = {r["Failover"]: r for r in records}
    assert set(by_role) == {"PRIMARY", "SECONDARY"} and len(records) == 2
    assert by_role["PRIMARY"]["ResourceRecords"][0]["Value"] == albs["eu-west-1"]["dns_name"]
    assert by_role["PRIMARY"]["HealthCheckId"] == dns["health_checks"]["api_gateway"]
    assert by_role["SECONDARY"]["ResourceRecords"][0]["Value"] == albs["eu-west-2"]["dns_name"]
    assert {r["TTL"] for r in records} == {60}
    checks = {hc["Id"]: hc["HealthCheckConfig"] for hc in r53.list_health_checks()["HealthChecks"]}
    assert len(checks) == 2
    api, auth = checks[dns["health_checks"]["api_gateway"]], checks[dns["health_checks"]["auth"]]
    assert (api["RequestInterval"], api["FailureThreshold"], api["ResourcePath"]) == (10, 3, "/health")
    assert (auth["RequestInterval"], auth["FailureThreshold"], auth["ResourcePath"]) == (30, 3, "/v1/auth/health")
    json.dumps(first)  # the CLI prints it


# --- command line ---


def test_cli_serve_writes_endpoint_file_and_stops_on_sigterm(tmp_path):
    endpoint_file = tmp_path / "endpoint"
    proc = subprocess.Popen([sys.executable, "-m", "tests.world", "serve", "--endpoint-file", str(endpoint_file)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not endpoint_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.05)
        endpoint = endpoint_file.read_text().strip()
        assert endpoint.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(endpoint + "/_world/health") as resp:
            assert json.loads(resp.read()) == {"ok": True}
        edge_file = Path(str(endpoint_file) + ".edge")  # written before the endpoint file
        edge = edge_file.read_text().strip()
        with urllib.request.urlopen(endpoint + "/_world/edge") as resp:
            assert json.loads(resp.read())["edge"] == edge and edge.startswith("http://127.0.0.1:")
        with pytest.raises(urllib.error.HTTPError) as unresolved:  # an empty world: no zone to resolve in
            urllib.request.urlopen(edge + "/_edge/resolve")
        assert unresolved.value.code == 502
        out = subprocess.run([sys.executable, "-m", "tests.world", "config", "--endpoint", endpoint,
                              "--set", "promotion_seconds=4", "--set", 'down_regions=["eu-west-1"]'],
                             cwd=REPO, capture_output=True, text=True, check=True, env={**os.environ})
        assert json.loads(out.stdout)["down_regions"] == ["eu-west-1"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert not endpoint_file.exists() and not edge_file.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
