from datetime import datetime, timezone

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_promotion as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError

from fake_aws import fake_client

REGION = "eu-west-2"
SRC = "arn:aws:rds:eu-west-1:123456789012:db:lomash-%s-prod"


def replica(svc, status="available", promoted=False, lag_tag=None):
    name = "lomash-%s-prod-replica" % svc
    tags = {}
    if promoted is not False:
        tags[core.PROMOTED_FROM_TAG] = SRC % svc
        if lag_tag is not None:
            tags[core.PROMOTED_LAG_TAG] = str(lag_tag)
    source = None if promoted == "done" else SRC % svc
    return core.Instance(name, status, source, "arn:aws:rds:eu-west-2:123456789012:db:" + name,
                         name + ".eu-west-2.rds.amazonaws.com", 5432, tags)


def world(*instances):
    return {i.name: i for i in instances}


@pytest.mark.parametrize("given, expected", [
    (["lomash-auth-prod-replica"], ["lomash-auth-prod-replica"]),
    (["arn:aws:rds:eu-west-2:123456789012:db:lomash-auth-prod-replica"], ["lomash-auth-prod-replica"]),
    ([" lomash-a "], ["lomash-a"]),
])
def test_normalise_identifiers_accepts(given, expected):
    assert core.normalise_identifiers(given, REGION) == expected


@pytest.mark.parametrize("given, named", [
    ([], "is empty"),
    (["a-1", "b", "a-1"], "duplicate DB instance identifiers: a-1"),
    (["bad--name"], "'bad--name' is not a valid"),
    (["1starts-with-digit"], "'1starts-with-digit' is not a valid"),
    (["ends-with-"], "'ends-with-' is not a valid"),
    (["x" * 64], "is not a valid"),
    (["arn:aws:rds:eu-west-1:123456789012:db:lomash-auth-prod"], "lomash-auth-prod is in region eu-west-1, not eu-west-2"),
])
def test_normalise_identifiers_names_the_bad_value(given, named):
    with pytest.raises(BatchError) as err:
        core.normalise_identifiers(given, REGION)
    assert named in str(err.value)


def test_plan_promotes_every_replica_within_rpo():
    obs = world(replica("auth"), replica("orders"))
    plan = core.plan_promotion(list(obs), obs, {n: 4.0 for n in obs}, REGION)
    assert [(a.name, a.action, a.lag_seconds) for a in plan] == [
        ("lomash-auth-prod-replica", "promote", 4.0), ("lomash-orders-prod-replica", "promote", 4.0)]
    assert plan[0].arn.endswith(":db:lomash-auth-prod-replica")


def test_plan_refuses_whole_batch_on_one_lagging_replica_and_names_it():
    obs = world(replica("auth"), replica("orders"), replica("content"))
    lags = {"lomash-auth-prod-replica": 3, "lomash-orders-prod-replica": 120, "lomash-content-prod-replica": None}
    with pytest.raises(BatchError) as err:
        core.plan_promotion(list(obs), obs, lags, REGION, max_lag_seconds=30)
    msg = str(err.value)
    assert "lomash-orders-prod-replica (120 s)" in msg
    assert "no recent ReplicaLag datapoint for: lomash-content-prod-replica" in msg
    assert "lomash-auth-prod-replica" not in msg


def test_force_skips_the_rpo_gate_but_keeps_the_lag():
    obs = world(replica("orders"), replica("content"))
    lags = {"lomash-orders-prod-replica": 120, "lomash-content-prod-replica": None}
    plan = core.plan_promotion(list(obs), obs, lags, REGION, force=True)
    assert [(a.action, a.lag_seconds) for a in plan] == [("promote", 120), ("promote", None)]


@pytest.mark.parametrize("inst, action, lag", [
    (replica("auth", promoted="done", lag_tag=4), "none", 4.0),        # promoted by an earlier run
    (replica("auth", status="modifying", promoted=True), "wait", None),  # promotion under way
    (replica("auth", promoted=True, lag_tag=2), "promote", 2.0),       # marked, promote never landed
    (replica("auth", status="backing-up", promoted="done"), "wait", None),  # promoted, not yet available
])
def test_plan_resumes_without_promoting_twice(inst, action, lag):
    plan = core.plan_promotion([inst.name], {inst.name: inst}, {}, REGION)
    assert [(a.action, a.lag_seconds) for a in plan] == [(action, lag)]


def test_plan_errors_name_every_bad_value_at_once():
    primary = core.Instance("lomash-auth-prod", "available")
    busy = replica("orders", status="storage-optimization")
    obs = world(primary, busy)
    names = ["lomash-auth-prod", "lomash-orders-prod-replica", "lomash-ghost-prod-replica"]
    with pytest.raises(BatchError) as err:
        core.plan_promotion(names, obs, {}, REGION)
    problems = err.value.problems
    assert "lomash-auth-prod: is not a read replica" in problems[0]
    assert "lomash-orders-prod-replica: replica is storage-optimization" in problems[1]
    assert problems[2] == "lomash-ghost-prod-replica: no DB instance of that name in eu-west-2"


def test_plan_refuses_replica_of_another_source_region():
    inst = replica("auth")
    with pytest.raises(BatchError, match="replicates from eu-west-1, not from source_region us-east-1"):
        core.plan_promotion([inst.name], {inst.name: inst}, {inst.name: 1}, REGION, source_region="us-east-1")


