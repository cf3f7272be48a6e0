"""rds_replica_batch against the embedded AWS world, through the ansible CLI: the failback's
eu-west-1 replicas of the eu-west-2 primaries (the seeded replicas, promoted first)."""

from __future__ import annotations

import re
import time

import pytest

from .runner import mutating, run_module

SERVICES = ["auth", "products", "orders", "appointments", "content", "customers", "notifications", "analytics"]
SOURCES = ["lomash-%s-prod-replica" % s for s in SERVICES]  # eu-west-2, primaries once promoted
NEW = ["lomash-%s-prod-failback" % s for s in SERVICES]  # the new replicas in eu-west-1
BASE = {"region": "eu-west-1", "source_region": "eu-west-2", "poll_interval": 0.2, "wait_timeout": 60}


@pytest.fixture
def failed_over(world):
    """The world after a failover: the eu-west-2 replicas promoted to primaries; new replicas take 1 s to create."""
    world.configure(promotion_seconds=0)
    rds = world.client("rds", "eu-west-2")
    for name in SOURCES:
        rds.promote_read_replica(DBInstanceIdentifier=name)
    deadline = time.monotonic() + 10
    while any(d.get("ReadReplicaSourceDBInstanceIdentifier") for d in rds.describe_db_instances(
            Filters=[{"Name": "db-instance-id", "Values": SOURCES}])["DBInstances"]):
        assert time.monotonic() < deadline, "the promotions never completed"
        time.sleep(0.05)
    world.configure(rds_replica_creation_seconds=1, rds_replica_lag_seconds=0)
    world.kms_key = world.info["s3"]["kms_keys"]["eu-west-1"]
    world.reset_calls()
    return world


def args(world, **extra):
    replicas = [{"name": new, "source": src} for new, src in zip(NEW, SOURCES)]
    return dict(BASE, kms_key_id=world.kms_key, db_subnet_group_name=world.info["rds"]["subnet_groups"]["eu-west-1"],
                replicas=replicas) | extra


def replicas_in_west1(world, names=NEW):
    found = world.client("rds", "eu-west-1").describe_db_instances(
        Filters=[{"Name": "db-instance-id", "Values": names}])["DBInstances"]
    return {d["DBInstanceIdentifier"]: d for d in found}


def test_creates_eight_replicas_at_once_and_waits_until_in_sync(failed_over):
    world = failed_over
    res = run_module("rds_replica_batch", args(world))
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    assert [r["name"] for r in res["results"]] == NEW
    for r, src in zip(res["results"], SOURCES):
        assert (r["action"], r["outcome"], r["changed"], r["status"]) == ("create", "created", True, "available")
        assert r["source"] == "arn:aws:rds:eu-west-2:123456789012:db:" + src
        assert r["instance_class"] == "db.t3.medium" and r["lag_seconds"] == 0.0
        assert r["address"].startswith(r["name"] + ".") and r["port"] == 5432
        assert r["before"] is None and r["after"]["read_replica_source"] == r["source"]
        assert 1.0 <= r["seconds"] < 10  # the world's creating phase is 1 s: the wait was real
    calls = world.calls()  # before the test's own reads
    found = replicas_in_west1(world)
    assert sorted(found) == sorted(NEW)
    for name, src in zip(NEW, SOURCES):
        d = found[name]
        assert d["ReadReplicaSourceDBInstanceIdentifier"].endswith(":db:" + src)
        assert (d["DBInstanceClass"], d["DBSubnetGroup"]["DBSubnetGroupName"]) == ("db.t3.medium", world.info["rds"]["subnet_groups"]["eu-west-1"])
        tags = {t["Key"]: t["Value"] for t in d["TagList"]}
        assert tags["lomashwood:replica-of"] == d["ReadReplicaSourceDBInstanceIdentifier"]
    assert calls["by_operation"]["rds:CreateDBInstanceReadReplica"] == 8
    # Concurrent: 8 creations of 1 s each, in far less than 8 s.
    assert res["elapsed_seconds"] < 5
    # One DescribeDBInstances for the sources (eu-west-2), then one per poll in eu-west-1.
    assert calls["by_region"]["eu-west-2"]["rds:DescribeDBInstances"] == 1
    describes = calls["by_region"]["eu-west-1"]["rds:DescribeDBInstances"]
    assert describes == res["api_calls"]["DescribeDBInstances"] - 1 == res["polls"] + 1  # + the observation
    assert describes <= 2 + res["elapsed_seconds"] / BASE["poll_interval"] + 1


def test_rerun_leaves_them_alone_and_check_mode_changes_nothing(failed_over):
    world = failed_over
    world.configure(rds_replica_creation_seconds=0)
    assert run_module("rds_replica_batch", args(world))["changed"] is True
    world.reset_calls()
    again = run_module("rds_replica_batch", args(world))
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False
    assert {(r["action"], r["outcome"], r["changed"]) for r in again["results"]} == {("none", "exists", False)}
    assert mutating(world.calls()) == {}
    # Check mode of a done batch: no change; one describe per region, one lag read.
    check = run_module("rds_replica_batch", args(world), check=True)
    assert check["changed"] is False and mutating(world.calls()) == {}


def test_check_mode_returns_the_plan_and_creates_nothing(failed_over):
    world = failed_over
    res = run_module("rds_replica_batch", args(world), check=True, diff=True)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    assert [(p["name"], p["action"], p["source_region"]) for p in res["plan"]] == [(n, "create", "eu-west-2") for n in NEW]
    assert {r["outcome"] for r in res["results"]} == {"would-create"}
    assert "+    lomash-auth-prod-failback:" in res["_stdout"]  # --diff shows each new replica
    assert mutating(world.calls()) == {}
    assert replicas_in_west1(world) == {}


