"""rds_modify_batch against the embedded AWS world, through the ansible CLI.

The world makes a class change applied immediately take rds_modify_seconds (modifying, the new
class in PendingModifiedValues), so the shared wait is a real one.
"""

from __future__ import annotations

import time

import pytest

from .runner import mutating, run_module

SERVICES = ["auth", "products", "orders", "appointments", "content", "customers", "notifications", "analytics"]
NAMES = ["lomash-%s-prod-replica" % s for s in SERVICES]
# Production classes; analytics stays at its at-rest class (backups only).
CLASSES = {name: ("db.r6g.xlarge" if "orders" in name else "db.r6g.large") for name in NAMES if "analytics" not in name}
INSTANCES = [dict(name=n, **({"instance_class": CLASSES[n]} if n in CLASSES else {})) for n in NAMES]
BASE = {"region": "eu-west-2", "poll_interval": 0.2, "wait_timeout": 60, "backup_retention_period": 7}


def describe(world, names=NAMES):
    rds = world.client("rds", "eu-west-2")
    found = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": list(names)}])["DBInstances"]
    return {d["DBInstanceIdentifier"]: d for d in found}


def promote(world, names=NAMES):
    """What rds_promote_batch leaves behind: standalone, available, still db.t3.medium."""
    rds = world.client("rds", "eu-west-2")
    for name in names:
        rds.promote_read_replica(DBInstanceIdentifier=name)
    deadline = time.monotonic() + 20
    while not all(d["DBInstanceStatus"] == "available" and not d.get("ReadReplicaSourceDBInstanceIdentifier")
                  for d in describe(world, names).values()):
        assert time.monotonic() < deadline, "the promotions never finished"
        time.sleep(0.1)
    world.reset_calls()


def shape(world, names=NAMES):
    return {n: (d["DBInstanceClass"], d["BackupRetentionPeriod"]) for n, d in describe(world, names).items()}


@pytest.fixture
def promoted(world):
    world.configure(rds_modify_seconds=1)
    # at rest the replicas keep 1 day, so the retention change is visible too
    rds = world.client("rds", "eu-west-2")
    promote(world)
    for name in NAMES:
        rds.modify_db_instance(DBInstanceIdentifier=name, BackupRetentionPeriod=1, ApplyImmediately=True)
    world.reset_calls()
    return world


def test_scales_eight_promoted_databases_with_one_shared_wait(promoted):
    world = promoted
    res = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES))
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    assert [r["name"] for r in res["results"]] == NAMES
    for r in res["results"]:
        want = CLASSES.get(r["name"], "db.t3.medium")
        assert (r["action"], r["outcome"], r["changed"], r["status"]) == ("modify", "modified", True, "available")
        assert r["instance_class"] == {"before": "db.t3.medium", "after": want}
        assert r["backup_retention_period"] == {"before": 1, "after": 7}
        assert r["before"]["status"] == "available" and r["after"]["pending_instance_class"] is None
        if r["name"] in CLASSES:
            assert 1.0 <= r["seconds"] < 10  # the class change took the world's 1 s
    assert shape(world) == {n: (CLASSES.get(n, "db.t3.medium"), 7) for n in NAMES}
    # Concurrent: eight 1 s changes take about 1 s, not 8.
    assert res["elapsed_seconds"] < 4
    assert res["api_calls"]["ModifyDBInstance"] == 8
    assert world.calls()["by_operation"]["rds:ModifyDBInstance"] == 8
    # One DescribeDBInstances to observe, then one per poll for the whole batch.
    assert res["api_calls"]["DescribeDBInstances"] == 1 + res["polls"]
    assert res["polls"] <= 2 + res["elapsed_seconds"] / BASE["poll_interval"]
    assert "eu-west-1" not in world.calls()["by_region"]


