"""route53_failover against the embedded AWS world, through the ansible CLI (four-step idiom)."""

from __future__ import annotations

import pytest

from .runner import mutating, run_module

MODULE = "route53_failover"
NAME = "api.lomashwood.com."
BASE = dict(zone="lomashwood.com", record="api.lomashwood.com", alias=False, ttl=60,
            primary=dict(region="eu-west-1", alb="lomash-wood-alb-euw1"),
            standby=dict(region="eu-west-2", alb="lomash-wood-alb-euw2"), poll_interval=0.2, wait_timeout=30)


def records(world):
    r53 = world.client("route53", "us-east-1")
    zone = world.info["route53"]["zone_id"]
    out = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return sorted((r for r in out if r["Name"] == NAME), key=lambda r: (r["Type"], r.get("SetIdentifier", "")))


def roles(world):
    return {r["SetIdentifier"]: r.get("Failover") or r.get("Weight") for r in records(world)}


def writes(world):
    return mutating(world.calls())


def test_status_of_the_seeded_records(world):
    res = run_module(MODULE, dict(BASE, mode="status"))
    assert not res["failed"], res["msg"]
    assert res["changed"] is False and res["status"] == {
        "shape": "failover", "serving_region": "eu-west-1", "weights": None,
        "primary_role_region": "eu-west-1", "auto_failed_over": False}
    check_id = world.info["route53"]["health_checks"]["api_gateway"]
    assert res["health"][check_id]["healthy"] is True
    assert res["records"]["eu-west-1"]["failover"] == "PRIMARY" and res["records"]["eu-west-1"]["health_check"] == check_id
    assert res["targets"]["standby"]["dns_name"] == world.info["elbv2"]["eu-west-2"]["dns_name"]
    # Only the name's records are read, and the zone is found by name with one call.
    assert res["api_calls"]["ListResourceRecordSets"] == 1 and res["api_calls"]["ListHostedZonesByName"] == 1
    assert writes(world) == {}


def test_status_sees_route53_fail_over_on_its_own(world):
    world.region_down("eu-west-1")
    res = run_module(MODULE, dict(BASE, mode="status"))
    assert not res["failed"], res["msg"]
    assert res["status"]["auto_failed_over"] is True and res["status"]["serving_region"] == "eu-west-2"
    # A move says the same of the moment before it (status_before), without a status read of its own.
    moved = run_module(MODULE, dict(BASE, mode="failover"))
    assert not moved["failed"], moved["msg"]
    assert moved["status_before"] == res["status"] and moved["status"]["primary_role_region"] == "eu-west-2"
    assert moved["status"]["auto_failed_over"] is False


def test_failover_check_apply_check_apply_then_failback_restores_the_records(world):
    seeded = records(world)
    check = run_module(MODULE, dict(BASE, mode="failover"), check=True, diff=True)
    assert not check["failed"], check["msg"]
    assert check["changed"] is True and check["results"][0]["after"]["eu-west-2"]["failover"] == "PRIMARY"
    assert [(c["action"], c["set_identifier"]) for c in check["plan"][0]["changes"]] == [
        ("DELETE", "eu-west-1"), ("DELETE", "eu-west-2"), ("CREATE", "eu-west-1"), ("CREATE", "eu-west-2")]
    assert "-                failover: PRIMARY\n+                failover: SECONDARY\n" in check["_stdout"]
    assert "-                failover: SECONDARY\n+                failover: PRIMARY\n" in check["_stdout"]
    assert records(world) == seeded and writes(world) == {}

    res = run_module(MODULE, dict(BASE, mode="failover"))
    assert not res["failed"], res["msg"]
    assert res["changed"] is True and res["results"][0]["status"] == "INSYNC" and res["results"][0]["change_id"]
    assert roles(world) == {"eu-west-1": "SECONDARY", "eu-west-2": "PRIMARY"}
    assert res["status"]["serving_region"] == "eu-west-2"
    assert res["status_before"] == {"shape": "failover", "serving_region": "eu-west-1", "weights": None,
                                    "primary_role_region": "eu-west-1", "auto_failed_over": False}
    # The flip: zone, two ALBs, the name's records, one change (plus GetChange polls, and the health
    # checks' status for status_before, one call each, at once): at most 5 calls.
    assert sum(n for op, n in res["api_calls"].items() if op not in ("GetChange", "GetHealthCheckStatus")) <= 5, \
        res["api_calls"]
    assert res["api_calls"]["GetHealthCheckStatus"] == 1
    assert writes(world) == {"route53:ChangeResourceRecordSets": 1}

    world.reset_calls()
    assert run_module(MODULE, dict(BASE, mode="failover"), check=True)["changed"] is False
    again = run_module(MODULE, dict(BASE, mode="failover"))
    assert again["changed"] is False and again["results"][0]["action"] == "none" and writes(world) == {}

    back = run_module(MODULE, dict(BASE, mode="failback"))
    assert not back["failed"] and back["changed"] is True
    assert records(world) == seeded  # exactly reversible: identifiers, targets, TTL and health check kept


