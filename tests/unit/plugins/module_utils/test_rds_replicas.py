"""rds_replica_batch's core: requests, the plan (and its refusals), readiness, create calls."""

from __future__ import annotations

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_replicas as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError
from ansible_collections.lomashwood.multiregion.plugins.module_utils.rds_promotion import PROMOTED_FROM_TAG

from fake_aws import fake_client

REGION = "eu-west-1"
ARN = "arn:aws:rds:eu-west-2:123456789012:db:%s"


def source(name="lomash-auth-prod-replica", status="available", replica_of=None, encrypted=False, backups=7):
    return core.DB(name, status, replica_of, ARN % name, "db.r6g.large", storage_encrypted=encrypted,
                   backup_retention_period=backups)


def request(name="lomash-auth-prod", src="lomash-auth-prod-replica", **kw):
    return core.ReplicaRequest(name, src, "eu-west-2", **kw)


def sources(*dbs):
    return {("eu-west-2", db.name): db for db in dbs}


@pytest.mark.parametrize("entries, defaults, expected", [
    ([{"name": "a", "source": "s"}], {"source_region": "eu-west-2"},
     [core.ReplicaRequest("a", "s", "eu-west-2")]),
    # An ARN gives the source region; entry options win over module-wide ones; tags merge.
    ([{"name": "a", "source": ARN % "s", "instance_class": "db.r6g.large", "tags": {"x": "1"}}],
     {"instance_class": "db.t3.medium", "kms_key_id": "k", "tags": {"y": "2"}, "multi_az": None},
     [core.ReplicaRequest("a", "s", "eu-west-2", "db.r6g.large", kms_key_id="k", tags=(("x", "1"), ("y", "2")))]),
    # An entry's None (left unset) does not hide the module-wide value.
    ([{"name": "a", "source": "s", "kms_key_id": None}], {"source_region": "eu-west-2", "kms_key_id": "k"},
     [core.ReplicaRequest("a", "s", "eu-west-2", kms_key_id="k")]),
])
def test_normalise_requests(entries, defaults, expected):
    assert core.normalise_requests(entries, REGION, defaults) == expected


@pytest.mark.parametrize("entries, defaults, named", [
    ([], {}, "replicas is empty"),
    ([{"name": "a"}], {}, "a: source is missing"),
    ([{"name": "a", "source": "s"}], {}, "a: source_region is missing (the region of source s)"),
    ([{"name": "a", "source": "s", "source_region": "eu-west-1"}], {}, "a: source s is in eu-west-1, the region the replica"),
    ([{"name": "a", "source": ARN % "s", "source_region": "us-east-1"}], {}, "is in region eu-west-2, not source_region us-east-1"),
    ([{"name": "a--b", "source": "s"}], {"source_region": "eu-west-2"}, "'a--b' is not a valid DB instance identifier"),
    ([{"name": "a", "source": "s_1"}], {"source_region": "eu-west-2"}, "a: source 's_1' is not a valid"),
    ([{"name": "a", "source": "s", "instance_class": "r6g.large"}], {"source_region": "eu-west-2"}, "instance_class 'r6g.large'"),
    ([{"name": "a", "source": "s"}, {"name": "a", "source": "t"}], {"source_region": "eu-west-2"}, "duplicate replica names: a"),
])
def test_normalise_requests_names_the_bad_value(entries, defaults, named):
    with pytest.raises(BatchError) as err:
        core.normalise_requests(entries, REGION, defaults)
    assert named in str(err.value)


def test_normalise_requests_names_every_problem_at_once():
    with pytest.raises(BatchError) as err:
        core.normalise_requests([{"name": "a"}, {"name": "b", "source": "s"}], REGION)
    assert len(err.value.problems) == 2


