"""rds_retire_batch's core: targets, the plan (and its refusals), readiness, outcomes, calls."""

from __future__ import annotations

import pytest

from ansible_collections.lomashwood.multiregion.plugins.module_utils import rds_retire as core
from ansible_collections.lomashwood.multiregion.plugins.module_utils.batch import BatchError
from ansible_collections.lomashwood.multiregion.plugins.module_utils.rds_replicas import DB

from fake_aws import fake_client

REGION = "eu-west-2"


def db(name="a", status="available", replicas=(), protected=False, dbi="db-A"):
    return DB(name, status, replicas=tuple(replicas), dbi_resource_id=dbi, deletion_protection=protected)


def snap(name="a-final-x", status="available", instance="a", dbi="db-A"):
    return core.Snapshot(name, status, instance, dbi)


def plan_one(state, delete):
    return core.plan_retirement([core.Target("a", "a-final-x")], {"a": state}, REGION, delete)[0]


@pytest.mark.parametrize("entries, stamp, expected", [
    ([{"name": "a"}], "x", [core.Target("a", "a-final-x")]),
    ([{"name": "a", "final_snapshot_identifier": "Last-A"}], None, [core.Target("a", "last-a")]),  # RDS keeps lower case
    ([{"name": "arn:aws:rds:eu-west-2:1:db:a"}], "2026-03-14", [core.Target("a", "a-final-2026-03-14")]),
])
def test_normalise_targets(entries, stamp, expected):
    assert core.normalise_targets(entries, REGION, stamp) == expected


@pytest.mark.parametrize("entries, stamp, named", [
    ([], "x", "instances is empty"),
    ([{"name": "a"}], None, "a: no final_snapshot_identifier, and no snapshot_stamp"),
    ([{"name": "a"}], "x_y", "snapshot_stamp 'x_y' is not letters, digits and single hyphens"),
    ([{"name": "a", "final_snapshot_identifier": "1bad"}], None, "a: '1bad' is not a valid DB snapshot identifier"),
    ([{"name": "a--b"}], "x", "'a--b' is not a valid DB instance identifier"),
    ([{"name": "arn:aws:rds:eu-west-1:1:db:a"}], "x", "is in region eu-west-1, not eu-west-2"),
    ([{"name": "a"}, {"name": "a", "final_snapshot_identifier": "s"}], "x", "duplicate DB instance identifiers: a"),
    ([{"name": "a", "final_snapshot_identifier": "s"}, {"name": "b", "final_snapshot_identifier": "S"}], None,
     "duplicate final snapshot identifiers: s"),
])
def test_normalise_targets_names_the_bad_value(entries, stamp, named):
    with pytest.raises(BatchError) as err:
        core.normalise_targets(entries, REGION, stamp)
    assert named in str(err.value)


@pytest.mark.parametrize("state, delete, action", [
    (core.RetireState(db(), None), False, "snapshot"),
    (core.RetireState(db(), snap()), False, "none"),
    (core.RetireState(db(), snap(status="creating")), False, "wait"),
    (core.RetireState(db(), None), True, "snapshot-and-delete"),
    (core.RetireState(db(), snap()), True, "delete"),  # the final snapshot is there: delete without another
    (core.RetireState(None, snap()), True, "none"),
    (core.RetireState(None, snap()), False, "none"),
    (core.RetireState(None, None), True, "none"),  # gone without it: nothing can be done
    (core.RetireState(db(status="deleting"), snap(status="creating")), True, "wait"),
    (core.RetireState(None, snap(status="creating")), True, "wait"),
])
def test_plan(state, delete, action):
    step = plan_one(state, delete)
    assert step.action == action and step.changed is (action in ("snapshot", "snapshot-and-delete", "delete"))


@pytest.mark.parametrize("state, delete, named", [
    (core.RetireState(db(replicas=["arn:aws:rds:eu-west-1:1:db:r"]), None), True,
     "a: still the source of read replica(s) arn:aws:rds:eu-west-1:1:db:r; refusing to delete it"),
    (core.RetireState(db(protected=True), None), True, "a: has deletion protection on"),
    (core.RetireState(db(status="modifying"), None), True, "a: is modifying, not available"),
    (core.RetireState(db(status="modifying"), None), False, "a: is modifying, not available; no snapshot can be taken"),
    (core.RetireState(db(), snap(status="creating")), True, "final snapshot a-final-x is still creating; run again"),
    (core.RetireState(db(), snap(instance="b")), False, "snapshot a-final-x already exists but is of another instance (b"),
    (core.RetireState(db(), snap(dbi="db-OLD")), True, "already exists but is of another instance (a, db-OLD)"),
    (core.RetireState(None, snap(instance="b")), True, "is of another instance"),
])
def test_plan_refuses_naming_the_instance(state, delete, named):
    with pytest.raises(BatchError) as err:
        plan_one(state, delete)
    assert named in str(err.value)


def test_a_source_of_replicas_may_still_be_snapshotted():
    assert plan_one(core.RetireState(db(replicas=["r"]), None), False).action == "snapshot"


