"""rds_retire_batch against the embedded AWS world, through the ansible CLI: the old eu-west-2
primaries (the seeded replicas, promoted) get final snapshots, and are deleted only when asked."""

from __future__ import annotations

from .runner import mutating, run_module
# failed_over is a fixture, used by name.
from .test_rds_replica_batch import SOURCES, failed_over  # noqa: F401  # pylint: disable=unused-import

BASE = {"region": "eu-west-2", "poll_interval": 0.2, "wait_timeout": 60, "snapshot_stamp": "fb1"}


def instances(names=SOURCES):
    return [{"name": n} for n in names]


def in_west2(world):
    rds = world.client("rds", "eu-west-2")
    dbs = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": SOURCES}])["DBInstances"]
    snaps = rds.describe_db_snapshots(Filters=[{"Name": "db-snapshot-id", "Values": [n + "-final-fb1" for n in SOURCES]}])
    return ({d["DBInstanceIdentifier"]: d["DBInstanceStatus"] for d in dbs},
            {s["DBSnapshotIdentifier"]: s["Status"] for s in snaps["DBSnapshots"]})


def test_without_delete_only_snapshots_are_taken_and_the_instances_kept(failed_over):
    world = failed_over
    world.configure(rds_snapshot_seconds=1)
    res = run_module("rds_retire_batch", dict(BASE, instances=instances()))
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    for r, name in zip(res["results"], SOURCES):
        assert (r["name"], r["action"], r["outcome"], r["deleted"]) == (name, "snapshot", "snapshotted", False)
        assert (r["snapshot"], r["snapshot_status"], r["instance_status"]) == (name + "-final-fb1", "available", "available")
        assert 1.0 <= r["seconds"] < 10  # the world's snapshots take 1 s: the wait was real
    calls = world.calls()
    assert calls["by_operation"]["rds:CreateDBSnapshot"] == 8
    assert "rds:DeleteDBInstance" not in calls["by_operation"]
    # One DescribeDBInstances and one DescribeDBSnapshots per poll, plus the observation.
    assert res["api_calls"]["DescribeDBInstances"] == res["api_calls"]["DescribeDBSnapshots"] == res["polls"] + 1
    assert res["elapsed_seconds"] < 5  # concurrent
    dbs, snaps = in_west2(world)
    assert set(dbs.values()) == {"available"} and len(dbs) == 8
    assert set(snaps.values()) == {"available"} and len(snaps) == 8

    world.reset_calls()
    again = run_module("rds_retire_batch", dict(BASE, instances=instances()))
    assert again["changed"] is False
    assert {(r["action"], r["outcome"]) for r in again["results"]} == {("none", "kept")}
    assert mutating(world.calls()) == {}


def test_check_mode_then_delete_with_final_snapshots_then_rerun(failed_over):
    world = failed_over
    world.configure(rds_snapshot_seconds=0.5, rds_delete_seconds=1)
    # Two were snapshotted by an earlier run without delete.
    assert run_module("rds_retire_batch", dict(BASE, instances=instances(SOURCES[:2])))["changed"] is True
    world.reset_calls()
    check = run_module("rds_retire_batch", dict(BASE, delete=True, instances=instances()), check=True, diff=True)
    assert not check.get("failed"), check.get("msg")
    assert [p["action"] for p in check["plan"]] == ["delete"] * 2 + ["snapshot-and-delete"] * 6
    assert {r["outcome"] for r in check["results"]} == {"would-delete"}
    assert mutating(world.calls()) == {}
    assert len(in_west2(world)[0]) == 8

    res = run_module("rds_retire_batch", dict(BASE, delete=True, instances=instances()))
    assert not res.get("failed"), res.get("msg")
    for r in res["results"]:
        assert (r["outcome"], r["deleted"], r["instance_status"], r["snapshot_status"]) == ("deleted", True, None, "available")
        assert r["seconds"] >= 1.0  # deleting took the world's 1 s
    calls = world.calls()["by_operation"]
    assert calls["rds:DeleteDBInstance"] == 8 and "rds:CreateDBSnapshot" not in calls
    dbs, snaps = in_west2(world)
    assert dbs == {} and set(snaps.values()) == {"available"} and len(snaps) == 8

    world.reset_calls()
    again = run_module("rds_retire_batch", dict(BASE, delete=True, instances=instances()))
    assert again["changed"] is False
    assert {r["outcome"] for r in again["results"]} == {"retired"}
    assert mutating(world.calls()) == {}


def test_refusals_are_named_and_nothing_is_retired(world):
    # The seeded world: eu-west-1 primaries, each the source of an eu-west-2 replica.
    bad_input = run_module("rds_retire_batch", dict(BASE, region="eu-west-1", snapshot_stamp=None, instances=[
        {"name": "lomash-auth-prod", "final_snapshot_identifier": "auth-last"}, {"name": "lomash-auth-prod"},
        {"name": "lomash-orders-prod"}, {"name": "lomash-content-prod", "final_snapshot_identifier": "auth-last"}]))
    assert bad_input.get("failed") is True
    for needle in ("lomash-orders-prod: no final_snapshot_identifier, and no snapshot_stamp",
                   "duplicate DB instance identifiers: lomash-auth-prod",
                   "duplicate final snapshot identifiers: auth-last"):
        assert needle in bad_input["msg"], bad_input["msg"]
    assert world.calls()["by_operation"] == {}

    west1 = world.client("rds", "eu-west-1")
    west1.create_db_snapshot(DBInstanceIdentifier="lomash-products-prod", DBSnapshotIdentifier="lomash-orders-prod-final-fb1")
    west1.modify_db_instance(DBInstanceIdentifier="lomash-content-prod", DeletionProtection=True, ApplyImmediately=True)
    world.reset_calls()
    res = run_module("rds_retire_batch", dict(BASE, region="eu-west-1", delete=True, instances=instances(
        ["lomash-auth-prod", "lomash-orders-prod", "lomash-content-prod"])))
    assert res.get("failed") is True
    for needle in ("lomash-auth-prod: still the source of read replica(s) "
                   "arn:aws:rds:eu-west-2:123456789012:db:lomash-auth-prod-replica; refusing to delete it",
                   "lomash-orders-prod: snapshot lomash-orders-prod-final-fb1 already exists but is of another instance "
                   "(lomash-products-prod",
                   "lomash-content-prod: has deletion protection on"):
        assert needle in res["msg"], res["msg"]
    assert "lomash-content-prod: still the source of read replica(s)" in res["msg"]
    assert len(res["problems"]) == 4
    assert mutating(world.calls()) == {}