def test_plan_creates_missing_and_leaves_existing_replicas_alone():
    reqs = [request(), request("lomash-orders-prod", "lomash-orders-prod-replica"), request("lomash-x", "lomash-x-src")]
    existing = core.DB("lomash-orders-prod", "available", ARN % "lomash-orders-prod-replica")
    creating = core.DB("lomash-x", "creating", ARN % "lomash-x-src")
    targets = {"lomash-orders-prod": core.ReplicaState(existing, 0.0), "lomash-x": core.ReplicaState(creating)}
    srcs = sources(source(), source("lomash-orders-prod-replica"), source("lomash-x-src"))
    plan = core.plan_replicas(reqs, targets, srcs, REGION)
    assert [(a.name, a.action, a.changed) for a in plan] == [
        ("lomash-auth-prod", "create", True), ("lomash-orders-prod", "none", False), ("lomash-x", "wait", False)]
    assert plan[0].source_arn == ARN % "lomash-auth-prod-replica"


def test_plan_knows_a_replica_promoted_since():
    promoted = core.DB("lomash-auth-prod", "available", None, tags={PROMOTED_FROM_TAG: ARN % "lomash-auth-prod-replica"})
    plan = core.plan_replicas([request()], {"lomash-auth-prod": core.ReplicaState(promoted)}, sources(source()), REGION)
    assert [(a.action, a.changed) for a in plan] == [("none", False)]
    assert core.is_done(plan[0], core.ReplicaState(promoted), 30)
    assert core.outcome(plan[0], None, True, False, False) == "promoted-since"


@pytest.mark.parametrize("target, src, req, named", [
    (core.DB("lomash-auth-prod", "available"), source(), request(),
     "lomash-auth-prod: already exists in eu-west-1 and is not a read replica of lomash-auth-prod-replica in eu-west-2 "
     "(it is a standalone instance, available)"),
    (core.DB("lomash-auth-prod", "available", ARN % "other"), source(), request(), "(it is a read replica of " + ARN % "other"),
    (None, None, request(), "lomash-auth-prod: source lomash-auth-prod-replica not found in eu-west-2"),
    (None, source(replica_of="arn:aws:rds:eu-west-1:1:db:x"), request(), "is itself a read replica (of arn:aws:rds:eu-west-1:1:db:x)"),
    (None, source(status="modifying"), request(), "source lomash-auth-prod-replica in eu-west-2 is modifying, not available"),
    (None, source(backups=0), request(), "has automated backups off"),
    (None, source(encrypted=True), request(), "is encrypted; a cross-region replica needs kms_key_id (a KMS key in eu-west-1)"),
    (None, source(), request(db_subnet_group_name="nowhere"), "db_subnet_group_name nowhere not found in eu-west-1"),
])
def test_plan_refuses_naming_the_replica(target, src, req, named):
    targets = {req.name: core.ReplicaState(target)} if target else {}
    with pytest.raises(BatchError) as err:
        core.plan_replicas([req], targets, sources(src) if src else {}, REGION, missing_subnet_groups={"nowhere"})
    assert named in str(err.value)


def test_an_encrypted_source_with_a_key_is_fine():
    plan = core.plan_replicas([request(kms_key_id="alias/rds")], {}, sources(source(encrypted=True)), REGION)
    assert plan[0].action == "create"


@pytest.mark.parametrize("db, lag, done", [
    (core.DB("r", "available", ARN % "s"), 3.0, True),
    (core.DB("r", "available", ARN % "s"), 30.0, True),
    (core.DB("r", "available", ARN % "s"), 31.0, False),
    (core.DB("r", "available", ARN % "s"), None, False),  # no datapoint yet: not known to be in sync
    (core.DB("r", "creating", ARN % "s"), 0.0, False),
    (core.DB("r", "available", ARN % "other"), 0.0, False),
    (core.DB("r", "available", None), 0.0, False),
    (None, None, False),
])
def test_in_sync(db, lag, done):
    assert core.is_in_sync(core.ReplicaState(db, lag), ARN % "s", "s", 30) is done


