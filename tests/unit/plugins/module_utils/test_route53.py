"""route53 core: shapes, who answers, the change batch, weights, records read by name (no emulator)."""

from __future__ import annotations

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import route53 as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError

from fake_aws import fake_client

EUW1 = "alb-euw1-1.eu-west-1.elb.amazonaws.com"
EUW2 = "alb-euw2-1.eu-west-2.elb.amazonaws.com"
NAME = "api.lomashwood.com."


def targets():
    primary = core.Target("primary", "eu-west-1", "alb-euw1").resolved({"DNSName": EUW1, "CanonicalHostedZoneId": "Z1"})
    standby = core.Target("standby", "eu-west-2", "alb-euw2").resolved({"DNSName": EUW2, "CanonicalHostedZoneId": "Z2"})
    return primary, standby


def cname(set_id, host, **routing):
    return dict(Name=NAME, Type="CNAME", SetIdentifier=set_id, TTL=60, ResourceRecords=[{"Value": host}], **routing)


SEEDED = [cname("eu-west-1", EUW1, Failover="PRIMARY", HealthCheckId="hc1"), cname("eu-west-2", EUW2, Failover="SECONDARY")]
SWAPPED = [cname("eu-west-1", EUW1, Failover="SECONDARY", HealthCheckId="hc1"), cname("eu-west-2", EUW2, Failover="PRIMARY")]
WEIGHTED = [cname("eu-west-1", EUW1, Weight=10, HealthCheckId="hc1"), cname("eu-west-2", EUW2, Weight=90)]


@pytest.mark.parametrize("records, health, expected", [
    (SEEDED, {"hc1": {"healthy": True}}, dict(shape="failover", serving_region="eu-west-1", auto_failed_over=False)),
    (SEEDED, {"hc1": {"healthy": False}}, dict(shape="failover", serving_region="eu-west-2", auto_failed_over=True)),
    (SEEDED, {}, dict(shape="failover", serving_region="eu-west-1", auto_failed_over=False)),  # status unread
    (SWAPPED, {"hc1": {"healthy": True}}, dict(shape="failover", serving_region="eu-west-2", auto_failed_over=False)),
    (WEIGHTED, {"hc1": {"healthy": True}}, dict(shape="weighted", serving_region=None, weights={"eu-west-1": 0.1, "eu-west-2": 0.9})),
    (WEIGHTED, {"hc1": {"healthy": False}}, dict(shape="weighted", serving_region="eu-west-2", weights={"eu-west-2": 1.0})),
    ([cname("x", EUW2)], {}, dict(shape="simple", serving_region="eu-west-2")),
    ([], {}, dict(shape="none", serving_region=None)),
])
def test_status(records, health, expected):
    got = core.status(records, health, list(targets()), "eu-west-1")
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("statuses, healthy", [
    (["Success: HTTP 200"] * 3, True),
    (["Failure: timed out"] * 3, False),
    (["Success: HTTP 200"] + ["Failure: timed out"] * 4, True),   # 20 % > 18 %
    (["Success: HTTP 200"] + ["Failure: timed out"] * 5, False),  # 16.7 %
    ([], False),
])
def test_healthy_follows_route53s_18_percent_rule(statuses, healthy):
    assert core.healthy([{"StatusReport": {"Status": s}} for s in statuses]) is healthy


def test_failover_swaps_roles_keeping_identifiers_targets_and_checks():
    primary, standby = targets()
    desired = core.Desired(NAME, alias=False, ttl=60)
    wanted = core.wanted_failover(desired, SEEDED, primary, standby, serve_from=standby)
    assert wanted == SWAPPED
    assert core.wanted_failover(desired, wanted, primary, standby, serve_from=primary) == SEEDED
    batch = core.changes(SEEDED, wanted)
    assert [c["Action"] for c in batch] == ["DELETE", "DELETE", "CREATE", "CREATE"]
    assert batch[0]["ResourceRecordSet"] is SEEDED[0]  # DELETE carries the record exactly as read
    assert core.apply_changes(SEEDED, batch) == SWAPPED
    assert core.changes(SWAPPED, wanted) == []


def test_weighted_carries_the_checks_and_converts_back():
    primary, standby = targets()
    desired = core.Desired(NAME, alias=False, ttl=60)
    wanted = core.wanted_weighted(desired, SEEDED, [primary, standby], {"eu-west-1": 10, "eu-west-2": 90})
    assert wanted == WEIGHTED
    assert core.wanted_failover(desired, WEIGHTED, primary, standby, serve_from=primary) == SEEDED


def test_alias_records_name_the_albs_zone():
    primary, standby = targets()
    record = core.Desired(NAME, alias=True).record(standby, "eu-west-2", None, Failover="PRIMARY")
    assert record["Type"] == "A" and "TTL" not in record
    assert record["AliasTarget"] == {"HostedZoneId": "Z2", "DNSName": EUW2, "EvaluateTargetHealth": True}


def test_records_compare_whatever_the_case_and_final_dot():
    echoed = [dict(r, Name=r["Name"].upper(), ResourceRecords=[{"Value": r["ResourceRecords"][0]["Value"] + "."}]) for r in SEEDED]
    assert core.changes(echoed, SEEDED) == []


