"""traffic_shift core: refusals, the steps from the records in place (start, resume, done), the gate (no emulator)."""

from __future__ import annotations

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import route53 as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils import traffic_shift as shift

EUW1 = "alb-euw1-1.eu-west-1.elb.amazonaws.com"
EUW2 = "alb-euw2-1.eu-west-2.elb.amazonaws.com"
NAME = "api.lomashwood.com."
REGIONS = ["eu-west-1", "eu-west-2"]
URLS = {"eu-west-1": "http://127.0.0.1:1", "eu-west-2": "http://127.0.0.1:2"}


def targets():
    primary = core.Target("primary", "eu-west-1", "alb-euw1").resolved({"DNSName": EUW1, "CanonicalHostedZoneId": "Z1"})
    standby = core.Target("standby", "eu-west-2", "alb-euw2").resolved({"DNSName": EUW2, "CanonicalHostedZoneId": "Z2"})
    return [primary, standby]


def cname(set_id, host, **routing):
    return dict(Name=NAME, Type="CNAME", SetIdentifier=set_id, TTL=60, ResourceRecords=[{"Value": host}], **routing)


def status_result(records, health=None):
    """What route53_failover mode=status returns for these records (built by the module's own code)."""
    health = health or {}
    return dict(records=core.view(records, targets()), health=health,
                status=core.status(records, health, targets(), "eu-west-1"))


SEEDED = [cname("eu-west-1", EUW1, Failover="PRIMARY", HealthCheckId="hc1"), cname("eu-west-2", EUW2, Failover="SECONDARY")]
SWAPPED = [cname("eu-west-1", EUW1, Failover="SECONDARY", HealthCheckId="hc1"), cname("eu-west-2", EUW2, Failover="PRIMARY")]


def weighted(w1, w2):
    return [cname("eu-west-1", EUW1, Weight=w1, HealthCheckId="hc1"), cname("eu-west-2", EUW2, Weight=w2)]


def plan(records, percents=(10, 50, 100), to="eu-west-1"):
    return shift.plan_shift(status_result(records), list(percents), to, "eu-west-1", "eu-west-2")


# ---- refusals, before anything is read ----------------------------------------------------------

@pytest.mark.parametrize("percents, to, urls, problem", [
    ([10, 50, 100], "us-east-1", URLS, "dr_shift_to_region: 'us-east-1' is not one of the two regions (eu-west-1, eu-west-2)"),
    ([0, 50, 100], "eu-west-1", URLS, "dr_shift_weights: 0 is not a percentage from 1 to 100"),
    ([10, 256], "eu-west-1", URLS, "dr_shift_weights: 256 is not a percentage from 1 to 100"),
    ([10, "ten", 100], "eu-west-1", URLS, "dr_shift_weights: 'ten' is not a percentage from 1 to 100"),
    ([True, 100], "eu-west-1", URLS, "dr_shift_weights: True is not a percentage from 1 to 100"),
    ([50, 10, 100], "eu-west-1", URLS, "dr_shift_weights: [50, 10, 100] must rise at every step"),
    ([10, 50], "eu-west-1", URLS, "dr_shift_weights: [10, 50] must end at 100"),
    ([], "eu-west-1", URLS, "dr_shift_weights: give a list of percentages"),
    ([10, 50, 100], "eu-west-1", {"eu-west-2": "http://x"}, "dr_shift_health_urls: no URL for eu-west-1"),
])
def test_a_bad_shift_is_refused_naming_the_value(percents, to, urls, problem):
    problems = shift.shift_problems(percents, to, REGIONS, urls)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_good_shift_has_no_problems_and_accepts_numbers_given_as_text():
    assert shift.shift_problems([10, 50, 100], "eu-west-1", REGIONS, URLS) == []
    assert shift.shift_problems(["10", "50", "100"], "eu-west-2", REGIONS, URLS) == []
    assert shift.shift_problems([100], "eu-west-1", REGIONS, URLS) == []


# ---- the plan ------------------------------------------------------------------------------------