def test_rerun_changes_nothing_and_makes_no_mutating_call(promoted):
    world = promoted
    first = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES))
    assert first["changed"] is True, first.get("msg")
    world.reset_calls()
    again = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES))
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False
    assert {r["action"] for r in again["results"]} == {"none"}
    assert {r["outcome"] for r in again["results"]} == {"unchanged"}
    assert mutating(world.calls()) == {}
    assert again["api_calls"] == {"DescribeDBInstances": 1}


def test_check_mode_returns_the_plan_and_changes_nothing(promoted):
    world = promoted
    res = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES), check=True, diff=True)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    assert [(p["name"], p["action"]) for p in res["plan"]] == [(n, "modify") for n in NAMES]
    orders = next(p for p in res["plan"] if p["name"] == "lomash-orders-prod-replica")
    assert orders["instance_class"] == {"before": "db.t3.medium", "after": "db.r6g.xlarge"}
    assert {r["outcome"] for r in res["results"]} == {"would-modify"}
    assert "-        instance_class: db.t3.medium" in res["_stdout"]
    assert "+        instance_class: db.r6g.xlarge" in res["_stdout"]
    assert mutating(world.calls()) == {}
    assert shape(world) == {n: ("db.t3.medium", 1) for n in NAMES}


def test_an_entry_without_class_or_retention_is_skipped(promoted):
    args = dict(BASE, instances=[{"name": NAMES[0], "instance_class": "db.r6g.large"}, {"name": NAMES[1]}])
    del args["backup_retention_period"]
    res = run_module("rds_modify_batch", args)
    assert not res.get("failed"), res.get("msg")
    assert [(r["action"], r["outcome"]) for r in res["results"]] == [("modify", "modified"), ("skip", "skipped")]
    assert shape(promoted, NAMES[:2]) == {NAMES[0]: ("db.r6g.large", 1), NAMES[1]: ("db.t3.medium", 1)}
    assert res["api_calls"]["ModifyDBInstance"] == 1


def test_bad_input_is_named_and_nothing_changes(promoted):
    # The request's own problems are named together; an unknown instance once it is looked up.
    bad = INSTANCES + [INSTANCES[3], {"name": "lomash-x-prod", "instance_class": "r6g.large"},
                       {"name": "lomash-y-prod", "backup_retention_period": 40}]
    res = run_module("rds_modify_batch", dict(BASE, instances=bad))
    assert res.get("failed") is True, res
    for needle in ("duplicate DB instance identifiers: lomash-appointments-prod-replica",
                   "lomash-x-prod: instance_class 'r6g.large' is not a DB instance class",
                   "lomash-y-prod: backup_retention_period must be 0 to 35 days, got 40"):
        assert needle in res["msg"]
    unknown = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES[:2] + [
        {"name": "lomash-ghost-prod-replica", "instance_class": "db.r6g.large"}]))
    assert unknown.get("failed") is True
    assert "lomash-ghost-prod-replica: no DB instance of that name in eu-west-2" in unknown["msg"]
    assert mutating(promoted.calls()) == {}
    assert shape(promoted) == {n: ("db.t3.medium", 1) for n in NAMES}


def test_backup_retention_for_a_replica_is_refused_naming_it(world):
    promote(world, NAMES[1:])  # auth is still a read replica
    world.client("rds", "eu-west-2").modify_db_instance(DBInstanceIdentifier=NAMES[0], BackupRetentionPeriod=1,
                                                        ApplyImmediately=True)
    world.reset_calls()
    res = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES))
    assert res.get("failed") is True
    assert "lomash-auth-prod-replica: is still a read replica of arn:aws:rds:eu-west-1:" in res["msg"]
    assert "lomash-products-prod-replica" not in res["msg"]
    assert mutating(world.calls()) == {}
    assert {c for c, _r in shape(world).values()} == {"db.t3.medium"}