def test_weighted_conversion_both_ways_in_one_change(world):
    seeded = records(world)
    res = run_module(MODULE, dict(BASE, mode="weighted", weights={"eu-west-1": 10, "eu-west-2": 90}))
    assert not res["failed"], res["msg"]
    assert roles(world) == {"eu-west-1": 10, "eu-west-2": 90}
    assert writes(world) == {"route53:ChangeResourceRecordSets": 1}
    assert res["status"]["shape"] == "weighted" and res["status"]["weights"] == {"eu-west-1": 0.1, "eu-west-2": 0.9}
    # the primary's health check rides along to its weighted record
    check_id = world.info["route53"]["health_checks"]["api_gateway"]
    assert {r["SetIdentifier"]: r.get("HealthCheckId") for r in records(world)} == {"eu-west-1": check_id, "eu-west-2": None}

    world.reset_calls()
    shift = run_module(MODULE, dict(BASE, mode="weighted", weights={"eu-west-1": "50", "eu-west-2": 50}))
    assert shift["changed"] is True and roles(world) == {"eu-west-1": 50, "eu-west-2": 50}
    same = run_module(MODULE, dict(BASE, mode="weighted", weights={"eu-west-1": 50, "eu-west-2": 50}))
    assert same["changed"] is False
    assert writes(world) == {"route53:ChangeResourceRecordSets": 1}

    back = run_module(MODULE, dict(BASE, mode="failback"))
    assert not back["failed"] and records(world) == seeded


def test_a_primary_known_not_to_answer_is_not_asked_again(world):
    """ask_primary=false (the run's probe found eu-west-1 not answering): its ALB is found in the records at
    once, no call reaches eu-west-1 (hanging, it would hold each for the timeout)."""
    world.region_down("eu-west-1", mode="timeout", timeout_seconds=30)
    res = run_module(MODULE, dict(BASE, mode="failover", ask_primary=False, primary_call_timeout=3))
    assert not res["failed"], res["msg"]
    assert roles(world)["eu-west-2"] == "PRIMARY" and res["targets"]["primary"]["source"].startswith("records")
    assert "not asked" in res["targets"]["primary"]["source"]
    assert "eu-west-1" not in world.calls()["by_region"], world.calls()
    # asked (the default), it waits the timeout on eu-west-1 once, and finds the same target in the records
    world.reset_calls()
    res = run_module(MODULE, dict(BASE, mode="status", primary_call_timeout=1))
    assert not res["failed"], res["msg"]
    assert res["targets"]["primary"]["source"].startswith("records (eu-west-1 API unreachable")
    assert world.calls()["held"]["elbv2:DescribeLoadBalancers"]["count"] == 1
    # health checks need the primary ALB's DNS name: not asking for it is refused
    res = run_module(MODULE, dict(zone="lomashwood.com", mode="health_checks", ask_primary=False,
                                  primary=BASE["primary"], standby=BASE["standby"],
                                  health_checks=[dict(name="lw-test-primary", target="primary")]))
    assert res["failed"] is True and "primary.alb" in res["msg"] and "not asked" in res["msg"]