def test_from_failover_records_each_step_rolls_back_to_the_one_before():
    out = plan(SWAPPED)
    assert out["problems"] == [] and out["done"] is False
    assert out["start"] == {"shape": "failover", "primary_role_region": "eu-west-2"}
    assert [(s["percent"], s["weights"], s["previous"], s["skip"]) for s in out["steps"]] == [
        (10, {"eu-west-1": 10, "eu-west-2": 90}, {"mode": "failover"}, None),  # back to eu-west-2 PRIMARY
        (50, {"eu-west-1": 50, "eu-west-2": 50}, {"mode": "weighted", "weights": {"eu-west-1": 10, "eu-west-2": 90}}, None),
        (100, {"eu-west-1": 100, "eu-west-2": 0}, {"mode": "weighted", "weights": {"eu-west-1": 50, "eu-west-2": 50}}, None),
    ]
    assert out["restore"] == {"mode": "failback"} and out["other_region"] == "eu-west-2"
    assert [(s["step"], s["of"]) for s in out["steps"]] == [(1, 3), (2, 3), (3, 3)]


def test_shifting_to_the_standby_restores_it_as_primary():
    out = plan(SEEDED, to="eu-west-2")
    assert out["steps"][0]["weights"] == {"eu-west-2": 10, "eu-west-1": 90}
    assert out["steps"][0]["previous"] == {"mode": "failback"}  # the start: eu-west-1 PRIMARY
    assert out["restore"] == {"mode": "failover"}


def test_already_failover_routing_to_the_region_is_done():
    out = plan(SEEDED)
    assert out["done"] is True and out["steps"] == [] and "eu-west-1 as PRIMARY" in out["reason"]


@pytest.mark.parametrize("w1, w2, skipped, first_previous", [
    # A step whose weights are in place (a run stopped after sending them, or a gate that rolled back to them)
    # is gated again; its rollback is what a run from the start has before it, not its own weights.
    (10, 90, [], {"mode": "failover"}),  # step 1 again: back to eu-west-2 PRIMARY, as from the start
    (50, 50, [1], {"mode": "weighted", "weights": {"eu-west-1": 10, "eu-west-2": 90}}),
    (20, 80, [1], {"mode": "weighted", "weights": {"eu-west-1": 20, "eu-west-2": 80}}),  # set by hand: back to them
    (100, 0, [1, 2], {"mode": "weighted", "weights": {"eu-west-1": 50, "eu-west-2": 50}}),
])
def test_weighted_records_resume_without_moving_traffic_back(w1, w2, skipped, first_previous):
    out = plan(weighted(w1, w2))
    assert out["start"] == {"shape": "weighted", "weights": {"eu-west-1": w1, "eu-west-2": w2}}
    assert [s["step"] for s in out["steps"] if s["skip"]] == skipped
    first = next(s for s in out["steps"] if not s["skip"])
    assert first["previous"] == first_previous
    # The steps after it roll back to the one before them.
    later = [s for s in out["steps"] if not s["skip"]][1:]
    assert all(s["previous"] == {"mode": "weighted", "weights": before["weights"]}
               for before, s in zip([first] + later, later))


def test_a_resumed_step_whose_gate_fails_again_rolls_traffic_back_not_in_place():
    # A run stopped after it sent 50/50 and before its gate; the rerun's gate fails at 50: traffic goes back to
    # 10/90 (what step 2 of a run from the start puts back), and the message says so.
    route53 = FakeRoute53(weighted(50, 50), unhealthy_at=50)
    steps, failure = shift.run_shift(plan_from(weighted(50, 50)), route53, "eu-west-1")
    assert [(s["step"], s["outcome"]) for s in steps] == [(1, "skipped"), (2, "rolled_back")]
    assert route53.records == weighted(10, 90)
    assert [a for _l, a, _g in route53.moves][-1] == {"mode": "weighted", "weights": {"eu-west-1": 10, "eu-west-2": 90}}
    assert failure["msg"].endswith("Rolled back to eu-west-1=10, eu-west-2=90.")


@pytest.mark.parametrize("records, problem", [
    ([], "the name has none records"),
    ([cname("(simple)", EUW1)], "the name has simple records"),
    (SWAPPED + [cname("manual", "maintenance.example.org", Failover="PRIMARY")], "record set 'manual' points at maintenance.example.org"),
])
def test_records_the_shift_cannot_start_from_are_refused(records, problem):
    records = [dict(r) for r in records]
    for r in records:
        if r["SetIdentifier"] == "(simple)":
            del r["SetIdentifier"]
    out = plan(records)
    assert any(p.startswith(problem) for p in out["problems"]), out["problems"]


def test_describe():
    assert shift.describe_args({"mode": "weighted", "weights": {"eu-west-2": 90, "eu-west-1": 10}}) == "eu-west-1=10, eu-west-2=90"
    assert shift.describe_args({"mode": "failback"}) == "failover routing (route53_failover mode=failback)"


# ---- the gate ------------------------------------------------------------------------------------

