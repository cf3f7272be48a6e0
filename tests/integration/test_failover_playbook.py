"""playbooks/failover.yml end to end on the embedded world, as an operator runs it."""

from __future__ import annotations

import glob
import json
import os

from .runner import mutating, run_playbook
from .test_rds_promote_batch import REPLICAS, all_promoted, no_promotion


def _run(world, tmp_path, *args, **kwargs):
    env = dict(kwargs.pop("env", {}), LOMASHWOOD_REPORT_DIR=str(tmp_path))
    extra = dict({"dr_incident_id": "INC-T1"}, **kwargs.pop("extra_vars", {}))
    return run_playbook("playbooks/failover.yml", *args, env=env, extra_vars=extra, **kwargs)


def _report(tmp_path):
    files = sorted(glob.glob(str(tmp_path / "failover-*.json")))
    assert files, "no JSON report written"
    with open(files[-1]) as f:
        return json.load(f)


def test_failover_with_the_primary_region_down(world, tmp_path):
    world.region_down("eu-west-1")
    proc = _run(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert all_promoted(world)
    assert "Waiting for the promotions" in proc.stdout  # the operator sees what it waits for
    report = _report(tmp_path)
    assert [s["step"] for s in report["steps"]] == ["preflight", "promote_databases"]
    assert report["rpo_estimate_seconds"] == 5.0
    assert report["achieved_rto_seconds"] > 0
    promoted = report["steps"][1]["detail"]["results"]
    assert sorted(r["name"] for r in promoted) == sorted(REPLICAS)
    assert {r["outcome"] for r in promoted} == {"promoted"}
    md = sorted(glob.glob(str(tmp_path / "failover-*.md")))[-1]
    assert "| lomash-orders-prod-replica | promoted | 5.0 |" in open(md).read()
    # the lock is released at the end
    ssm = world.client("ssm", "eu-west-2")
    assert ssm.describe_parameters()["Parameters"] == []


def test_rerun_after_success_promotes_nothing(world, tmp_path):
    assert _run(world, tmp_path).returncode == 0
    world.reset_calls()
    proc = _run(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert mutating(world.calls()) == {}
    assert "already-promoted" in proc.stdout


def test_check_mode_prints_the_plan_and_changes_nothing(world, tmp_path):
    proc = _run(world, tmp_path, check=True, diff=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "would-promote" in proc.stdout
    assert "+        read_replica_source: null" in proc.stdout
    calls = world.calls()["by_operation"]
    assert mutating(world.calls()) == {}
    assert not calls.get("ssm:PutParameter") and not calls.get("ssm:DeleteParameter")
    assert no_promotion(world)


def test_lag_above_rpo_stops_in_preflight_before_any_change(world, tmp_path):
    world.set_lag("lomash-orders-prod-replica", 300)
    world.reset_calls()
    proc = _run(world, tmp_path)
    assert proc.returncode != 0
    assert "lomash-orders-prod-replica (300 s)" in proc.stdout
    assert mutating(world.calls()) == {}
    assert not world.calls()["by_operation"].get("ssm:PutParameter")
    assert no_promotion(world)


def test_a_second_failover_is_refused_while_one_holds_the_lock(world, tmp_path):
    ssm = world.client("ssm", "eu-west-2")
    ssm.put_parameter(Name="/lomashwood/multiregion/failover-lock", Type="String",
                      Value=json.dumps({"holder": "failover:INC-OTHER", "acquired_at": "earlier"}))
    proc = _run(world, tmp_path)
    assert proc.returncode != 0
    assert "held by 'failover:INC-OTHER'" in proc.stdout
    assert no_promotion(world)


def test_local_inventory_refuses_to_run_without_the_emulator(world, tmp_path):
    env = {"AWS_ENDPOINT_URL": ""}
    proc = _run(world, tmp_path, env=env)
    assert proc.returncode != 0
    assert "AWS_ENDPOINT_URL is not set" in proc.stdout
    assert world.calls()["total"] == 0


def test_bad_input_is_named(world, tmp_path):
    proc = _run(world, tmp_path, extra_vars={"dr_rds_replicas": REPLICAS + [REPLICAS[0]]})
    assert proc.returncode != 0
    assert "Bad input" in proc.stdout and "lomash-auth-prod-replica" in proc.stdout
    assert no_promotion(world)


def test_resume_by_tag_after_a_failed_wait(world, tmp_path):
    world.configure(promotion_seconds=6)
    proc = _run(world, tmp_path, extra_vars={"dr_rds_wait_timeout": 1})
    assert proc.returncode != 0 and "still waiting for" in proc.stdout
    world.reset_calls()
    proc = _run(world, tmp_path, tags="promote")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert world.calls()["by_operation"].get("rds:PromoteReadReplica", 0) == 0
    assert all_promoted(world)
    assert os.path.exists(str(tmp_path))
