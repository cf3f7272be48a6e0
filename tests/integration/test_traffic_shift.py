"""The traffic_shift role against the world: 10 -> 50 -> 100 behind health gates, rollback, restore, check mode.

The shift starts where a failover leaves the name (eu-west-2's record PRIMARY) and returns the
traffic to eu-west-1. A watcher reads the name's records from Route 53 every 50 ms while the
playbook runs, so every state the records went through is seen, independently of what the role
says it did.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from .runner import mutating, run_module, run_playbook

PLAYBOOK = "tests/integration/playbooks/traffic_shift.yml"
NAME = "api.lomashwood.com."
BASE = dict(zone="lomashwood.com", record="api.lomashwood.com", alias=False, ttl=60,
            primary=dict(region="eu-west-1", alb="lomash-wood-alb-euw1"),
            standby=dict(region="eu-west-2", alb="lomash-wood-alb-euw2"), poll_interval=0.2, wait_timeout=30)


def records(world):
    r53 = world.client("route53", "us-east-1")
    out = r53.list_resource_record_sets(HostedZoneId=world.info["route53"]["zone_id"])["ResourceRecordSets"]
    return sorted((r for r in out if r["Name"] == NAME), key=lambda r: (r["Type"], r.get("SetIdentifier", "")))


def routing(recs):
    """The records' routing, comparable: ((set id, PRIMARY/SECONDARY or weight), ...)."""
    return tuple((r["SetIdentifier"], r.get("Failover") or r.get("Weight")) for r in recs)


W10 = (("eu-west-1", 10), ("eu-west-2", 90))
W50 = (("eu-west-1", 50), ("eu-west-2", 50))
W100 = (("eu-west-1", 100), ("eu-west-2", 0))
SEEDED = (("eu-west-1", "PRIMARY"), ("eu-west-2", "SECONDARY"))
SWAPPED = (("eu-west-1", "SECONDARY"), ("eu-west-2", "PRIMARY"))


class Watcher(threading.Thread):
    """Every distinct routing the name's records go through; on_state(routing) may act mid-shift."""

    def __init__(self, world, on_state=None):
        super().__init__(daemon=True)
        self.world, self.on_state, self.stop = world, on_state, threading.Event()
        self.client = world.client("route53", "us-east-1")
        self.states = []

    def run(self):
        zone = self.world.info["route53"]["zone_id"]
        while not self.stop.is_set():
            out = self.client.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            state = routing(sorted((r for r in out if r["Name"] == NAME), key=lambda r: r.get("SetIdentifier", "")))
            if not self.states or self.states[-1] != state:
                self.states.append(state)
                if self.on_state:
                    self.on_state(state)
            time.sleep(0.05)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.join(5)


@pytest.fixture
def failed_over(world):
    """The name as a failover leaves it: eu-west-2 PRIMARY (records otherwise as seeded)."""
    world.configure(dns_propagation_seconds=0.2)
    seeded = records(world)
    res = run_module("route53_failover", dict(BASE, mode="failover"))
    assert not res["failed"], res["msg"]
    world.seeded_records = seeded
    world.start_records = records(world)
    assert routing(world.start_records) == SWAPPED
    world.reset_calls()
    return world


def shift(world, tmp_path, check=False, diff=False, **extra):
    out = tmp_path / "shift.json"
    if out.exists():
        out.unlink()
    proc = run_playbook(PLAYBOOK, extra_vars=extra, check=check, diff=diff, env=dict(LOMASH_SHIFT_OUT=str(out)))
    recorded = json.loads(out.read_text()) if out.exists() else {}
    return proc, recorded