def test_an_instance_still_promoting_is_refused(world):
    world.configure(promotion_seconds=10)
    promote(world, NAMES[1:])
    world.client("rds", "eu-west-2").promote_read_replica(DBInstanceIdentifier=NAMES[0])
    world.reset_calls()
    res = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES))
    assert res.get("failed") is True
    assert "lomash-auth-prod-replica: is modifying, not available" in res["msg"]
    assert mutating(world.calls()) == {}


def test_timeout_names_the_pending_instances_then_a_rerun_waits_without_resending(promoted):
    world = promoted
    world.configure(rds_modify_seconds=10)  # still modifying when the rerun starts (ansible starts in seconds)
    res = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES[:3], wait_timeout=1))
    assert res.get("failed") is True
    assert "Timed out after 1 s waiting for 3 of 3 DB instance(s): still waiting for" in res["msg"]
    assert "lomash-orders-prod-replica (modifying, db.t3.medium -> db.r6g.xlarge pending)" in res["msg"]
    assert sorted(res["pending"]) == sorted(NAMES[:3])
    world.reset_calls()
    again = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES[:3]))
    assert not again.get("failed"), again.get("msg")
    assert {r["action"] for r in again["results"]} == {"wait"}
    assert {r["outcome"] for r in again["results"]} == {"modified"}
    assert world.calls()["by_operation"].get("rds:ModifyDBInstance", 0) == 0
    assert shape(world, NAMES[:3]) == {n: (CLASSES[n], 7) for n in NAMES[:3]}


def test_throttling_is_retried(promoted):
    promoted.fault("rds:ModifyDBInstance", code="Throttling", status=400, count=2)
    res = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES[:2]))
    assert not res.get("failed"), res.get("msg")
    assert res["api_calls"]["ModifyDBInstance"] == 4  # 2 throttled + 2 that went through
    assert shape(promoted, NAMES[:2]) == {n: (CLASSES[n], 7) for n in NAMES[:2]}


def test_after_promotion_changes_each_instance_as_soon_as_it_is_promoted(world):
    """The batch started beside the promotions (after_promotion): the replicas are not refused; each gets
    its class a poll after its own promotion ends, so the early ones are done before the late ones are
    even promoted; one ModifyDBInstance each, none refused by RDS."""
    import threading  # pylint: disable=import-outside-toplevel
    world.configure(promotion_seconds=2, rds_modify_seconds=1)
    rds = world.client("rds", "eu-west-2")
    early, late = NAMES[:4], NAMES[4:]
    for name in early:
        rds.promote_read_replica(DBInstanceIdentifier=name)
    later = threading.Timer(2.5, lambda: [rds.promote_read_replica(DBInstanceIdentifier=n) for n in late])
    later.start()
    world.reset_calls()
    try:
        res = run_module("rds_modify_batch", dict(region="eu-west-2", poll_interval=0.2, wait_timeout=60,
                                                  instance_class="db.r6g.large", instances=[{"name": n} for n in NAMES],
                                                  after_promotion=True))
    finally:
        later.join()
    assert not res.get("failed"), res.get("msg")
    assert [r["action"] for r in res["results"]] == ["modify"] * 8 and {r["outcome"] for r in res["results"]} == {"modified"}
    seconds = {r["name"]: r["seconds"] for r in res["results"]}
    # the late promotions started 2.5 s after the early ones: the early changes did not wait for them
    assert min(seconds[n] for n in late) - max(seconds[n] for n in early) >= 1.5, seconds
    assert shape(world) == {n: ("db.r6g.large", describe(world)[n]["BackupRetentionPeriod"]) for n in NAMES}
    assert all(not d.get("ReadReplicaSourceDBInstanceIdentifier") for d in describe(world).values())
    calls = world.calls()
    assert calls["by_operation"]["rds:ModifyDBInstance"] == 8 and not calls.get("errors"), calls


def test_after_promotion_needs_wait(world):
    res = run_module("rds_modify_batch", dict(BASE, instances=INSTANCES, after_promotion=True, wait=False))
    assert res["failed"] and "after_promotion needs wait" in res["msg"], res