def test_alias_records_from_the_alb(world):
    res = run_module(MODULE, dict(BASE, mode="failover", alias=True, ttl=None))
    assert not res["failed"], res["msg"]
    after = records(world)
    assert {r["Type"] for r in after} == {"A"}
    alb = world.info["elbv2"]["eu-west-2"]
    standby = next(r for r in after if r["SetIdentifier"] == "eu-west-2")
    assert standby["Failover"] == "PRIMARY"
    assert standby["AliasTarget"]["HostedZoneId"] == alb["canonical_hosted_zone_id"]
    assert standby["AliasTarget"]["DNSName"].rstrip(".") == alb["dns_name"]


def test_health_checks_are_ensured_and_updated_in_place(world):
    checks = [dict(name="lomash-wood-api-gateway-eu-west-1", target="primary", path="/health", interval=10, threshold=3),
              dict(name="lomash-wood-auth-eu-west-1", target="primary", path="/v1/auth/health", interval=30, threshold=3),
              dict(name="lomash-wood-api-gateway-eu-west-2", target="standby", path="/health", interval=10, threshold=3)]
    args = dict(zone="lomashwood.com", primary=BASE["primary"], standby=BASE["standby"], mode="health_checks",
                health_checks=checks)
    check = run_module(MODULE, args, check=True)
    assert [r["action"] for r in check["results"]] == ["none", "none", "create"] and writes(world) == {}
    res = run_module(MODULE, args)
    assert not res["failed"], res["msg"]
    seeded = world.info["route53"]["health_checks"]
    assert res["health_check_ids"]["lomash-wood-api-gateway-eu-west-1"] == seeded["api_gateway"]
    assert writes(world) == {"route53:ChangeTagsForResource": 1, "route53:CreateHealthCheck": 1}
    world.reset_calls()
    assert run_module(MODULE, args)["changed"] is False and writes(world) == {}

    checks[0]["threshold"] = 5
    upd = run_module(MODULE, args)
    assert upd["changed"] is True and upd["results"][0]["action"] == "update"
    assert writes(world) == {"route53:UpdateHealthCheck": 1}


@pytest.mark.parametrize("args, needle", [
    (dict(zone="example.org"), "zone: no public hosted zone named 'example.org'"),
    (dict(standby=dict(region="eu-west-2", alb="lomash-wood-alb-nowhere")),
     "standby.alb: no load balancer 'lomash-wood-alb-nowhere' in eu-west-2"),
    (dict(standby=dict(region="eu-west-9", alb="lomash-wood-alb-euw2")), "standby.region: 'eu-west-9' is not an AWS region"),
    (dict(mode="weighted", weights={"eu-west-1": 256, "eu-west-2": 0}), "weights: eu-west-1=256 is not an integer from 0 to 255"),
    (dict(mode="weighted", weights={"eu-west-1": 0, "eu-west-2": 0}), "weights: all zero (eu-west-1=0, eu-west-2=0)"),
    (dict(mode="weighted", weights={"eu-west-1": 10, "us-east-1": 90}), "weights: 'us-east-1' is not a target region"),
    (dict(alias=True, ttl=60), "ttl: alias records take the ALB's TTL; got ttl=60 with alias=true"),
    (dict(primary=dict(region="eu-west-1", alb="lomash-wood-alb-euw1", health_check="no-such-check")),
     "primary.health_check: no health check named 'no-such-check'"),
    (dict(zone="Z0000000000NOSUCH"), "zone: no hosted zone with id 'Z0000000000NOSUCH'"),
    (dict(record="apl.lomashwood.com"), "record: no A or CNAME records named 'apl.lomashwood.com' in zone 'lomashwood.com'"),
    (dict(hold_seconds=-1), "hold_seconds: between 0 and 3600, got -1"),
    (dict(gate_urls=["euw1.example/health"]), "gate_urls: 'euw1.example/health' is not an http(s) URL"),
    (dict(gate_urls=["http://127.0.0.1:9/health"], gate_timeout=0), "gate_timeout: more than 0 and at most 300, got 0"),
    (dict(mode="shift", shift_weights=[50, 10], shift_to="eu-west-1", gate_urls=[]),
     "Refusing to shift traffic: shift_weights: [50, 10] must rise at every step; shift_weights: [50, 10] must end at 100"
     " (all the traffic on eu-west-1, then failover routing); gate_urls: no URL for eu-west-1"),
    (dict(mode="shift", shift_weights=[10, 100], shift_to="us-east-1", gate_urls=["http://127.0.0.1:9/health"]),
     "shift_to: 'us-east-1' is not one of the two regions (eu-west-1, eu-west-2)"),
])
def test_bad_input_is_named_and_nothing_changes(world, args, needle):
    before = records(world)
    res = run_module(MODULE, dict(dict(BASE, mode="failover"), **args))
    assert res["failed"] and needle in res["msg"], res["msg"]
    assert records(world) == before and writes(world) == {}


