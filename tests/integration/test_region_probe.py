"""region_probe: a transient failure of a healthy region is asked again (not read as an outage), a
region that is down answers "no" at once, and one that hangs is given up on after the timeout in all."""

from __future__ import annotations

from .runner import run_module

PRIMARIES = ["lomash-auth-prod", "lomash-orders-prod"]


def probe(timeout=2.0):
    return run_module("region_probe", {"region": "eu-west-1", "db_instance_identifiers": PRIMARIES, "timeout": timeout})


def test_a_throttled_question_is_asked_again_within_the_timeout(world):
    world.fault("rds:DescribeDBInstances", code="Throttling", count=1, region="eu-west-1")
    result = probe()
    assert (result["answered"], result["available"]) == (True, True), result
    assert result["retries"] == {"DescribeDBInstances": 1} and result["api_calls"] == {"DescribeDBInstances": 2}


def test_a_region_down_is_no_answer_soon(world):
    world.region_down("eu-west-1")
    result = probe()
    assert result["answered"] is False and "ServiceUnavailable" in result["error"], result
    assert result["seconds"] < 2.0 and result["api_calls"]["DescribeDBInstances"] <= 3


def test_a_hanging_region_is_waited_on_no_longer_than_the_timeout(world):
    world.region_down("eu-west-1", mode="timeout", timeout_seconds=30)
    result = probe(timeout=1.5)
    assert result["answered"] is False and not result["failed"], result
    assert result["seconds"] <= 2.0, result
    assert world.calls()["held"]["rds:DescribeDBInstances"]["max_seconds"] <= 2.0


def test_caller_identity_is_asked_beside_the_probe(world):
    result = run_module("region_probe", {"region": "eu-west-2", "db_instance_identifiers": [], "caller_identity": True})
    assert result["answered"] is True and not result["failed"], result
    assert set(result["caller"]) == {"account", "arn", "user_id"} and result["caller"]["arn"].startswith("arn:aws:"), result
    assert result["api_calls"] == {"DescribeDBInstances": 1, "GetCallerIdentity": 1}
    assert probe()["caller"] is None  # not asked


def test_refused_credentials_fail_the_probe_naming_sts(world):
    world.fault("sts:GetCallerIdentity", code="InvalidClientTokenId", status=403, count=1)
    result = run_module("region_probe", {"region": "eu-west-2", "caller_identity": True})
    assert result["failed"] and "sts:GetCallerIdentity" in result["msg"] and "InvalidClientTokenId" in result["msg"], result


def test_a_region_down_is_still_no_answer_with_caller_identity(world):
    world.region_down("eu-west-1")
    result = run_module("region_probe", {"region": "eu-west-1", "db_instance_identifiers": PRIMARIES, "timeout": 2.0,
                                         "caller_identity": True})
    assert result["answered"] is False and not result["failed"] and result["caller"] is None, result