def test_progress_says_how_far_it_got():
    assert core.progress(None, 30) == "not found"
    assert core.progress(core.ReplicaState(core.DB("r", "creating")), 30) == "creating"
    assert core.progress(core.ReplicaState(core.DB("r", "available", "s")), 30) == "available, no ReplicaLag datapoint yet"
    assert core.progress(core.ReplicaState(core.DB("r", "available", "s"), 45.0), 30) == "available, ReplicaLag 45 s > 30 s"


def test_create_sends_the_source_arn_region_and_options_and_tags_the_source():
    rds = fake_client("rds", create_db_instance_read_replica=lambda **kw: {"DBInstance": {"DBInstanceIdentifier": kw["DBInstanceIdentifier"]}})
    reqs = [request(kms_key_id="k", db_subnet_group_name="g", vpc_security_group_ids=("sg-1",), tags=(("Service", "auth"),)),
            request("lomash-b", "lomash-b-src")]
    plan = core.plan_replicas(reqs, {}, sources(source(), source("lomash-b-src")), REGION)
    assert core.start_creations(rds, plan, 4) == {}
    sent = {c[1]["DBInstanceIdentifier"]: c[1] for c in rds.calls}
    auth = sent["lomash-auth-prod"]
    assert auth["SourceDBInstanceIdentifier"] == ARN % "lomash-auth-prod-replica"
    assert (auth["DBInstanceClass"], auth["KmsKeyId"], auth["DBSubnetGroupName"], auth["VpcSecurityGroupIds"]) == (
        "db.t3.medium", "k", "g", ["sg-1"])
    assert {"Key": core.REPLICA_OF_TAG, "Value": ARN % "lomash-auth-prod-replica"} in auth["Tags"]
    assert {"Key": "Service", "Value": "auth"} in auth["Tags"]
    assert "KmsKeyId" not in sent["lomash-b"] and "DBSubnetGroupName" not in sent["lomash-b"]


def test_one_failed_create_does_not_stop_the_others():
    def create(**kw):
        if kw["DBInstanceIdentifier"] == "lomash-b":
            raise ValueError("quota")
        return {"DBInstance": {}}
    rds = fake_client("rds", create_db_instance_read_replica=create)
    plan = core.plan_replicas([request(), request("lomash-b", "lomash-b-src")], {}, sources(source(), source("lomash-b-src")), REGION)
    failures = core.start_creations(rds, plan, 2)
    assert list(failures) == ["lomash-b"] and len(rds.calls) == 2


def test_observe_targets_is_one_describe_and_one_lag_read_for_the_batch():
    names = ["r%d" % i for i in range(8)]
    rds = fake_client("rds", describe_db_instances=lambda **kw: {"DBInstances": [
        {"DBInstanceIdentifier": n, "DBInstanceStatus": "available" if i % 2 else "creating",
         "ReadReplicaSourceDBInstanceIdentifier": ARN % "s"} for i, n in enumerate(names)]})
    cw = fake_client("cloudwatch", get_metric_data=lambda **kw: {"MetricDataResults": []})
    states = core.observe_targets(rds, cw, names + ["missing"], 300)
    assert len(rds.calls) == 1 and rds.calls[0][1]["Filters"][0]["Values"] == sorted(names + ["missing"])
    assert len(cw.calls) == 1 and len(cw.calls[0][1]["MetricDataQueries"]) == 4  # the available ones only
    assert states["missing"].db is None and states["r1"].db.status == "available"


def test_simulate_predicts_the_new_replicas():
    plan = core.plan_replicas([request()], {}, sources(source()), REGION)
    end = core.simulate(plan, {}, REGION)
    assert end["lomash-auth-prod"].db.summary() == {
        "status": "available", "read_replica_source": ARN % "lomash-auth-prod-replica", "instance_class": "db.t3.medium",
        "address": None, "port": None}