def test_a_hand_edited_record_is_refused_not_deleted(world):
    r53 = world.client("route53", "us-east-1")
    zone = world.info["route53"]["zone_id"]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": NAME, "Type": "CNAME", "SetIdentifier": "manual", "Weight": 5, "TTL": 60,
        "ResourceRecords": [{"Value": "maintenance.example.org"}]}}]})
    before = records(world)
    world.reset_calls()
    res = run_module(MODULE, dict(BASE, mode="failover"))
    assert res["failed"] and "set 'manual' points at maintenance.example.org, which is neither target" in res["msg"]
    assert records(world) == before and writes(world) == {}


def test_waits_for_insync_with_one_getchange_per_poll(world):
    world.configure(dns_propagation_seconds=1.0)
    res = run_module(MODULE, dict(BASE, mode="failover", poll_interval=0.25))
    assert not res["failed"], res["msg"]
    assert res["results"][0]["status"] == "INSYNC" and res["results"][0]["seconds"] >= 0.9
    assert 3 <= res["api_calls"]["GetChange"] <= 6 and res["polls"] == res["api_calls"]["GetChange"]


def test_retries_prior_request_not_complete(world):
    world.fault("route53:ChangeResourceRecordSets", code="PriorRequestNotComplete", status=400, count=2)
    res = run_module(MODULE, dict(BASE, mode="failover"))
    assert not res["failed"], res["msg"]
    assert res["api_calls"]["ChangeResourceRecordSets"] == 3 and roles(world)["eu-west-2"] == "PRIMARY"


def test_a_hold_after_the_move_then_the_health_checks_as_they_are_then(world):
    """hold_seconds: the step's soak, then the health checks read (a check failing during the hold is seen)."""
    check_id = world.info["route53"]["health_checks"]["api_gateway"]
    world.configure(failing_health_checks=[check_id])  # fails from now: read after the hold, it is unhealthy
    res = run_module(MODULE, dict(BASE, mode="weighted", weights={"eu-west-1": 10, "eu-west-2": 90}, hold_seconds=0.6))
    assert not res["failed"], res["msg"]
    assert res["changed"] and res["held_seconds"] >= 0.6
    assert res["health"][check_id]["healthy"] is False
    world.configure(failing_health_checks=[])
    again = run_module(MODULE, dict(BASE, mode="weighted", weights={"eu-west-1": 10, "eu-west-2": 90}, hold_seconds=0.2))
    assert not again["changed"] and again["health"][check_id]["healthy"] is True
    plain = run_module(MODULE, dict(BASE, mode="weighted", weights={"eu-west-1": 10, "eu-west-2": 90}))
    assert "held_seconds" not in plain and "health" not in plain