def test_select_replicas_by_source_region_and_tags():
    a = replica("auth")
    b = core.Instance("other-replica", "available", "arn:aws:rds:us-east-1:1:db:x", tags={"Service": "x"})
    c = replica("orders", promoted="done")
    primary = core.Instance("lomash-auth-prod", "available")
    insts = [a, b, c, primary]
    assert core.select_replicas(insts, "eu-west-1") == ["lomash-auth-prod-replica", "lomash-orders-prod-replica"]
    assert core.select_replicas(insts, tags={"Service": "x"}) == ["other-replica"]
    with pytest.raises(BatchError, match="no read replicas match source_region=ap-south-1"):
        core.select_replicas(insts, "ap-south-1")


def test_instance_from_api_and_readiness():
    desc = {"DBInstanceIdentifier": "r", "DBInstanceStatus": "modifying", "DBInstanceArn": "arn:x",
            "ReadReplicaSourceDBInstanceIdentifier": SRC % "auth",
            "Endpoint": {"Address": "r.example", "Port": 5432}, "TagList": [{"Key": "k", "Value": "v"}]}
    inst = core.Instance.from_api(desc)
    assert (inst.is_replica, inst.address, inst.port, inst.tags) == (True, "r.example", 5432, {"k": "v"})
    assert not core.is_promoted(inst)
    promoted = dict(desc, DBInstanceStatus="available", ReadReplicaSourceDBInstanceIdentifier=None)
    assert core.is_promoted(core.Instance.from_api(promoted))
    assert not core.is_promoted(None)


def fake_cloudwatch(series):
    def get_metric_data(MetricDataQueries, **_kwargs):
        results = []
        for q in MetricDataQueries:
            name = q["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
            points = series.get(name, [])
            results.append({"Id": q["Id"], "Timestamps": [t for t, v in points], "Values": [v for t, v in points]})
        return {"MetricDataResults": results}
    return fake_client("cloudwatch", get_metric_data=get_metric_data)


def test_read_replica_lag_takes_latest_point_in_one_call():
    def t(minute):
        return datetime(2026, 11, 26, 4, minute, tzinfo=timezone.utc)

    cw = fake_cloudwatch({"a": [(t(1), 50.0), (t(3), 2.0)], "b": []})
    names = ["a", "b"] + ["r%d" % i for i in range(98)]
    lags = core.read_replica_lag(cw, names, 300, now=t(4))
    assert lags["a"] == 2.0 and lags["b"] is None
    assert len(cw.calls) == 1  # 100 replicas, one GetMetricData


def test_read_replica_lag_follows_next_token_and_keeps_the_newest_point():
    def t(minute):
        return datetime(2026, 11, 26, 4, minute, tzinfo=timezone.utc)

    pages = [{"MetricDataResults": [{"Id": "q0", "Timestamps": [t(3)], "Values": [7.0]}], "NextToken": "p2"},
             {"MetricDataResults": [{"Id": "q0", "Timestamps": [t(1)], "Values": [90.0]}]}]
    cw = fake_client("cloudwatch", get_metric_data=lambda **kw: pages[1] if kw.get("NextToken") else pages[0])
    assert core.read_replica_lag(cw, ["a"], 300, now=t(4)) == {"a": 7.0}
    assert [c[1].get("NextToken") for c in cw.calls] == [None, "p2"]


def test_read_replica_lag_chunks_past_500():
    cw = fake_cloudwatch({})
    core.read_replica_lag(cw, ["r%d" % i for i in range(501)], 300)
    assert [len(c[1]["MetricDataQueries"]) for c in cw.calls] == [500, 1]


def fake_rds(count):
    instances = [{"DBInstanceIdentifier": "r%03d" % i, "DBInstanceStatus": "available"} for i in range(count)]

    def describe_db_instances(Filters=None, Marker=None, **_kwargs):
        wanted = set(Filters[0]["Values"]) if Filters else None
        match = [d for d in instances if wanted is None or d["DBInstanceIdentifier"] in wanted]
        start = int(Marker or 0)
        page = {"DBInstances": match[start:start + 100]}
        if start + 100 < len(match):
            page["Marker"] = str(start + 100)
        return page
    rds = fake_client("rds", describe_db_instances=describe_db_instances)
    rds.instances = instances
    return rds


@pytest.mark.parametrize("count, calls", [(8, 1), (100, 1), (101, 2), (250, 3)])
def test_describe_one_call_per_hundred(count, calls):
    rds = fake_rds(count)
    found = core.describe_instances(rds, [d["DBInstanceIdentifier"] for d in rds.instances])
    assert len(found) == count and len(rds.calls) == calls


def test_describe_all_follows_markers():
    rds = fake_rds(230)
    assert len(core.describe_instances(rds)) == 230 and len(rds.calls) == 3
    assert [c[1].get("Marker") for c in rds.calls] == [None, "100", "200"]


@pytest.mark.parametrize("status, source, pending_class, promoted", [
    ("available", None, None, True),
    ("modifying", None, "db.r6g.large", True),  # promoted, its class change (sent after it) under way
    ("modifying", None, None, False),  # still finishing its promotion
    ("modifying", SRC % "auth", "db.r6g.large", False),  # a replica's own class change: not promoted
    ("available", SRC % "auth", None, False),
])
def test_a_class_change_right_after_the_promotion_does_not_hold_its_wait(status, source, pending_class, promoted):
    desc = {"DBInstanceIdentifier": "r", "DBInstanceStatus": status, "ReadReplicaSourceDBInstanceIdentifier": source,
            "PendingModifiedValues": {"DBInstanceClass": pending_class} if pending_class else {}}
    assert core.is_promoted(core.Instance.from_api(desc)) is promoted