def test_every_reason_not_to_delete_is_named():
    with pytest.raises(BatchError) as err:
        plan_one(core.RetireState(db(replicas=["r"], protected=True, status="backing-up"), None), True)
    assert len(err.value.problems) == 3


@pytest.mark.parametrize("action, delete, state, done", [
    ("snapshot", False, core.RetireState(db(), snap()), True),
    ("snapshot", False, core.RetireState(db(), snap(status="creating")), False),
    ("snapshot-and-delete", True, core.RetireState(None, snap()), True),
    ("snapshot-and-delete", True, core.RetireState(db(status="deleting"), snap()), False),
    ("snapshot-and-delete", True, core.RetireState(None, snap(status="creating")), False),
    ("none", True, core.RetireState(None, None), True),  # gone before the run
    ("snapshot-and-delete", True, core.RetireState(None, None), False),  # the snapshot it asked for is missing
])
def test_is_done(action, delete, state, done):
    assert core.is_done(core.Step("a", "a-final-x", action, delete), state) is done


@pytest.mark.parametrize("action, delete, before, after, check, expected", [
    ("snapshot", False, core.RetireState(db()), core.RetireState(db(), snap()), False, "snapshotted"),
    ("none", False, core.RetireState(db(), snap()), core.RetireState(db(), snap()), False, "kept"),
    ("snapshot-and-delete", True, core.RetireState(db()), core.RetireState(None, snap()), False, "deleted"),
    ("none", True, core.RetireState(None, snap()), core.RetireState(None, snap()), False, "retired"),
    ("none", False, core.RetireState(None, snap()), core.RetireState(None, snap()), False, "retired"),
    ("none", True, core.RetireState(), core.RetireState(), False, "absent"),
    ("snapshot-and-delete", True, core.RetireState(db()), core.RetireState(), True, "would-delete"),
    ("snapshot", False, core.RetireState(db()), core.RetireState(db(), snap()), True, "would-snapshot"),
])
def test_outcome(action, delete, before, after, check, expected):
    step = core.Step("a", "a-final-x", action, delete)
    assert core.outcome(step, before, after, True, False, check) == expected


def test_calls_per_action():
    rds = fake_client("rds", create_db_snapshot=lambda **kw: {}, delete_db_instance=lambda **kw: {})
    plan = [core.Step("a", "a-final-x", "snapshot", False), core.Step("b", "b-final-x", "snapshot-and-delete", True),
            core.Step("c", "c-final-x", "delete", True), core.Step("d", "d-final-x", "none", True)]
    assert core.start_retirements(rds, plan, 4) == {}
    sent = sorted((name, params["DBInstanceIdentifier"], params.get("FinalDBSnapshotIdentifier"), params.get("SkipFinalSnapshot"))
                  for name, params in rds.calls)
    assert sent == [("create_db_snapshot", "a", None, None), ("delete_db_instance", "b", "b-final-x", None),
                    ("delete_db_instance", "c", None, True)]
    assert all(p.get("DeleteAutomatedBackups") in (None, False) for _n, p in rds.calls)


@pytest.mark.parametrize("left,failed", [
    ([], False),
    ([{"DBInstanceIdentifier": "b", "DBInstanceStatus": "deleting"}], False),
    ([{"DBInstanceIdentifier": "b", "DBInstanceStatus": "available"}], True),
])
def test_a_delete_whose_answer_was_lost_is_judged_by_what_is_left(left, failed):
    # The emulator once answered a DeleteDBInstance that it had carried out with a 500 (and its retry found no instance).
    def delete(**kw):
        raise RuntimeError("500 Internal Server Error")
    rds = fake_client("rds", delete_db_instance=delete, describe_db_instances=lambda **kw: {"DBInstances": left})
    errors = core.start_retirements(rds, [core.Step("b", "b-final-x", "snapshot-and-delete", True)], 4)
    assert (list(errors) == ["b"]) is failed and "500" in str(errors.get("b", "500"))


def test_observe_is_one_describe_of_each_kind():
    instance = {"DBInstanceIdentifier": "a", "DBInstanceStatus": "available", "DbiResourceId": "db-A"}
    snapshot = {"DBSnapshotIdentifier": "a-final-x", "Status": "available", "DBInstanceIdentifier": "a", "DbiResourceId": "db-A"}
    rds = fake_client("rds", describe_db_instances=lambda **kw: {"DBInstances": [instance]},
                      describe_db_snapshots=lambda **kw: {"DBSnapshots": [snapshot]})
    targets = [core.Target("a", "a-final-x"), core.Target("b", "b-final-x")]
    states = core.observe(rds, targets)
    assert [c[0] for c in rds.calls] == ["describe_db_instances", "describe_db_snapshots"]
    assert rds.calls[1][1]["Filters"] == [{"Name": "db-snapshot-id", "Values": ["a-final-x", "b-final-x"]}]
    assert states["a"].snapshot.status == "available" and states["b"] == core.RetireState()