def test_a_replica_still_creating_is_waited_on_not_created_again(failed_over):
    world = failed_over
    world.configure(rds_replica_creation_seconds=60)  # still creating whatever the machine's load
    first = run_module("rds_replica_batch", args(world, wait=False))
    assert first["changed"] is True and {r["outcome"] for r in first["results"]} == {"pending"}
    world.reset_calls()
    second = run_module("rds_replica_batch", args(world, wait_timeout=1))
    assert second.get("failed") is True  # timed out, naming each replica and how far it got
    assert "waiting for 8 of 8 replica(s)" in second["msg"] and "lomash-auth-prod-failback (creating)" in second["msg"]
    assert second["changed"] is False and sorted(second["pending"]) == sorted(NEW)
    assert {(r["action"], r["outcome"], r["status"]) for r in second["results"]} == {("wait", "pending", "creating")}
    assert mutating(world.calls()) == {}


def test_lag_above_the_bound_times_out_naming_the_replicas(failed_over):
    world = failed_over
    world.configure(rds_replica_creation_seconds=0, rds_replica_lag_seconds=90)
    res = run_module("rds_replica_batch", args(world, wait_timeout=1, replicas=[{"name": NEW[0], "source": SOURCES[0]}]))
    assert res.get("failed") is True
    # the seeded lag drains while eu-west-2's writers are stopped: a value just under 90 s
    lag = re.search(r"still waiting for lomash-auth-prod-failback \(available, ReplicaLag ([0-9.]+) s > 30 s\)", res["msg"])
    assert lag and 60 < float(lag.group(1)) <= 90, res["msg"]
    assert res["pending"] == [NEW[0]]


def _refused(world, res):
    """The refusal's message and the calls the module made; nothing was created."""
    assert res.get("failed") is True, res
    calls = world.calls()
    assert mutating(calls) == {}
    assert replicas_in_west1(world) == {}  # the good entries were not created either
    return res["msg"], calls


def test_bad_input_is_named_before_anything_is_read_or_created(failed_over):
    world = failed_over
    good = [{"name": n, "source": s} for n, s in zip(NEW[1:3], SOURCES[1:3])]
    bad = [
        {"name": NEW[0], "source": SOURCES[0]}, {"name": NEW[0], "source": SOURCES[3]},  # duplicate
        {"name": NEW[4]},  # no source
        {"name": NEW[5], "source": "lomash-content-prod", "source_region": "eu-west-1"},  # same region
        {"name": NEW[6], "source": SOURCES[6], "instance_class": "large"},
        {"name": "lomash--x", "source": SOURCES[7]},
    ]
    msg, calls = _refused(world, run_module("rds_replica_batch", dict(args(world), replicas=good + bad)))
    for needle in ("duplicate replica names: lomash-auth-prod-failback",
                   "lomash-content-prod-failback: source is missing",
                   "source lomash-content-prod is in eu-west-1, the region the replica would be in",
                   "instance_class 'large' is not a DB instance class",
                   "'lomash--x' is not a valid DB instance identifier"):
        assert needle in msg, msg
    assert calls["by_operation"] == {}  # refused before reading anything


def test_what_is_there_refuses_the_batch_naming_each_replica(failed_over):
    world = failed_over
    # eu-west-2's auth database becomes a fresh replica of eu-west-1's again (not promoted).
    west2 = world.client("rds", "eu-west-2")
    west2.delete_db_instance(DBInstanceIdentifier=SOURCES[0], SkipFinalSnapshot=True)
    west2.create_db_instance_read_replica(
        DBInstanceIdentifier=SOURCES[0], SourceDBInstanceIdentifier=world.info["rds"]["primaries"]["auth"]["arn"],
        SourceRegion="eu-west-1", DBInstanceClass="db.t3.medium")
    world.reset_calls()
    key, group = world.kms_key, world.info["rds"]["subnet_groups"]["eu-west-1"]
    replicas = [
        {"name": NEW[1], "source": SOURCES[1], "kms_key_id": key},  # good
        {"name": "lomash-products-prod", "source": SOURCES[1], "kms_key_id": key},  # the old eu-west-1 primary
        {"name": NEW[2], "source": "lomash-ghost-prod", "kms_key_id": key},
        {"name": NEW[0], "source": SOURCES[0], "kms_key_id": key},  # source not promoted
        {"name": NEW[3], "source": SOURCES[3]},  # encrypted source, no key
        {"name": NEW[4], "source": SOURCES[4], "kms_key_id": key, "db_subnet_group_name": "lomash-nowhere"},
    ]
    res = run_module("rds_replica_batch", dict(BASE, db_subnet_group_name=group, replicas=replicas))
    msg, _calls = _refused(world, res)
    for needle in ("lomash-products-prod: already exists in eu-west-1 and is not a read replica of "
                   "lomash-products-prod-replica in eu-west-2 (it is a standalone instance, available)",
                   "lomash-orders-prod-failback: source lomash-ghost-prod not found in eu-west-2",
                   "lomash-auth-prod-failback: source lomash-auth-prod-replica in eu-west-2 is itself a read replica",
                   "lomash-appointments-prod-failback: source lomash-appointments-prod-replica is encrypted; "
                   "a cross-region replica needs kms_key_id",
                   "lomash-content-prod-failback: db_subnet_group_name lomash-nowhere not found in eu-west-1"):
        assert needle in msg, msg
    assert NEW[1] not in msg
    assert len(res["problems"]) == 5
