"""rds_promote_batch against the embedded AWS world, through the ansible CLI."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from .runner import ROOT, ansible_env, module_command, mutating, run_module

SERVICES = ["auth", "products", "orders", "appointments", "content", "customers", "notifications", "analytics"]
REPLICAS = ["lomash-%s-prod-replica" % s for s in SERVICES]
BASE = {"region": "eu-west-2", "poll_interval": 0.2, "wait_timeout": 60}


def describe(world, names=REPLICAS):
    rds = world.client("rds", "eu-west-2")
    out = {}
    for name in names:
        d = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
        out[name] = (d["DBInstanceStatus"], d.get("ReadReplicaSourceDBInstanceIdentifier"))
    return out


def all_promoted(world, names=REPLICAS):
    return all(status == "available" and source is None for status, source in describe(world, names).values())


def no_promotion(world, names=REPLICAS):
    return all(source is not None for _status, source in describe(world, names).values())


def test_promotes_all_eight_at_once_and_reports_each(world):
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS))
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    assert [r["name"] for r in res["results"]] == REPLICAS
    for r in res["results"]:
        assert (r["outcome"], r["changed"], r["lag_seconds"]) == ("promoted", True, 5.0)
        assert r["address"].startswith(r["name"] + ".") and r["port"] == 5432
        assert r["before"]["read_replica_source"].startswith("arn:aws:rds:eu-west-1:")
        assert r["after"]["read_replica_source"] is None and r["after"]["status"] == "available"
        assert 1.0 <= r["seconds"] < 10
    # The endpoints as data, ready for the Secrets.
    assert res["endpoints"] == {r["name"]: {"address": r["address"], "port": 5432} for r in res["results"]}
    assert all_promoted(world)
    # Concurrent: 8 promotions of 1 s each finish in far less than 8 s of waiting.
    assert res["elapsed_seconds"] < 4
    calls = world.calls()["by_operation"]
    assert calls["rds:PromoteReadReplica"] == 8
    assert res["api_calls"]["PromoteReadReplica"] == 8
    # One shared describe per poll: the count tracks the wait, not the number of replicas.
    polls = res["api_calls"]["DescribeDBInstances"]
    assert polls <= 2 + res["elapsed_seconds"] / BASE["poll_interval"] + 1
    # The primary region is never needed.
    assert "eu-west-1" not in world.calls()["by_region"]


def test_rerun_changes_nothing_and_makes_no_mutating_call(world):
    first = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS))
    assert first["changed"] is True
    world.reset_calls()
    again = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS))
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False
    assert {r["outcome"] for r in again["results"]} == {"already-promoted"}
    assert {r["lag_seconds"] for r in again["results"]} == {5.0}  # the RPO estimate survives the rerun
    assert mutating(world.calls()) == {}


def test_check_mode_returns_the_plan_and_changes_nothing(world):
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS), check=True, diff=True)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    assert [(p["name"], p["action"]) for p in res["plan"]] == [(n, "promote") for n in REPLICAS]
    assert {r["outcome"] for r in res["results"]} == {"would-promote"}
    # --diff shows each replica losing its source
    assert "-        read_replica_source: arn:aws:rds:eu-west-1:123456789012:db:lomash-auth-prod" in res["_stdout"]
    assert "+        read_replica_source: null" in res["_stdout"]
    assert mutating(world.calls()) == {}
    assert no_promotion(world)


def _standalone(world, name="lomash-reporting-prod"):
    world.client("rds", "eu-west-2").create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t3.medium", Engine="postgres",
        MasterUsername="admin", MasterUserPassword="not-a-secret-1", AllocatedStorage=20)
    return name


@pytest.mark.parametrize("case, args, needle", [
    ("unknown", {"db_instance_identifiers": REPLICAS[:2] + ["lomash-ghost-prod-replica"]},
     "lomash-ghost-prod-replica: no DB instance of that name in eu-west-2"),
    ("empty", {"db_instance_identifiers": []}, "db_instance_identifiers is empty"),
    ("duplicate", {"db_instance_identifiers": REPLICAS + [REPLICAS[3]]},
     "duplicate DB instance identifiers: lomash-appointments-prod-replica"),
    ("bad name", {"db_instance_identifiers": ["lomash--auth"]}, "'lomash--auth' is not a valid DB instance identifier"),
    ("wrong region", {"db_instance_identifiers": ["arn:aws:rds:eu-west-1:123456789012:db:lomash-auth-prod"]},
     "lomash-auth-prod is in region eu-west-1, not eu-west-2"),
    ("not a replica", "standalone", "lomash-reporting-prod: is not a read replica"),
    ("wrong source region", {"db_instance_identifiers": REPLICAS, "source_region": "us-east-1"},
     "replicates from eu-west-1, not from source_region us-east-1"),
    ("negative lag", {"db_instance_identifiers": REPLICAS, "max_replica_lag_seconds": -1},
     "max_replica_lag_seconds must be at least 0, got -1"),
    ("no concurrency", {"db_instance_identifiers": REPLICAS, "max_concurrency": 0}, "max_concurrency must be at least 1, got 0"),
])
def test_bad_input_is_named_and_nothing_is_promoted(world, case, args, needle):
    if args == "standalone":
        args = {"db_instance_identifiers": REPLICAS + [_standalone(world)]}
        world.reset_calls()
    res = run_module("rds_promote_batch", dict(BASE, **args))
    assert res.get("failed") is True, res
    assert needle in res["msg"]
    assert mutating(world.calls()) == {}
    assert no_promotion(world)


def test_lag_gate_refuses_the_whole_batch_naming_the_replicas(world):
    world.set_lag("lomash-orders-prod-replica", 120)
    world.clear_lag("lomash-content-prod-replica")
    world.reset_calls()
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS))
    assert res.get("failed") is True
    assert "lomash-orders-prod-replica (120 s)" in res["msg"]
    assert "no recent ReplicaLag datapoint for: lomash-content-prod-replica" in res["msg"]
    assert "lomash-auth-prod-replica" not in res["msg"]
    assert mutating(world.calls()) == {}
    assert no_promotion(world)


def test_force_promotes_despite_lag_and_records_it(world):
    world.set_lag("lomash-orders-prod-replica", 120)
    world.clear_lag("lomash-content-prod-replica")
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS, force=True))
    assert not res.get("failed"), res.get("msg")
    lags = {r["name"]: r["lag_seconds"] for r in res["results"]}
    assert lags["lomash-orders-prod-replica"] == 120 and lags["lomash-content-prod-replica"] is None
    assert all_promoted(world)


def test_select_by_source_region(world):
    res = run_module("rds_promote_batch", dict(BASE, source_region="eu-west-1"))
    assert not res.get("failed"), res.get("msg")
    assert sorted(r["name"] for r in res["results"]) == sorted(REPLICAS)
    assert all_promoted(world)


def test_select_by_tags(world):
    res = run_module("rds_promote_batch", dict(BASE, tags={"Service": "orders"}))
    assert not res.get("failed"), res.get("msg")
    assert [r["name"] for r in res["results"]] == ["lomash-orders-prod-replica"]
    assert describe(world)["lomash-auth-prod-replica"][1] is not None  # the others untouched


def test_timeout_names_the_pending_instances_then_a_rerun_finishes(world):
    # long enough that the rerun (after ansible's own start-up) still finds them promoting
    world.configure(promotion_seconds=10)
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS[:3], wait_timeout=1))
    assert res.get("failed") is True
    assert "Timed out after 1 s waiting for 3 of 3 replica(s): still waiting for" in res["msg"]
    assert sorted(res["pending"]) == sorted(REPLICAS[:3]) and res["done"] == []
    for name in REPLICAS[:3]:
        assert name in res["msg"]
    assert {r["outcome"] for r in res["results"]} == {"pending"}
    world.reset_calls()
    again = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS[:3]))
    assert not again.get("failed"), again.get("msg")
    assert {r["action"] for r in again["results"]} == {"wait"}
    assert world.calls()["by_operation"].get("rds:PromoteReadReplica", 0) == 0
    assert all_promoted(world, REPLICAS[:3])


def test_run_killed_during_the_wait_is_finished_by_the_next_run(world):
    world.configure(promotion_seconds=10)  # still promoting when the next run starts
    cmd = module_command("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 20
    while world.calls()["by_operation"].get("rds:PromoteReadReplica", 0) < 8:
        assert time.monotonic() < deadline, "the promotions never started"
        time.sleep(0.05)
    import os
    os.killpg(proc.pid, signal.SIGKILL)  # the whole ansible process tree, mid-wait
    proc.wait()
    assert not all_promoted(world)
    world.reset_calls()
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS))
    assert not res.get("failed"), res.get("msg")
    assert {r["outcome"] for r in res["results"]} == {"promoted"}
    assert {r["action"] for r in res["results"]} <= {"wait", "none"}
    assert world.calls()["by_operation"].get("rds:PromoteReadReplica", 0) == 0  # never promoted twice
    assert all_promoted(world)


def test_works_while_the_primary_region_is_down(world):
    world.region_down("eu-west-1")
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS))
    assert not res.get("failed"), res.get("msg")
    assert all_promoted(world)


def test_throttling_is_retried(world):
    world.fault("rds:PromoteReadReplica", code="Throttling", status=400, count=2)
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS[:2]))
    assert not res.get("failed"), res.get("msg")
    assert res["api_calls"]["PromoteReadReplica"] == 4  # 2 throttled + 2 that went through
    assert all_promoted(world, REPLICAS[:2])


def test_no_wait_returns_after_starting(world):
    world.configure(promotion_seconds=5)
    res = run_module("rds_promote_batch", dict(BASE, db_instance_identifiers=REPLICAS[:2], wait=False))
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and {r["outcome"] for r in res["results"]} == {"pending"}
    assert res["elapsed_seconds"] < 3
