"""failover_lock against the embedded world (SSM in the standby region)."""

from __future__ import annotations

from .runner import run_module

LOCK = {"region": "eu-west-2", "name": "/lomashwood/test/lock"}


def held(world):
    ssm = world.client("ssm", "eu-west-2")
    try:
        return ssm.get_parameter(Name=LOCK["name"])["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def test_check_take_resume_refuse_release(world):
    # check mode: would take it, takes nothing
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1"), check=True)
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "acquire")
    assert held(world) is None

    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", purpose="eu-west-1 outage"))
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "acquire")
    assert '"holder": "failover:INC-1"' in held(world)

    # the same holder again is a resumed run: no change
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1"))
    assert (res["failed"], res["changed"]) == (False, False)

    # anyone else is refused and told who holds it; the lock is untouched
    res = run_module("failover_lock", dict(LOCK, holder="failback:INC-2"))
    assert res["failed"] is True
    assert "held by 'failover:INC-1'" in res["msg"] and "eu-west-1 outage" in res["msg"]
    assert '"holder": "failover:INC-1"' in held(world)

    res = run_module("failover_lock", dict(LOCK, holder="failback:INC-2", state="absent"))
    assert res["failed"] is True and "not releasing" in res["msg"]

    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", state="absent"))
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "release")
    assert held(world) is None

    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-1", state="absent"))
    assert (res["failed"], res["changed"]) == (False, False)


def test_force_takes_over_a_dead_runs_lock(world):
    run_module("failover_lock", dict(LOCK, holder="failover:INC-1"))
    res = run_module("failover_lock", dict(LOCK, holder="failover:INC-9", force=True))
    assert (res["failed"], res["changed"], res["action"]) == (False, True, "takeover")
    assert res["previous"]["holder"] == "failover:INC-1"
    assert '"holder": "failover:INC-9"' in held(world)


def test_empty_holder_is_refused(world):
    res = run_module("failover_lock", dict(LOCK, holder="  "))
    assert res["failed"] is True and "holder must not be empty" in res["msg"]
    assert held(world) is None