@pytest.mark.parametrize("weights, problem", [
    ({"eu-west-1": 10, "eu-west-2": 90}, None),
    ({"eu-west-1": 0, "eu-west-2": 255}, None),
    ({"eu-west-1": -1, "eu-west-2": 90}, "weights: eu-west-1=-1 is not an integer from 0 to 255"),
    ({"eu-west-1": "ten", "eu-west-2": 90}, "weights: eu-west-1='ten' is not an integer from 0 to 255"),
    ({"eu-west-1": True, "eu-west-2": 90}, "weights: eu-west-1=True is not an integer from 0 to 255"),
    ({"eu-west-1": 0, "eu-west-2": 0}, "weights: all zero (eu-west-1=0, eu-west-2=0)"),
    ({"eu-west-1": 10}, "weights: no weight for eu-west-2"),
    ({"eu-west-1": 10, "eu-west-2": 5, "eu-central-1": 1}, "weights: 'eu-central-1' is not a target region"),
])
def test_weights_are_checked(weights, problem):
    problems = core.check_weights(weights, list(targets()))
    assert any(problem in p for p in problems) if problem else problems == [], problems


def test_targets_are_checked_before_any_call():
    primary, standby = targets()
    bad = core.Target("standby", "eu-west-1", "")
    assert core.check_targets([primary, bad], {"eu-west-1", "eu-west-2"}) == [
        "standby.alb: give the ALB's name or ARN",
        "primary.region and standby.region are both 'eu-west-1'; they must differ"]
    assert core.check_targets([core.Target("primary", "mars-1", "x")], {"eu-west-1"}) == ["primary.region: 'mars-1' is not an AWS region"]


def test_a_target_whose_region_is_down_is_found_in_the_records():
    primary, standby = targets()
    down = core.Target("primary", "eu-west-1", "alb-euw1")
    down.unreachable = "Service unavailable"
    assert core.resolve_from_records(down, SEEDED, [standby]) is None
    assert down.dns_name == EUW1 and down.source.startswith("records (eu-west-1 API unreachable")
    lost = core.Target("primary", "eu-west-1", "alb-euw1")
    lost.unreachable = "timeout"
    assert "do not show its target (no other record)" in core.resolve_from_records(lost, [SEEDED[1]], [standby])


def test_strangers_are_records_of_neither_target():
    stray = cname("manual", "maintenance.example.org", Weight=5)
    assert core.strangers(SEEDED + [stray], list(targets())) == [stray]


def test_read_records_reads_from_the_name_on_and_stops_at_the_next_name():
    pages = [
        dict(ResourceRecordSets=[SEEDED[0]], IsTruncated=True, NextRecordName=NAME, NextRecordType="CNAME",
             NextRecordIdentifier="eu-west-2", MaxItems="100"),
        dict(ResourceRecordSets=[SEEDED[1], cname("other", EUW1) | {"Name": "www.lomashwood.com."}],
             IsTruncated=True, NextRecordName="zz.lomashwood.com.", NextRecordType="A", MaxItems="100"),
    ]
    client = fake_client("route53", list_resource_record_sets=lambda **kw: pages.pop(0))
    assert core.read_records(client, "Z1", "API.lomashwood.com") == SEEDED
    assert [c[1].get("StartRecordIdentifier") for c in client.calls] == [None, "eu-west-2"]
    assert client.calls[0][1]["StartRecordName"] == NAME and client.calls[0][1]["StartRecordType"] == "A"


@pytest.mark.parametrize("zones, expected", [
    ([{"Id": "/hostedzone/Z1", "Name": "lomashwood.com.", "Config": {"PrivateZone": False}}], "Z1"),
    ([], BatchError),
    ([{"Id": "/hostedzone/Z9", "Name": "lomashwood.com.", "Config": {"PrivateZone": True}}], BatchError),
    ([{"Id": "/hostedzone/Z8", "Name": "lomashwood.com.evil.", "Config": {}}], BatchError),
])
def test_find_zone_by_name_with_one_call(zones, expected):
    client = fake_client("route53", list_hosted_zones_by_name=lambda **kw: dict(
        HostedZones=zones, IsTruncated=False, MaxItems="10"))
    if expected is BatchError:
        with pytest.raises(BatchError, match="no public hosted zone named 'lomashwood.com'"):
            core.find_zone(client, "lomashwood.com")
    else:
        assert core.find_zone(client, "lomashwood.com") == expected
    assert len(client.calls) == 1
    assert core.find_zone(client, "Z0123456789ABC") == "Z0123456789ABC" and len(client.calls) == 1


def test_health_check_specs_are_checked():
    primary = targets()[0]
    specs = [dict(name="a", target="primary", path="/health", interval=15, threshold=3),
             dict(name="a", target="standby", path="health", interval=10, threshold=11)]
    assert core.check_health_check_specs(specs, {"primary": primary}) == [
        "health_checks: 'a' is given more than once",
        "health_checks[a].interval: 15; Route 53 checks every 10 or 30 seconds",
        "health_checks[a].threshold: 11 is not from 1 to 10",
        "health_checks[a].path: 'health' must start with /",
        "health_checks[a]: give fqdn, or target (primary or standby), got target='standby'"]


def test_health_check_actions():
    primary = targets()[0]
    spec = dict(name="gw", target="primary", path="/health", interval=10, threshold=3, type="HTTPS", port=443)
    config = core.health_check_config(spec, {"primary": primary})
    assert core.HealthCheckAction("gw", None, config).action == "create"
    existing = dict(Id="hc1", HealthCheckVersion=1, HealthCheckConfig=dict(config))
    assert core.HealthCheckAction("gw", existing, config).action == "none"
    existing["HealthCheckConfig"]["FailureThreshold"] = 5
    action = core.HealthCheckAction("gw", existing, config)
    assert action.action == "update" and action.updates == {"FailureThreshold": 3}
    existing["HealthCheckConfig"]["RequestInterval"] = 30
    assert "cannot change it in place" in core.immutable_differences(core.HealthCheckAction("gw", existing, config))[0]