HEALTHY = {"hc1": {"id": "hc1", "healthy": True, "checkers": 3, "checkers_healthy": 3}}
UNHEALTHY = {"hc1": {"id": "hc1", "healthy": False, "checkers": 3, "checkers_healthy": 0}}


def answer(status=200, region="eu-west-1", path="/health", **extra):
    result = dict(item=path, status=status, url="http://127.0.0.1:1" + path, **extra)
    if region is not None:
        result["json"] = {"region": region, "status": "ok"} if status == 200 else {"region": region, "error": "api-gateway has 0 ready pods"}
    return result


def gate(health, answers, records=None, to="eu-west-1"):
    return shift.shift_gate(status_result(records or weighted(10, 90), health), answers, to, "http://127.0.0.1:1")


def test_the_gate_passes_when_route53_and_the_region_agree():
    out = gate(HEALTHY, [answer()])
    assert out["ok"] is True and out["reasons"] == []
    assert out["route53"]["checks"] == {"hc1": True}
    assert out["health"] == [{"url": "http://127.0.0.1:1/health", "status": 200, "region": "eu-west-1", "error": None}]


@pytest.mark.parametrize("health, answers, reason", [
    (UNHEALTHY, [answer()], "route53: health check hc1 of eu-west-1's record (eu-west-1) is unhealthy (0 of 3 checkers healthy)"),
    ({}, [answer()], "route53: health check hc1 of eu-west-1's record (eu-west-1) is not read"),
    (HEALTHY, [answer(503)], "health: GET http://127.0.0.1:1/health answered HTTP 503: api-gateway has 0 ready pods"),
    (HEALTHY, [answer(region="eu-west-2")], "health: GET http://127.0.0.1:1/health answered from 'eu-west-2', not eu-west-1"),
    (HEALTHY, [dict(item="/health", status=-1, msg="Connection failure: Remote end closed connection")],
     "health: GET http://127.0.0.1:1/health answered nothing: Connection failure: Remote end closed connection"),
    (HEALTHY, [], "health: no path was asked of eu-west-1"),
])
def test_the_gate_fails_naming_the_gate_and_why(health, answers, reason):
    out = gate(health, answers)
    assert out["ok"] is False and reason in out["reasons"], out["reasons"]


def test_a_region_whose_record_has_no_check_is_gated_by_its_health_alone():
    out = gate({}, [answer(region="eu-west-2")], to="eu-west-2", records=weighted(90, 10))
    assert out["ok"] is True and out["route53"] == {"checks": {}, "note": "no health check on eu-west-2's record"}


def test_every_path_is_gated():
    out = gate(HEALTHY, [answer(), answer(503, path="/v1/auth/health")])
    assert out["ok"] is False and len(out["reasons"]) == 1 and "/v1/auth/health answered HTTP 503" in out["reasons"][0]


class FakeRoute53:
    """move() for run_shift: the records after each move, the health checks as given, the gate's answers."""

    def __init__(self, records, unhealthy_at=None):
        self.records, self.unhealthy_at, self.moves = records, unhealthy_at, []

    def __call__(self, label, args, gated):
        self.moves.append((label, args, gated))
        before = self.records
        if args["mode"] == "weighted":
            self.records = weighted(args["weights"]["eu-west-1"], args["weights"]["eu-west-2"])
        else:
            self.records = SEEDED if args["mode"] == "failback" else SWAPPED
        sick = gated and args.get("weights", {}).get("eu-west-1") == self.unhealthy_at
        out = dict(status_result(self.records, {"hc1": {"healthy": not sick, "checkers": 3, "checkers_healthy": 0}}),
                   changed=before != self.records, results=[{"change_id": "C%d" % len(self.moves), "seconds": 0.5}])
        if gated:
            out.update(held_seconds=1.0, gate_answers=[{"url": URLS["eu-west-1"] + "/health", "status": 200,
                                                        "json": {"region": "eu-west-1"}}])
        return out


def plan_from(records, percents=(10, 50, 100)):
    return shift.plan_shift(status_result(records), list(percents), "eu-west-1", "eu-west-1", "eu-west-2")


