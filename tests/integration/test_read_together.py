"""read_together: several of the collection's modules, in check mode, at once, in one task. Each result is
what the module's own task returns, the play's module_defaults apply to each, nothing changes, the task
takes about as long as its slowest read, and a failed read fails the task naming it (the others kept)."""

from __future__ import annotations

import json
import time

from .runner import mutating, run_module, run_playbook

PRIMARIES = ["lomash-auth-prod", "lomash-orders-prod"]
REPLICAS = ["lomash-auth-prod-replica", "lomash-orders-prod-replica"]
R53 = {"mode": "status", "zone": "lomashwood.com", "record": "api.lomashwood.com", "alias": False, "ttl": 60,
       "primary": {"region": "eu-west-1", "alb": "lomash-wood-alb-euw1"},
       "standby": {"region": "eu-west-2", "alb": "lomash-wood-alb-euw2"}}


def together(tmp_path, reads, gate=None, env=None):
    out = tmp_path / "result.json"
    extra = {"reads": reads, "result_file": str(out)}
    if gate:
        extra["gate"] = gate
    proc = run_playbook("tests/integration/playbooks/read_together.yml", inventory="localhost,",
                        extra_vars=extra, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_each_read_is_what_its_own_task_returns_and_nothing_changes(world, tmp_path):
    alone = run_module("region_probe", {"region": "eu-west-2", "db_instance_identifiers": REPLICAS})
    world.reset_calls()
    # a failover in route53_failover's own hands: in check mode it only plans it
    result = together(tmp_path, {
        "standby": {"module": "region_probe", "args": {"db_instance_identifiers": REPLICAS}},  # region: module_defaults
        "dns": {"module": "lomashwood.multiregion.route53_failover", "args": dict(R53, mode="failover")},
    })
    assert not result.get("failed") and result["changed"] is False, result
    standby = result["results"]["standby"]
    assert (standby["answered"], standby["databases"]) == (alone["answered"], alone["databases"]), standby
    assert result["results"]["dns"]["changed"] is True  # it would move the name ...
    assert mutating(world.calls()) == {}  # ... and did not


def test_the_reads_run_at_once(world, tmp_path):
    world.configure(operation_latency_ms={"rds": 1500})
    result = together(tmp_path, {name: {"module": "region_probe", "args": {"region": region, "db_instance_identifiers": dbs}}
                                 for name, region, dbs in (("a", "eu-west-1", PRIMARIES), ("b", "eu-west-2", REPLICAS),
                                                           ("c", "eu-west-1", PRIMARIES[:1]))})
    seconds = [r["seconds"] for r in result["results"].values()]
    assert all(s >= 1.4 for s in seconds), result
    assert max(seconds) <= result["elapsed_seconds"] < 0.7 * sum(seconds), (seconds, result["elapsed_seconds"])


def test_a_failed_read_fails_the_task_naming_it_and_the_others_are_kept(world, tmp_path):
    world.fault("sts:GetCallerIdentity", code="InvalidClientTokenId", status=403, count=1)
    result = together(tmp_path, {
        "standby": {"module": "region_probe", "args": {"caller_identity": True}},
        "dns": {"module": "route53_failover", "args": R53},
    })
    assert result["failed"] and result["msg"].startswith("standby (region_probe): "), result
    assert "sts:GetCallerIdentity" in result["msg"] and "dns" not in result["msg"], result
    assert result["results"]["dns"]["status"]["serving_region"] == "eu-west-1"


def test_a_gate_that_does_not_answer_stops_the_other_reads_at_once(world, tmp_path):
    """The standby down: its brief probe ends without an answer, and the RPO read on the same region (the SDK's
    retries of a 503: over a minute) is stopped then, its process ended, and returned as skipped."""
    world.region_down("eu-west-2")
    started = time.monotonic()
    result = together(tmp_path, {
        "rpo": {"module": "rds_promote_batch", "args": {"db_instance_identifiers": REPLICAS, "max_replica_lag_seconds": 300}},
        "standby": {"module": "region_probe", "args": {"db_instance_identifiers": REPLICAS, "timeout": 3}},
    }, gate="standby")
    took = time.monotonic() - started
    assert not result.get("failed") and result["stopped_by"] == "standby", result
    assert result["results"]["standby"]["answered"] is False, result
    rpo = result["results"]["rpo"]
    assert rpo["skipped"] and "standby did not answer" in rpo["msg"], rpo
    assert took < 20, took
    # Stopped, not left running: its next retries (1 s, then 2 s, 4 s later) never reach the region.
    before = world.calls()["by_region"].get("eu-west-2", 0)
    time.sleep(5)
    assert world.calls()["by_region"].get("eu-west-2", 0) == before, world.calls()


def test_without_pipelining_the_gate_runs_first_and_alone_when_it_does_not_answer(world, tmp_path):
    """Without pipelining the reads run one after another: the gate first, and nothing after a gate without an answer."""
    world.region_down("eu-west-2")
    world.reset_calls()
    result = together(tmp_path, {
        "rpo": {"module": "rds_promote_batch", "args": {"db_instance_identifiers": REPLICAS, "max_replica_lag_seconds": 300}},
        "standby": {"module": "region_probe", "args": {"db_instance_identifiers": REPLICAS, "timeout": 3}},
    }, gate="standby", env={"ANSIBLE_PIPELINING": "False"})
    assert not result.get("failed") and result["stopped_by"] == "standby", result
    assert result["results"]["rpo"]["skipped"], result
    asked = world.calls()["by_region"].get("eu-west-2", {})
    assert 1 <= asked.get("rds:DescribeDBInstances", 0) <= 3, asked  # the probe's asks only: the RPO read never ran


def test_a_gate_that_answers_waits_for_every_read(world, tmp_path):
    result = together(tmp_path, {
        "standby": {"module": "region_probe", "args": {"db_instance_identifiers": REPLICAS}},
        "dns": {"module": "route53_failover", "args": R53},
    }, gate="standby")
    assert not result.get("failed") and "stopped_by" not in result, result
    assert result["results"]["dns"]["status"]["serving_region"] == "eu-west-1", result


def test_bad_reads_are_named_before_anything_runs(world, tmp_path):
    world.reset_calls()
    result = together(tmp_path, {"x": {"module": "amazon.aws.rds_instance", "args": {}}, "y": {"module": "region_probe", "args": "no"}})
    assert result["failed"] and "reads.x.module: 'amazon.aws.rds_instance' is not one of" in result["msg"], result
    assert "reads.y.args: a mapping is required, got 'no'" in result["msg"]
    assert world.calls()["total"] == 0
    result = together(tmp_path, {"standby": {"module": "region_probe", "args": {}}}, gate="stanby")
    assert result["failed"] and "gate: 'stanby' is not one of the reads (standby)" in result["msg"], result
    assert world.calls()["total"] == 0
