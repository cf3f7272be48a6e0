"""elasticache_redis against the embedded AWS world, through the ansible CLI.

The world makes a replication group `creating` for elasticache_create_seconds (no endpoint yet)
and `deleting` for elasticache_delete_seconds before it is gone, so the waits are real.
"""

from __future__ import annotations

import pytest

from .runner import mutating, run_module

GROUP = "lomash-sessions"
TOKEN = "redis-auth-3x4mple-t0ken-not-real"  # a seeded secret: must never reach the output
BASE = {"region": "eu-west-2", "replication_group_id": GROUP, "poll_interval": 0.2, "wait_timeout": 60}
PRESENT = dict(BASE, node_type="cache.r6g.large", engine_version="7.1", num_cache_clusters=2,
               cache_subnet_group="lomash-wood-redis")


@pytest.fixture
def redis_world(world):
    world.configure(elasticache_create_seconds=1, elasticache_delete_seconds=0.5)
    net = world.info["network"]["eu-west-2"]
    ec = world.client("elasticache", "eu-west-2")
    ec.create_cache_subnet_group(CacheSubnetGroupName="lomash-wood-redis", CacheSubnetGroupDescription="standby redis",
                                 SubnetIds=net["subnet_ids"])
    sg = world.client("ec2", "eu-west-2").create_security_group(GroupName="lomash-redis", Description="redis",
                                                                VpcId=net["vpc_id"])["GroupId"]
    world.sg = sg
    world.reset_calls()
    return world


def groups(world):
    return {g["ReplicationGroupId"]: g for g in world.client("elasticache", "eu-west-2").describe_replication_groups()["ReplicationGroups"]}


def create(world, **extra):
    res = run_module("elasticache_redis", dict(PRESENT, **extra))
    assert not res.get("failed"), res.get("msg")
    world.reset_calls()
    return res


def test_present_creates_waits_and_returns_the_primary_endpoint_then_is_idempotent(redis_world):
    world = redis_world
    res = run_module("elasticache_redis", dict(PRESENT, security_group_ids=[world.sg], tags={"Service": "sessions"}))
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and res["status"] == "available"
    assert res["endpoint"]["address"].startswith("master.%s." % GROUP) and res["endpoint"]["port"] == 6379
    [r] = res["results"]
    assert (r["action"], r["outcome"], r["before"]) == ("create", "created", None)
    assert r["after"]["nodes"] == 2 and r["after"]["node_type"] == "cache.r6g.large"
    assert 1.0 <= r["seconds"] < 10  # the world's creating phase was waited out
    assert [t["status"] for t in res["timeline"]] == [None, "creating", "available"]
    assert res["api_calls"]["CreateReplicationGroup"] == 1
    assert res["api_calls"]["DescribeReplicationGroups"] == 1 + res["polls"]
    made = groups(world)[GROUP]
    assert made["MultiAZ"] == "enabled" and made["AutomaticFailover"] == "enabled"
    assert "eu-west-1" not in world.calls()["by_region"]

    world.reset_calls()
    again = run_module("elasticache_redis", dict(PRESENT, security_group_ids=[world.sg], tags={"Service": "sessions"}))
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False and again["results"][0]["outcome"] == "unchanged"
    assert again["endpoint"] == res["endpoint"]
    assert mutating(world.calls()) == {}


def test_check_mode_present_changes_nothing(redis_world):
    res = run_module("elasticache_redis", PRESENT, check=True, diff=True)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True
    assert res["plan"] == [{"name": GROUP, "action": "create", "state": "present"}]
    assert res["results"][0]["outcome"] == "would-create"
    assert "-    lomash-sessions: null" in res["_stdout"]
    assert "+        node_type: cache.r6g.large" in res["_stdout"]
    assert mutating(redis_world.calls()) == {}
    assert groups(redis_world) == {}


