"""Rate-based, seeded fault injection (config fault_rates, issue 11): kinds, determinism, no effect on failure."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError


@pytest.fixture
def bare(world):
    return world


def outcomes(world, calls=60):
    rds = world.client("rds", "eu-west-2", retries=0)
    out = []
    for _ in range(calls):
        try:
            rds.describe_db_instances()
            out.append("ok")
        except ClientError as exc:
            out.append(exc.response["Error"]["Code"])
        except ConnectionClosedError:
            out.append("reset")
    return out


def test_a_rate_is_seeded_and_repeatable_and_counted(bare):
    bare.fault_rate(0.3, "rds", kinds=["throttle", "500", "503", "reset"], seed=7)
    first = outcomes(bare)
    bare.fault_rate(0.3, "rds", kinds=["throttle", "500", "503", "reset"], seed=7)  # same seed: same sequence
    assert outcomes(bare) == first
    failed = [o for o in first if o != "ok"]
    assert 8 <= len(failed) <= 30, first  # about 30 % of 60
    assert set(failed) <= {"Throttling", "RequestLimitExceeded", "InternalFailure", "ServiceUnavailable", "reset"}
    assert len(set(failed)) >= 3, failed
    bare.fault_rate(0.3, "rds", kinds=["throttle", "500", "503", "reset"], seed=8)
    assert outcomes(bare) != first
    injected = bare.calls()["injected"]["rds:DescribeDBInstances"]
    assert sum(injected.values()) >= 8 and set(injected) <= {"throttle", "500", "503", "reset"}


def test_selectors_and_regions(bare):
    bare.fault_rate(1.0, "rds:DescribeDBInstances", kinds=["503"], region="eu-west-1")
    assert outcomes(bare, 3) == ["ok"] * 3  # another region
    bare.fault_rate(1.0, "s3", kinds=["503"])
    assert outcomes(bare, 3) == ["ok"] * 3  # another service
    bare.fault_rate(1.0, "*", kinds=["throttle"])
    assert set(outcomes(bare, 5)) <= {"Throttling", "RequestLimitExceeded"}
    bare.fault_rate(0, "*")
    bare.fault_rate(0, "s3")
    bare.fault_rate(0, "rds:DescribeDBInstances")
    assert outcomes(bare, 3) == ["ok"] * 3


def test_slow_calls_answer_late_and_a_failed_call_changed_nothing(bare):
    bare.fault_rate(1.0, "ssm", kinds=["slow"], slow_ms=300)
    ssm = bare.client("ssm", "eu-west-2", retries=0)
    started = time.monotonic()
    ssm.put_parameter(Name="/slow", Value="x", Type="String")
    assert time.monotonic() - started >= 0.3
    bare.fault_rate(1.0, "ssm", kinds=["reset", "503"], seed=3)
    quick = bare.client("ssm", "eu-west-2", retries=0)
    for value in ("a", "b", "c"):
        with pytest.raises((ClientError, ConnectionClosedError)):
            quick.put_parameter(Name="/slow", Value=value, Type="String", Overwrite=True)
    bare.fault_rate(0, "ssm")
    assert quick.get_parameter(Name="/slow")["Parameter"]["Value"] == "x"


def test_a_lost_answer_is_served_then_lost(bare):
    """kind "lost" (named only) and the one-off fault {"lost": true}: the call changes the world, its client
    gets a reset instead of the answer; counted as injected, not as an error."""
    ssm = bare.client("ssm", "eu-west-2", retries=0)
    bare.fault("ssm:PutParameter", lost=True)
    with pytest.raises(ConnectionClosedError):
        ssm.put_parameter(Name="/lost", Value="x", Type="String")
    assert ssm.get_parameter(Name="/lost")["Parameter"]["Value"] == "x"  # served
    calls = bare.calls()
    assert calls["injected"] == {"ssm:PutParameter": {"lost": 1}} and "ssm:PutParameter" not in calls["errors"]
    ssm.put_parameter(Name="/lost", Value="y", Type="String", Overwrite=True)  # used up: answered again
    bare.fault_rate(1.0, "ssm:DeleteParameter", kinds=["lost"])
    with pytest.raises(ConnectionClosedError):
        ssm.delete_parameter(Name="/lost")
    bare.fault_rate(0, "ssm:DeleteParameter")
    with pytest.raises(ClientError, match="ParameterNotFound"):
        ssm.get_parameter(Name="/lost")
    # never drawn unless named: the default kinds are the five that change nothing before they fail
    bare.reset_calls()
    bare.fault_rate(1.0, "ssm", seed=5)
    for n in range(30):
        try:
            ssm.put_parameter(Name="/lost-%d" % n, Value="x", Type="String")
        except (ClientError, ConnectionClosedError):
            pass
    bare.fault_rate(0, "ssm")
    kinds = set(bare.calls()["injected"]["ssm:PutParameter"])
    assert len(kinds) >= 3 and "lost" not in kinds, kinds


def test_bad_specs_are_refused(bare):
    for spec in ({"rate": 2}, {"rate": 0.1, "kinds": ["boom"]}, {"rate": 0.1, "other": 1}, "x"):
        with pytest.raises(Exception, match="400"):
            bare.configure(fault_rates={"*": spec})


def test_a_hung_region_measures_how_long_its_clients_waited(bare):
    """outage_mode timeout: the call hangs until outage_timeout_seconds or until the client gives up;
    calls()["held"] says how long each operation's clients waited (what tests bound)."""
    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    from tests.world.control import _session

    bare.region_down("eu-west-1", mode="timeout", timeout_seconds=30)
    impatient = _session().client("rds", region_name="eu-west-1", endpoint_url=bare.endpoint,
                                  aws_access_key_id="testing", aws_secret_access_key="testing",
                                  config=Config(read_timeout=0.5, connect_timeout=0.5, retries={"total_max_attempts": 1}))
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        impatient.describe_db_instances()
    assert time.monotonic() - started < 2
    time.sleep(0.3)  # the world notices the closed connection within 0.05 s
    held = bare.calls()["held"]["rds:DescribeDBInstances"]
    assert held["count"] == 1 and 0.4 <= held["max_seconds"] < 1.5, held