def test_shift_10_50_100_then_failover_routing_as_before_the_failover(failed_over, tmp_path):
    world = failed_over
    with Watcher(world) as watch:
        proc, rec = shift(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # Read back from Route 53 while it ran: each step's weights, then the failover records.
    assert watch.states == [SWAPPED, W10, W50, W100, SEEDED]
    assert records(world) == world.seeded_records  # record by record: set ids, targets, TTL, health check
    assert mutating(world.calls()) == {"route53:ChangeResourceRecordSets": 4}

    steps = rec["dr_shift_steps"]
    assert [(s["step"], s["percent"], s["outcome"]) for s in steps] == [
        (1, 10, "changed"), (2, 50, "changed"), (3, 100, "changed"), ("restore", 100, "changed")]
    check_id = world.info["route53"]["health_checks"]["api_gateway"]
    for step in steps[:3]:
        assert step["gate"]["ok"] is True and step["gate"]["route53"]["checks"] == {check_id: True}
        assert [(h["status"], h["region"]) for h in step["gate"]["health"]] == [(200, "eu-west-1")]
        assert step["seconds"]["soak"] >= 1 and step["seconds"]["insync"] >= 0.2 and step["change_id"]
    assert steps[0]["weights"] == {"eu-west-1": 10, "eu-west-2": 90}
    report = rec["dr_steps"][-1]
    assert report["step"] == "traffic_shift" and report["outcome"] == "changed" and report["detail"]["steps"] == steps
    assert world.edge_resolve()["region"] == "eu-west-1"  # the edge follows the restored records

    # Run again: failover routing with eu-west-1 PRIMARY already, nothing to shift, nothing sent.
    world.reset_calls()
    proc, rec = shift(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert mutating(world.calls()) == {} and rec["dr_shift_steps"] == []
    assert rec["dr_steps"][-1]["outcome"] == "skipped"
    assert "already failover routing with eu-west-1 as PRIMARY" in rec["dr_steps"][-1]["detail"]["reason"]


def test_a_failed_gate_rolls_back_to_the_previous_weights_and_stops_then_reruns_resume(failed_over, tmp_path):
    world = failed_over
    check_id = world.info["route53"]["health_checks"]["api_gateway"]

    def at_50_the_check_fails(state):
        if state == W50:
            world.configure(failing_health_checks=[check_id])

    with Watcher(world, at_50_the_check_fails) as watch:
        proc, rec = shift(world, tmp_path)
    assert proc.returncode != 0
    assert ("Traffic shift stopped at step 2 of 3 (50% to eu-west-1): the route53 gate failed - route53: health check "
            + check_id + " of eu-west-1's record (eu-west-1) is unhealthy (0 of 3 checkers healthy). Rolled back to "
            "eu-west-1=10, eu-west-2=90.") in " ".join(proc.stdout.split()), proc.stdout[-3000:]
    assert watch.states == [SWAPPED, W10, W50, W10]  # back to step 1's weights, and no further
    steps = rec["dr_shift_steps"]
    assert [(s["step"], s["outcome"]) for s in steps] == [(1, "changed"), (2, "rolled_back")]
    assert steps[1]["gate"]["ok"] is False and steps[1]["rolled_back_to"]["weights"] == {"eu-west-1": 10, "eu-west-2": 90}
    assert rec["dr_steps"][-1]["outcome"] == "failed" and "gate failed at step 2" in rec["dr_steps"][-1]["detail"]["reason"]

    # Still failing: a rerun resumes at 10 (step 1's weights in place), gates it again and, failing, puts back
    # what a run from the start has before step 1 - failover routing to eu-west-2 - not 10 % again.
    world.configure(failing_health_checks=[check_id])
    with Watcher(world) as watch:
        proc, rec = shift(world, tmp_path)
    assert proc.returncode != 0
    assert "Traffic shift stopped at step 1 of 3" in " ".join(proc.stdout.split()), proc.stdout[-3000:]
    assert "Rolled back to failover routing (route53_failover mode=failover)." in " ".join(proc.stdout.split())
    assert watch.states == [W10, SWAPPED]
    assert records(world) == world.start_records
    assert [(s["step"], s["outcome"]) for s in rec["dr_shift_steps"]] == [(1, "rolled_back")]

    # The check passes again: a rerun shifts from the start and finishes.
    world.configure(failing_health_checks=[])
    world.reset_calls()
    with Watcher(world) as watch:
        proc, rec = shift(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert watch.states == [SWAPPED, W10, W50, W100, SEEDED]
    assert [s["outcome"] for s in rec["dr_shift_steps"]] == ["changed", "changed", "changed", "changed"]
    assert records(world) == world.seeded_records


def test_the_region_going_down_at_step_1_puts_the_failover_records_back(failed_over, tmp_path):
    world = failed_over

    def at_10_the_region_goes_down(state):
        if state == W10:
            world.region_down("eu-west-1")

    try:
        with Watcher(world, at_10_the_region_goes_down) as watch:
            proc, rec = shift(world, tmp_path)
    finally:
        world.region_up("eu-west-1")
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert "Traffic shift stopped at step 1 of 3 (10% to eu-west-1): the route53 and health gate failed" in out
    assert "answered nothing" in out and "Rolled back to failover routing (route53_failover mode=failover)." in out
    assert watch.states == [SWAPPED, W10, SWAPPED]
    assert records(world) == world.start_records  # record by record, as the shift found them
    assert [s["outcome"] for s in rec["dr_shift_steps"]] == ["rolled_back"]


def test_an_error_mid_shift_is_recorded_with_the_steps_done_then_a_rerun_resumes(failed_over, tmp_path):
    world = failed_over

    def at_10_route53_refuses_changes(state):
        if state == W10:
            world.fault("route53:ChangeResourceRecordSets", code="InvalidChangeBatch", count=None,
                        message="Tried to upsert a record set that was edited meanwhile")

    try:
        with Watcher(world, at_10_route53_refuses_changes) as watch:
            proc, rec = shift(world, tmp_path)
    finally:
        world.clear_faults()
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert "Failed to shift traffic at step 2 of 3, 50% to eu-west-1" in out and "edited meanwhile" in out, out[-3000:]
    assert watch.states == [SWAPPED, W10]
    assert [(s["step"], s["outcome"]) for s in rec["dr_shift_steps"]] == [(1, "changed"), (2, "failed")]
    assert "edited meanwhile" in rec["dr_shift_steps"][1]["error"] and rec["dr_shift_steps"][1]["change_id"] is None
    assert rec["dr_steps"][-1]["outcome"] == "failed" and "step 2 of 3" in rec["dr_steps"][-1]["detail"]["reason"]

    world.reset_calls()
    proc, rec = shift(world, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert [s["outcome"] for s in rec["dr_shift_steps"]] == ["ok", "changed", "changed", "changed"]
    assert records(world) == world.seeded_records


def test_check_mode_shows_each_step_and_changes_nothing(failed_over, tmp_path):
    world = failed_over
    proc, rec = shift(world, tmp_path, check=True, diff=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert mutating(world.calls()) == {} and records(world) == world.start_records
    assert "+                weight: 10\n" in proc.stdout and "+                weight: 100\n" in proc.stdout
    assert [(s["step"], s["outcome"]) for s in rec["dr_shift_steps"]] == [
        (1, "planned"), (2, "planned"), (3, "planned"), ("restore", "planned")]
    assert rec["dr_steps"][-1]["detail"]["reason"] == "check mode: nothing moved"


def test_a_bad_shift_is_refused_before_route53_is_read(failed_over, tmp_path):
    world = failed_over
    proc, _rec = shift(world, tmp_path, dr_shift_weights=[50, 10, 100], dr_shift_to_region="us-east-1")
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert "Refusing to shift traffic: dr_shift_to_region: 'us-east-1' is not one of the two regions" in out, out[-3000:]
    assert "dr_shift_weights: [50, 10, 100] must rise at every step" in out
    assert world.calls()["total"] == 0 and records(world) == world.start_records