def test_the_gate_urls_are_asked_after_the_hold_beside_the_health_checks(world):
    """gate_urls: a shift step's own health gate in the same run: each URL's answer, in order, as uri returns it
    (200 with the region's JSON; a refused connection is status -1, and fails nothing)."""
    check_id = world.info["route53"]["health_checks"]["api_gateway"]
    home = world.regional_urls()["eu-west-1"].rstrip("/")
    urls = [home + "/health", home + "/no-such-path", "http://127.0.0.1:9/health"]
    res = run_module(MODULE, dict(BASE, mode="weighted", weights={"eu-west-1": 10, "eu-west-2": 90}, hold_seconds=0.2,
                                  gate_urls=urls, gate_timeout=5))
    assert not res["failed"], res["msg"]
    answers = res["gate_answers"]
    assert [a["url"] for a in answers] == urls
    assert answers[0]["status"] == 200 and answers[0]["json"]["region"] == "eu-west-1", answers[0]
    assert answers[1]["status"] == 404, answers[1]
    assert answers[2]["status"] == -1 and "Request failed" in answers[2]["msg"], answers[2]
    assert res["health"][check_id]["healthy"] is True and res["held_seconds"] >= 0.2
    plain = run_module(MODULE, dict(BASE, mode="weighted", weights={"eu-west-1": 10, "eu-west-2": 90}))
    assert "gate_answers" not in plain


def test_a_whole_shift_in_one_run_from_failover_records_to_failover_records(world):
    """mode=shift: from the records a failover leaves (eu-west-2 PRIMARY), 50 then 100 % to eu-west-1 behind their
    gates, then failover routing with eu-west-1 PRIMARY: the records as seeded; a rerun sends nothing."""
    world.configure(dns_propagation_seconds=0.2)
    seeded = records(world)
    assert not run_module(MODULE, dict(BASE, mode="failover"))["failed"]
    world.reset_calls()
    home = world.regional_urls()["eu-west-1"].rstrip("/") + "/health"
    args = dict(BASE, mode="shift", shift_weights=[50, "100"], shift_to="eu-west-1", hold_seconds=0.1, gate_urls=[home])
    res = run_module(MODULE, args)
    assert not res["failed"], res["msg"]
    assert records(world) == seeded and writes(world) == {"route53:ChangeResourceRecordSets": 3}
    assert [(s["step"], s["outcome"], s["gate"] and s["gate"]["ok"]) for s in res["steps"]] == [
        (1, "changed", True), (2, "changed", True), ("restore", "changed", None)]
    assert res["outcome"] == "changed" and res["start"] == {"shape": "failover", "primary_role_region": "eu-west-2"}
    assert res["changed"] is True and res["status"]["primary_role_region"] == "eu-west-1"
    world.reset_calls()
    again = run_module(MODULE, args)
    assert not again["failed"] and again["changed"] is False and again["steps"] == [] and again["outcome"] == "skipped"
    assert writes(world) == {}


def test_a_shift_whose_step_times_out_fails_at_once_naming_the_step_with_its_change_in_the_result(world):
    """A move not INSYNC in wait_timeout: no hold, no gate; the step, its change and the records as sent are returned."""
    assert not run_module(MODULE, dict(BASE, mode="failover"))["failed"]
    world.configure(dns_propagation_seconds=30)
    home = world.regional_urls()["eu-west-1"].rstrip("/") + "/health"
    res = run_module(MODULE, dict(BASE, mode="shift", shift_weights=[10, 100], shift_to="eu-west-1", hold_seconds=60,
                                  gate_urls=[home], wait_timeout=1))
    assert res["failed"]
    assert res["msg"].startswith("Failed to shift traffic at step 1 of 2, 10% to eu-west-1 (eu-west-1=10, eu-west-2=90): "
                                 "Timed out after 1 s"), res["msg"]
    assert res["elapsed_seconds"] < 30  # the hold (60 s) was not made
    assert [(s["step"], s["outcome"]) for s in res["steps"]] == [(1, "failed")] and res["steps"][0]["change_id"]
    assert res["changed"] is True and res["records"]["eu-west-1"]["weight"] == 10 and res["outcome"] == "failed"
    assert roles(world) == {"eu-west-1": 10, "eu-west-2": 90}