def test_absent_deletes_with_a_final_snapshot_and_waits_until_gone(redis_world):
    world = redis_world
    create(world)
    res = run_module("elasticache_redis", dict(BASE, state="absent", final_snapshot_name="lomash-sessions-final"))
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and res["status"] is None and res["endpoint"] is None
    assert res["plan"] == [{"name": GROUP, "action": "delete", "state": "absent", "final_snapshot_name": "lomash-sessions-final"}]
    assert res["results"][0]["outcome"] == "deleted" and res["results"][0]["after"] is None
    assert [t["status"] for t in res["timeline"]] == ["available", "deleting", None]
    assert groups(world) == {}
    snap = world.client("elasticache", "eu-west-2").describe_snapshots(SnapshotName="lomash-sessions-final")["Snapshots"][0]
    assert snap["ReplicationGroupId"] == GROUP
    assert res["api_calls"]["DeleteReplicationGroup"] == 1

    world.reset_calls()
    again = run_module("elasticache_redis", dict(BASE, state="absent", final_snapshot_name="lomash-sessions-final"))
    assert not again.get("failed"), again.get("msg")
    assert again["changed"] is False and again["results"][0]["outcome"] == "unchanged"
    assert mutating(world.calls()) == {}


def test_check_mode_absent_changes_nothing(redis_world):
    create(redis_world)
    res = run_module("elasticache_redis", dict(BASE, state="absent"), check=True, diff=True)
    assert not res.get("failed"), res.get("msg")
    assert res["changed"] is True and res["results"][0]["outcome"] == "would-delete"
    assert mutating(redis_world.calls()) == {}
    assert groups(redis_world)[GROUP]["Status"] == "available"


def test_auth_token_is_never_shown(redis_world):
    args = dict(PRESENT, transit_encryption=True, auth_token=TOKEN)
    res = run_module("elasticache_redis", args, verbosity=3)
    assert not res.get("failed"), res.get("msg")
    assert groups(redis_world)[GROUP]["AuthTokenEnabled"] is True
    again = run_module("elasticache_redis", args, verbosity=3, diff=True)
    assert again["changed"] is False
    for out in (res, again):
        assert TOKEN not in out["_stdout"] and TOKEN not in str(out)


def test_bad_input_is_named_and_nothing_is_created(redis_world):
    # One run per stage of the checks; each names every problem of its stage.
    cases = [
        (dict(PRESENT, cache_subnet_group="lomash-nope", security_group_ids=["sg-0000000000deadbee"]),
         ["cache_subnet_group lomash-nope: no cache subnet group of that name",
          "security_group_ids: no security group sg-0000000000deadbee"]),
        (dict(PRESENT, node_type="r6g.large", auth_token=TOKEN),
         ["node_type 'r6g.large' is not a cache node type", "auth_token needs transit_encryption=true"]),
        (dict(BASE), ["node_type is required with state=present"]),
    ]
    for args, needles in cases:
        res = run_module("elasticache_redis", args)
        assert res.get("failed") is True, res
        for needle in needles:
            assert needle in res["msg"]
        assert TOKEN not in res["_stdout"]
    assert mutating(redis_world.calls()) == {}
    assert groups(redis_world) == {}


def test_an_existing_group_of_another_shape_is_refused_and_left_alone(redis_world):
    create(redis_world)
    res = run_module("elasticache_redis", dict(PRESENT, node_type="cache.r6g.xlarge"))
    assert res.get("failed") is True
    assert "lomash-sessions: exists with node type cache.r6g.large, not cache.r6g.xlarge" in res["msg"]
    assert mutating(redis_world.calls()) == {}


def test_a_final_snapshot_name_taken_refuses_the_delete(redis_world):
    create(redis_world)
    redis_world.client("elasticache", "eu-west-2").create_snapshot(SnapshotName="taken", ReplicationGroupId=GROUP)
    redis_world.reset_calls()
    res = run_module("elasticache_redis", dict(BASE, state="absent", final_snapshot_name="taken"))
    assert res.get("failed") is True
    assert "final_snapshot_name taken: a snapshot of that name exists already" in res["msg"]
    assert mutating(redis_world.calls()) == {}
    assert groups(redis_world)[GROUP]["Status"] == "available"


def test_timeout_says_the_status_then_a_rerun_waits_without_creating_again(redis_world):
    redis_world.configure(elasticache_create_seconds=10)  # still creating when the rerun starts
    res = run_module("elasticache_redis", dict(PRESENT, wait_timeout=1))
    assert res.get("failed") is True
    assert "Timed out after 1 s waiting for 1 of 1 replication group(s): still waiting for lomash-sessions (creating)" in res["msg"]
    redis_world.reset_calls()
    again = run_module("elasticache_redis", PRESENT)
    assert not again.get("failed"), again.get("msg")
    assert (again["results"][0]["action"], again["results"][0]["outcome"]) == ("wait", "created")
    assert again["endpoint"]["address"].startswith("master.")
    assert mutating(redis_world.calls()) == {}