def test_run_shift_makes_each_step_behind_its_gate_then_failover_routing():
    route53 = FakeRoute53(SWAPPED)
    steps, failure = shift.run_shift(plan_from(SWAPPED), route53, "eu-west-1")
    assert failure is None and route53.records == SEEDED
    assert [(a["mode"], a.get("weights", {}).get("eu-west-1"), gated) for _l, a, gated in route53.moves] == [
        ("weighted", 10, True), ("weighted", 50, True), ("weighted", 100, True), ("failback", None, False)]
    assert [(s["step"], s["outcome"]) for s in steps] == [(1, "changed"), (2, "changed"), (3, "changed"), ("restore", "changed")]
    assert steps[0]["gate"]["ok"] and steps[0]["seconds"]["soak"] == 1.0 and steps[0]["change_id"] == "C1"
    assert shift.shift_outcome(plan_from(SWAPPED), steps, failure, [10, 50, 100], "eu-west-1") == (
        "changed", "traffic shifted 10 -> 50 -> 100 % to eu-west-1, then failover routing with eu-west-1 as PRIMARY")


def test_run_shift_rolls_a_failed_gate_back_and_stops_saying_why():
    route53 = FakeRoute53(SWAPPED, unhealthy_at=50)
    steps, failure = shift.run_shift(plan_from(SWAPPED), route53, "eu-west-1")
    assert route53.records == weighted(10, 90)  # step 1's weights put back, nothing after
    assert [a for _l, a, _g in route53.moves][-1] == {"mode": "weighted", "weights": {"eu-west-1": 10, "eu-west-2": 90}}
    assert [(s["step"], s["outcome"]) for s in steps] == [(1, "changed"), (2, "rolled_back")]
    assert steps[1]["rollback_change_id"] == "C3" and steps[1]["rolled_back_to"]["weights"] == {"eu-west-1": 10, "eu-west-2": 90}
    assert failure["msg"] == (
        "Traffic shift stopped at step 2 of 3 (50% to eu-west-1): the route53 gate failed - route53: health check hc1 of "
        "eu-west-1's record (eu-west-1) is unhealthy (0 of 3 checkers healthy). Rolled back to eu-west-1=10, eu-west-2=90.")
    assert shift.shift_outcome(plan_from(SWAPPED), steps, failure, [10, 50, 100], "eu-west-1")[0] == "failed"


def test_run_shift_resumes_past_steps_and_plans_in_check_mode():
    route53 = FakeRoute53(weighted(50, 50))
    steps, failure = shift.run_shift(plan_from(weighted(50, 50)), route53, "eu-west-1", check_mode=True)
    assert failure is None
    assert [(s["step"], s["outcome"]) for s in steps] == [(1, "skipped"), (2, "planned"), (3, "planned"), ("restore", "planned")]
    assert steps[1]["gate"] is None
    assert shift.shift_outcome(plan_from(weighted(50, 50)), steps, None, [10, 50, 100], "eu-west-1", True) == (
        "skipped", "check mode: nothing moved")


def test_run_shift_does_nothing_when_done_and_keeps_the_steps_done_when_a_move_fails():
    route53 = FakeRoute53(SEEDED)
    assert shift.run_shift(plan_from(SEEDED), route53, "eu-west-1") == ([], None) and route53.moves == []

    class TimedOut(Exception):
        result = {"results": [{"change_id": "C-SENT"}]}  # what the failed move had sent (a ModuleFailure's result)

    def move(label, args, gated):
        if args.get("weights", {}).get("eu-west-1") == 50:
            raise TimedOut("timed out waiting for INSYNC")
        return FakeRoute53(SWAPPED)(label, args, gated)

    steps = []
    with pytest.raises(TimedOut):
        shift.run_shift(plan_from(SWAPPED), move, "eu-west-1", steps=steps)
    assert [(s["step"], s["outcome"]) for s in steps] == [(1, "changed"), (2, "failed")]
    assert steps[1]["change_id"] == "C-SENT" and steps[1]["error"] == "timed out waiting for INSYNC"


def test_a_rollback_that_fails_still_says_the_gate_failed_and_what_the_records_may_send():
    route53 = FakeRoute53(SWAPPED, unhealthy_at=50)

    def move(label, args, gated):
        if label.startswith("roll back"):
            raise RuntimeError("Rate exceeded")
        return route53(label, args, gated)

    steps, failure = shift.run_shift(plan_from(SWAPPED), move, "eu-west-1")
    assert [(s["step"], s["outcome"]) for s in steps] == [(1, "changed"), (2, "rollback_failed")]
    assert failure["msg"].startswith("Traffic shift stopped at step 2 of 3 (50% to eu-west-1): the route53 gate failed - ")
    assert failure["msg"].endswith("Rolling back to eu-west-1=10, eu-west-2=90 FAILED (Rate exceeded): the records may still "
                                   "send eu-west-1 takes 50%; eu-west-2 takes 50%; set them by hand or run again.")
    assert "rollback failed: Rate exceeded" in failure["reason"]
