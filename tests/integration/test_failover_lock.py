"""failover_lock against the embedded world (SSM in the standby region)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

from .runner import mutating, run_module

LOCK = {"region": "eu-west-2", "name": "/lomashwood/test/lock"}


def ssm(world):
    return world.client("ssm", "eu-west-2")


def held(world):
    try:
        return json.loads(ssm(world).get_parameter(Name=LOCK["name"])["Parameter"]["Value"])
    except ssm(world).exceptions.ParameterNotFound:
        return None


def plant(world, record):
    """A lock left by another run, written the way the module writes it."""
    value = json.dumps(record)
    ssm(world).put_parameter(Name=LOCK["name"], Value=value, Type="String", Overwrite=True)
    world.reset_calls()
    return value


def stamp(delta_seconds):
    return (datetime.now(timezone.utc) + timedelta(seconds=delta_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_since(stamp_text):
    then = datetime.strptime(stamp_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - then).total_seconds()


DEAD_RUN = {"holder": "failover:INC-0", "owner": "bob", "reason": "drill that crashed",
            "started": stamp(-6 * 3600), "expires_at": stamp(-2 * 3600), "ttl_seconds": 14400}
LIVE_RUN = dict(DEAD_RUN, reason="eu-west-1 outage", started=stamp(-600), expires_at=stamp(3600))


def test_check_take_resume_refuse_release(world):
    # check mode: would take it, takes nothing
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1"), check=True)
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "acquire")
    assert held(world) is None and mutating(world.calls()) == {}

    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", owner="alice", reason="eu-west-1 outage",
                                           ttl_seconds=600))
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "acquire")
    lock = held(world)
    assert (lock["holder"], lock["owner"], lock["reason"], lock["ttl_seconds"]) == (
        "failover:INC-1", "alice", "eu-west-1 outage", 600)
    started = datetime.strptime(lock["started"], "%Y-%m-%dT%H:%M:%SZ")
    assert datetime.strptime(lock["expires_at"], "%Y-%m-%dT%H:%M:%SZ") - started == timedelta(seconds=600)
    assert res["lock"] == lock and res["resumed"] is False and res["api_calls"] == {"GetParameter": 1, "PutParameter": 1}

    # the same holder again is a resumed run: no change, no write
    world.reset_calls()
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1"))
    assert (res["failed"], res["changed"], res["action"], res["resumed"]) == (False, False, "none", True)
    assert mutating(world.calls()) == {}

    # anyone else is refused and told who holds it, whatever the options; the lock is untouched
    for options in ({}, {"break_stale": True}, {"force": True, "break_stale": True}):
        res = run_module("failover_lock", dict(LOCK, holder="failback:INC-2", **options))
        assert res["failed"] is True
        assert "held by 'failover:INC-1' (owner alice; reason: eu-west-1 outage)" in res["msg"]
        assert "live until " + lock["expires_at"] in res["msg"] and "never taken over" in res["msg"]
        assert held(world) == lock

    res = run_module("failover_lock", dict(LOCK, holder="failback:INC-2", state="absent", break_stale=True))
    assert res["failed"] is True and "not releasing" in res["msg"] and held(world) == lock

    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", state="absent"))
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "release")
    assert held(world) is None

    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", state="absent"))
    assert (res["failed"], res["changed"]) == (False, False)


def test_force_no_longer_takes_over_and_says_so(world):
    plant(world, LIVE_RUN)
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", force=True))
    assert res["failed"] is True and "held by 'failover:INC-0' (owner bob" in res["msg"]
    assert "force is ignored" in res["_stdout"]
    assert held(world) == LIVE_RUN and mutating(world.calls()) == {}


def test_a_stale_lock_is_broken_only_on_purpose(world):
    plant(world, DEAD_RUN)
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", reason="outage"))
    assert res["failed"] is True
    assert "held by 'failover:INC-0'" in res["msg"] and "stale: expired at " + DEAD_RUN["expires_at"] in res["msg"]
    assert "break_stale: true" in res["msg"] and held(world) == DEAD_RUN

    # check mode shows what would be broken and writes nothing
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", reason="outage", break_stale=True),
                     check=True, diff=True)
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "break_stale")
    assert res["broken"]["holder"] == "failover:INC-0" and res["lock"]["holder"] == "failover:INC-9"
    # --diff shows the old holder going and the new one coming
    assert "-    holder: failover:INC-0" in res["_stdout"] and "+    holder: failover:INC-9" in res["_stdout"]
    assert held(world) == DEAD_RUN and mutating(world.calls()) == {}

    before = seconds_since(DEAD_RUN["expires_at"])
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", reason="outage", break_stale=True))
    after = seconds_since(DEAD_RUN["expires_at"])
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "break_stale")
    broken = res["broken"]
    assert {k: broken[k] for k in ("holder", "owner", "reason", "started", "expires_at", "expired")} == {
        "holder": "failover:INC-0", "owner": "bob", "reason": "drill that crashed", "started": DEAD_RUN["started"],
        "expires_at": DEAD_RUN["expires_at"], "expired": True}
    # DEAD_RUN is stamped at import: the lock's age is measured against the clock around the run
    assert before - 1 <= broken["expired_seconds_ago"] <= after + 1
    assert held(world)["holder"] == "failover:INC-9" and held(world)["reason"] == "outage"
    # the break token is cleaned up
    assert ssm(world).get_parameters_by_path(Path="/lomashwood/test", Recursive=True)["Parameters"][0]["Name"] == LOCK["name"]
    assert len(ssm(world).get_parameters_by_path(Path="/lomashwood/test", Recursive=True)["Parameters"]) == 1

    # a rerun of the breaker is now a resumed run
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", break_stale=True))
    assert (res["failed"], res["changed"], res["broken"]) == (False, False, {})


def test_two_runs_breaking_the_same_stale_lock_one_wins(world):
    value = plant(world, DEAD_RUN)
    # another run is half-way through breaking this very record: it holds the token
    token = "%s-breaking-%s" % (LOCK["name"], hashlib.sha256(value.encode()).hexdigest()[:16])
    ssm(world).put_parameter(Name=token, Value="breaking", Type="String")
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", break_stale=True))
    assert res["failed"] is True and "another run is breaking the same stale failover lock" in res["msg"]
    assert held(world) == DEAD_RUN


def test_a_stale_lock_of_another_is_cleared_only_on_purpose(world):
    plant(world, DEAD_RUN)
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", state="absent"))
    assert res["failed"] is True and "break_stale: true" in res["msg"] and held(world) == DEAD_RUN
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", state="absent", break_stale=True))
    assert (res["failed"], res["changed"], res["action"], res["lock"]) == (False, True, "break_stale", {})
    assert res["broken"]["holder"] == "failover:INC-0" and held(world) is None


def test_a_resumed_run_renews_its_own_expired_lock(world):
    plant(world, DEAD_RUN)
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-0", ttl_seconds=600))
    assert (res["failed"], res["changed"], res["action"], res["broken"]) == (False, True, "renew", {})
    assert res["resumed"] is True
    lock = held(world)
    assert (lock["started"], lock["owner"], lock["reason"]) == (DEAD_RUN["started"], "bob", "drill that crashed")
    assert lock["expires_at"] > stamp(500)


def test_a_lock_written_before_expiry_existed_is_still_honoured(world):
    plant(world, {"holder": "failover:INC-OLD", "acquired_at": stamp(-60), "purpose": "old run"})
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", break_stale=True))
    assert res["failed"] is True and "held by 'failover:INC-OLD' (owner unknown; reason: old run)" in res["msg"]


def test_bad_input_is_refused(world):
    res = run_module("failover_lock", dict(LOCK, holder="  "))
    assert res["failed"] is True and "holder must not be empty" in res["msg"]
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", ttl_seconds=0))
    assert res["failed"] is True and "ttl_seconds must be more than 0" in res["msg"]
    assert held(world) is None and mutating(world.calls()) == {}


# ---- lost answers (issue 11): a write served by SSM whose answer never came back, so the SDK tried again ----

def test_a_lost_answer_to_taking_the_lock_is_not_taken_for_another_run(world):
    world.fault("ssm:PutParameter", lost=True)
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", owner="alice"))
    # the first PutParameter created the lock; its retry was told it exists, and found its own record there
    assert (res["failed"], res["changed"], res["action"], res["resumed"]) == (False, True, "acquire", False), res["msg"]
    assert world.calls()["injected"] == {"ssm:PutParameter": {"lost": 1}}
    assert world.calls()["by_operation"]["ssm:PutParameter"] == 2 and res["retries"] == {"PutParameter": 1}
    assert held(world) == res["lock"] and res["lock"]["holder"] == "failover:INC-1"
    # ... and anyone else is still refused by it
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-2"))
    assert res["failed"] is True and "held by 'failover:INC-1' (owner alice" in res["msg"]


def test_a_run_that_lost_the_race_is_still_refused(world):
    """The other side of the same check: a record created by another write (even of the same holder) between
    the read and the create is another run's, and refused."""
    value = json.dumps(dict(LIVE_RUN, holder="failover:INC-1", write_id="someone-else"))
    world.configure(faults={"ssm:GetParameter": {"code": "ParameterNotFound", "status": 400, "count": 1,
                                                 "message": "Parameter not found."}})
    ssm(world).put_parameter(Name=LOCK["name"], Value=value, Type="String", Overwrite=True)
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1"))
    assert res["failed"] is True and "lost the race for the failover lock" in res["msg"], res
    assert held(world)["write_id"] == "someone-else"


def test_a_lost_answer_to_releasing_the_lock_still_releases_it(world):
    assert not run_module("failover_lock", dict(LOCK, holder="failover:INC-1"))["failed"]
    world.fault("ssm:DeleteParameter", lost=True)
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", state="absent"))
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "release"), res["msg"]
    assert world.calls()["injected"] == {"ssm:DeleteParameter": {"lost": 1}} and res["retries"] == {"DeleteParameter": 1}
    assert held(world) is None


def test_a_lost_answer_while_breaking_a_stale_lock_still_breaks_it_once(world):
    plant(world, DEAD_RUN)
    world.fault("ssm:PutParameter", lost=True)  # the first write is the create-only break token
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-7", break_stale=True))
    assert (res["failed"], res["action"]) == (False, "break_stale"), res["msg"]
    assert res["broken"]["holder"] == "failover:INC-0" and held(world)["holder"] == "failover:INC-7"
    assert world.calls()["injected"] == {"ssm:PutParameter": {"lost": 1}}
    assert [p["Name"] for p in ssm(world).describe_parameters()["Parameters"]] == [LOCK["name"]]  # the token is gone
